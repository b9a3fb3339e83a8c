"""Model providers: one module per wire protocol (Ollama, OpenAI-compatible)."""

from __future__ import annotations

from portkern.llm.providers.base import ChatReply, Provider, ProviderUnavailable, RetryableError
from portkern.llm.providers.ollama import OllamaProvider
from portkern.llm.providers.openai import OpenAIProvider

__all__ = ["ChatReply", "OllamaProvider", "OpenAIProvider", "Provider", "ProviderUnavailable", "RetryableError"]
