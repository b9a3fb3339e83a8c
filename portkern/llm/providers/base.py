"""What every provider offers: a chat call, a model listing, and its address for messages."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any


@dataclass
class ChatReply:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    model: str = ""                      # model name the server reports


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
    def chat(self, messages: list[dict[str, str]], params: dict[str, Any]) -> ChatReply:
        """One non-streaming chat completion; raises RetryableError or ProviderUnavailable."""

    @abc.abstractmethod
    def list_models(self) -> list[str]:
        """Model names the server can serve; raises RetryableError when it cannot be reached."""

    def start_hint(self) -> str:
        return ""

    def pull_hint(self) -> str:
        return ""

    def close(self) -> None:  # noqa: B027 - most providers hold nothing to release
        """Release connections (default: nothing to release)."""
