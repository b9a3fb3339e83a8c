"""`portkern llm serve-test`: the packaged tiny model served on loopback, used through the printed settings."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from portkern.llm import testserver

pytestmark = [pytest.mark.llmserver, pytest.mark.slow]


def _read_settings(proc: subprocess.Popen, timeout_s: float) -> dict[str, str]:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    settings: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and "PORTKERN_LLM_MODEL" not in settings and proc.poll() is None:
        try:
            line = lines.get(timeout=1.0).strip()
        except queue.Empty:
            continue
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            settings[key] = value
    return settings


def test_serve_test_prints_working_settings(tmp_path):
    why = testserver.missing()
    if why:
        pytest.skip(why)
    env = {**os.environ, "PORTKERN_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "portkern", "llm", "serve-test", "--log", str(tmp_path / "srv.log")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        settings = _read_settings(proc, 240)
        assert settings.get("PORTKERN_LLM_PROVIDER") == "openai", proc.stderr.read() if proc.poll() is not None else ""
        assert settings["PORTKERN_LLM_OPENAI_BASE_URL"].startswith("http://127.0.0.1:")
        status = subprocess.run([sys.executable, "-m", "portkern", "llm", "status", "--json"], capture_output=True,
                                text=True, env={**env, **settings}, cwd=tmp_path, timeout=120)
        assert status.returncode == 0, status.stderr
        assert '"ready": true' in status.stdout
        ask = subprocess.run([sys.executable, "-m", "portkern", "llm", "ask", "Say hello.", "--max-tokens", "8"],
                             capture_output=True, text=True, env={**env, **settings}, cwd=tmp_path, timeout=300)
        assert ask.returncode == 0, ask.stderr
        assert "tokens in" in ask.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.stderr.read()
