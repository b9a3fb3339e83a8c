"""What every provider offers: a chat call, a model listing, and its address for messages."""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class ChatReply:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    model: str = ""                      # model name the server reports
    cut: str = ""                        # why the reply was cut short ("" = it ended by itself)


@dataclass
class Chunk:
    """One piece of a streamed reply; token counts when the server reports them (its last chunk)."""

    text: str = ""
    tokens_in: int | None = None
    tokens_out: int | None = None
    model: str = ""


class RetryableError(Exception):
    """A failure worth retrying: timeout, refused connection, 5xx, 429."""


class ProviderUnavailable(Exception):
    """The server cannot serve this request (wrong URL, unknown model, 4xx): retrying will not help."""


class Provider(abc.ABC):
    name: str = ""

    def __init__(self, url: str, model: str, timeout_s: float, api_key: str = "") -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.timeout_s = timeout_s
        self.api_key = api_key

    @abc.abstractmethod
    def chat(self, messages: list[dict[str, str]], params: dict[str, Any], *,
             time_limit_s: float | None = None) -> ChatReply:
        """One chat completion, streamed and cut at ``time_limit_s`` seconds or ``params["max_tokens"]``
        tokens (what arrived is kept, ``ChatReply.cut`` says why); raises RetryableError or
        ProviderUnavailable when nothing could be asked."""

    @abc.abstractmethod
    def list_models(self) -> list[str]:
        """Model names the server can serve; raises RetryableError when it cannot be reached."""

    def start_hint(self) -> str:
        return ""

    def pull_hint(self) -> str:
        return ""

    def close(self) -> None:  # noqa: B027 - most providers hold nothing to release
        """Release connections (default: nothing to release)."""


def collect_stream(open_stream: Callable[[], Iterator[Chunk]], *, time_limit_s: float | None,
                   max_tokens: int | None, close: Callable[[], None] = lambda: None, model: str = "") -> ChatReply:
    """Read a streamed reply until it ends, text comes past ``max_tokens`` chunks (servers stream about
    one token per chunk; a count the server reports wins), or ``time_limit_s`` passed. The stream is
    read on a helper thread, so a server that goes silent cannot hold the caller past the limit.
    Prompt tokens are those the server reports (llama.cpp's server reports none in a stream: 0)."""
    parts: list[str] = []
    state: dict[str, Any] = {"tokens_in": 0, "tokens_out": 0, "reported_out": None, "model": model,
                             "error": None, "cut": ""}
    stop = threading.Event()
    done = threading.Event()
    lock = threading.Lock()

    def read() -> None:
        try:
            for chunk in open_stream():
                with lock:
                    if stop.is_set():
                        return
                    if chunk.text and max_tokens and state["tokens_out"] >= max_tokens:
                        # More text past the limit the server was sent: it does not stop by itself.
                        state["cut"] = f"token limit ({max_tokens} tokens)"
                        return
                    if chunk.text:
                        parts.append(chunk.text)
                        state["tokens_out"] += 1
                    if chunk.tokens_in is not None:
                        state["tokens_in"] = chunk.tokens_in
                    if chunk.tokens_out is not None:
                        state["reported_out"] = chunk.tokens_out
                    state["model"] = chunk.model or state["model"]
        except Exception as exc:         # noqa: BLE001 - handed to the caller's thread below
            state["error"] = exc
        finally:
            done.set()

    started = time.monotonic()
    worker = threading.Thread(target=read, daemon=True, name="model-stream")
    worker.start()
    finished = done.wait(timeout=time_limit_s)
    with lock:
        stop.set()
        late = time_limit_s is not None and time.monotonic() - started >= time_limit_s
        if not finished or (late and state["error"] is not None):
            state["error"] = None        # a read that timed out at the limit is the limit, not a failure
            state["cut"] = f"time limit ({time_limit_s:.3g} s)"
    if not finished or state["cut"]:
        try:
            close()                      # lets the helper thread end; what arrived is kept
        except Exception:                # noqa: BLE001 - closing a stream that broke is not a failure
            pass
    if state["error"] is not None and not state["cut"]:
        if not parts:
            raise state["error"]
        state["cut"] = f"the stream broke: {state['error']}"
    tokens_out = state["reported_out"] if state["reported_out"] is not None and not state["cut"] else state["tokens_out"]
    return ChatReply(text="".join(parts), tokens_in=state["tokens_in"], tokens_out=tokens_out,
                     model=state["model"], cut=state["cut"])
