"""Any OpenAI-compatible server (vLLM, llama.cpp server, SGLang) over HTTP: /models, /chat/completions."""

from __future__ import annotations

from typing import Any

import httpx

from portkern.llm.providers.base import ChatReply, Provider, ProviderUnavailable, RetryableError


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

    def chat(self, messages: list[dict[str, str]], params: dict[str, Any]) -> ChatReply:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": False}
        for key in ("temperature", "seed", "max_tokens", "top_p", "stop"):
            if params.get(key) is not None:
                body[key] = params[key]
        data = self._request("POST", "/chat/completions", json=body)
        try:
            text = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise ProviderUnavailable(f"{self.url}/chat/completions: no choices[0].message.content "
                                      f"in the reply: {str(data)[:200]}") from exc
        usage = data.get("usage") or {}
        return ChatReply(text=text, tokens_in=int(usage.get("prompt_tokens") or 0),
                         tokens_out=int(usage.get("completion_tokens") or 0), model=data.get("model", self.model))

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
