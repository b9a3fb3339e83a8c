"""Any OpenAI-compatible server (vLLM, llama.cpp server, SGLang) over HTTP: /models, /chat/completions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from portkern.llm.providers.base import (
    ChatReply,
    Chunk,
    Provider,
    ProviderUnavailable,
    RetryableError,
    collect_stream,
)


class OpenAIProvider(Provider):
    name = "openai"

    def __init__(self, url: str, model: str, timeout_s: float, api_key: str = "") -> None:
        super().__init__(url, model, timeout_s, api_key)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, headers=headers)

    def _request(self, method: str, path: str, **kwargs) -> dict[str, Any]:
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:  # connect refused, timeouts, broken connections
            raise RetryableError(f"{self.url}{path}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code == 429 or resp.status_code >= 500:
            raise RetryableError(f"{self.url}{path}: HTTP {resp.status_code}: {resp.text[:300]}")
        if resp.status_code >= 400:
            raise ProviderUnavailable(f"{self.url}{path}: HTTP {resp.status_code}: {resp.text[:300]}")
        try:
            return resp.json()
        except ValueError as exc:
            raise ProviderUnavailable(f"{self.url}{path}: reply is not JSON: {resp.text[:200]!r}") from exc

    def chat(self, messages: list[dict[str, str]], params: dict[str, Any], *,
             time_limit_s: float | None = None) -> ChatReply:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True,
                                "stream_options": {"include_usage": True}}
        for key in ("temperature", "seed", "max_tokens", "top_p", "stop"):
            if params.get(key) is not None:
                body[key] = params[key]
        # A silent server is given up on at the time limit (by collect_stream); the abandoned read ends a
        # second later (after the limit, so the caller sees a cut reply, not a read timeout).
        read_s = min(self.timeout_s, time_limit_s + 1.0) if time_limit_s else self.timeout_s
        opened: list[httpx.Response] = []

        def chunks() -> Iterator[Chunk]:
            path = "/chat/completions"
            try:
                with self._http.stream("POST", path, json=body,
                                       timeout=httpx.Timeout(self.timeout_s, read=read_s)) as resp:
                    opened.append(resp)
                    if resp.status_code >= 400:
                        detail = resp.read().decode("utf-8", "replace")[:300]
                        error = RetryableError if resp.status_code == 429 or resp.status_code >= 500 else \
                            ProviderUnavailable
                        raise error(f"{self.url}{path}: HTTP {resp.status_code}: {detail}")
                    for line in resp.iter_lines():
                        chunk = self._chunk(line, path)
                        if chunk is None:
                            return
                        yield chunk
            except httpx.TransportError as exc:  # connect refused, timeouts, broken connections
                raise RetryableError(f"{self.url}{path}: {type(exc).__name__}: {exc}") from exc

        return collect_stream(chunks, time_limit_s=time_limit_s, max_tokens=params.get("max_tokens"),
                              close=lambda: opened and opened[0].close(), model=self.model)

    def _chunk(self, line: str, path: str) -> Chunk | None:
        """One server-sent event line as a Chunk (empty for keep-alives); None at ``[DONE]``."""
        line = line.strip()
        if not line.startswith("data:"):
            return Chunk()
        payload = line[len("data:"):].strip()
        if payload == "[DONE]":
            return None
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise ProviderUnavailable(f"{self.url}{path}: a streamed event is not JSON: {payload[:200]!r}") from exc
        choices = data.get("choices") or []
        delta = (choices[0].get("delta") or choices[0].get("message") or {}) if choices else {}
        usage = data.get("usage") or {}
        return Chunk(text=delta.get("content") or "",
                     tokens_in=int(usage["prompt_tokens"]) if usage.get("prompt_tokens") is not None else None,
                     tokens_out=int(usage["completion_tokens"]) if usage.get("completion_tokens") is not None else None,
                     model=data.get("model") or "")

    def list_models(self) -> list[str]:
        data = self._request("GET", "/models")
        return [m.get("id", "") for m in data.get("data", []) if isinstance(m, dict)]

    def has_model(self, names: list[str]) -> bool:
        # An empty model name means "whatever the server serves" (single-model servers).
        return not self.model or self.model in names

    def start_hint(self) -> str:
        return "start an OpenAI-compatible server (vLLM, llama.cpp server, SGLang) and set llm.openai_base_url"

    def pull_hint(self) -> str:
        return f"serve the model '{self.model}' from the server at {self.url}"

    def close(self) -> None:
        self._http.close()
