"""Ollama, through the official ``ollama`` Python client (wire format: /api/tags, /api/show, /api/chat)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from portkern.errors import ToolMissingError
from portkern.llm.providers.base import (
    ChatReply,
    Chunk,
    Provider,
    ProviderUnavailable,
    RetryableError,
    collect_stream,
)


def _client_module():
    try:
        import ollama
    except ImportError as exc:  # the `llm` extra is not installed
        raise ToolMissingError("the `ollama` Python package", "the Ollama model provider",
                               "pip install 'portkern[llm]' (or pip install ollama)") from exc
    return ollama


def _same_model(wanted: str, have: str) -> bool:
    # Ollama reports "name:latest" for a model pulled as plain "name".
    def norm(s):
        return (s if ":" in s else f"{s}:latest")
    return norm(wanted) == norm(have)


class OllamaProvider(Provider):
    name = "ollama"

    def __init__(self, url: str, model: str, timeout_s: float, api_key: str = "") -> None:
        super().__init__(url, model, timeout_s, api_key)
        ollama = _client_module()
        self._errors = (ollama.ResponseError,)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        self._client = ollama.Client(host=self.url, timeout=timeout_s, headers=headers)

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            status = getattr(exc, "status_code", -1)
            if status == 429 or status >= 500 or status == -1:
                raise RetryableError(f"ollama at {self.url}: HTTP {status}: {exc}") from exc
            raise ProviderUnavailable(f"ollama at {self.url}: HTTP {status}: {exc}") from exc
        except (ConnectionError, httpx.TransportError) as exc:
            raise RetryableError(f"ollama at {self.url}: {type(exc).__name__}: {exc}") from exc

    def chat(self, messages: list[dict[str, str]], params: dict[str, Any], *,
             time_limit_s: float | None = None) -> ChatReply:
        options = {"temperature": params.get("temperature"), "seed": params.get("seed"),
                   "num_predict": params.get("max_tokens")}
        if params.get("num_ctx"):
            options["num_ctx"] = params["num_ctx"]

        opened: list[Any] = []

        def chunks() -> Iterator[Chunk]:
            stream = self._call(self._client.chat, model=self.model, messages=messages, stream=True,
                                options={k: v for k, v in options.items() if v is not None})
            opened.append(stream)
            while True:
                part = self._call(next, stream, None)
                if part is None:
                    return
                yield Chunk(text=part.message.content or "" if part.message else "",
                            tokens_in=part.prompt_eval_count if part.done else None,
                            tokens_out=part.eval_count if part.done else None, model=part.model or "")

        return collect_stream(chunks, time_limit_s=time_limit_s, max_tokens=params.get("max_tokens"),
                              close=lambda: opened and opened[0].close(), model=self.model)

    def list_models(self) -> list[str]:
        listing = self._call(self._client.list)
        return [m.model for m in listing.models if m.model]

    def has_model(self, names: list[str]) -> bool:
        return any(_same_model(self.model, n) for n in names)

    def show(self) -> dict[str, Any]:
        """Details of the configured model (family, parameter size, quantization) from /api/show."""
        info = self._call(self._client.show, self.model)
        details = info.details.model_dump() if info.details else {}
        return {k: v for k, v in details.items() if v}

    def start_hint(self) -> str:
        return f"start one with `ollama serve` and `ollama pull {self.model}`"

    def pull_hint(self) -> str:
        return f"ollama pull {self.model}"

    def close(self) -> None:
        self._client._client.close()
