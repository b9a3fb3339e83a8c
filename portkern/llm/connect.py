"""From configuration to a working client: choose the provider, probe the server, build the client.

``probe`` never raises for an unreachable server: it says so in one line, with how to start one,
because the pipeline carries on without a model (rules and the parameter sweep still run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portkern.errors import ConfigError, ModelError, ToolMissingError
from portkern.llm.cache import ResponseCache
from portkern.llm.client import LLMClient
from portkern.llm.providers.base import Provider, ProviderUnavailable, RetryableError
from portkern.llm.records import Recorder
from portkern.model import Record

PROVIDERS = ("ollama", "openai", "none")
PROBE_TIMEOUT_S = 5.0                    # a listing answers at once; a silent host must not stall startup


@dataclass
class ProbeResult(Record):
    provider: str
    url: str
    model: str
    reachable: bool
    model_present: bool = False
    models: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    message: str = ""                    # one line: what is wrong and how to fix it ("" when ready)

    @property
    def ready(self) -> bool:
        return self.reachable and self.model_present


def llm_settings(config: dict[str, Any] | None = None) -> dict[str, Any]:
    if config is None:
        from portkern.config import load_config

        config = load_config()
    return dict(config["llm"]) if "llm" in config else dict(config)


def provider_name(llm: dict[str, Any]) -> str:
    name = str(llm.get("provider", "ollama")).lower()
    if name not in PROVIDERS:
        raise ConfigError(f"llm.provider: unknown provider '{name}'", hint=f"use one of {', '.join(PROVIDERS)}")
    # Setting an OpenAI-compatible URL is enough to use that server instead of the default Ollama.
    if name == "ollama" and llm.get("openai_base_url"):
        return "openai"
    return name


def server_url(llm: dict[str, Any]) -> str:
    name = provider_name(llm)
    if name == "openai":
        return str(llm.get("openai_base_url") or "").rstrip("/")
    return str(llm.get("ollama_host") or "").rstrip("/")


def no_server_message(llm: dict[str, Any] | None = None) -> str:
    llm = llm_settings(llm)
    model = llm.get("model") or "qwen2.5-coder:7b"
    return (f"skipped: no model server at {server_url(llm) or '(none configured)'}; start one with "
            f"`ollama serve` and `ollama pull {model}`, or set llm.openai_base_url")


def make_provider(llm: dict[str, Any], *, timeout_s: float | None = None) -> Provider | None:
    name = provider_name(llm)
    if name == "none":
        return None
    timeout_s = float(llm.get("timeout_s", 120.0)) if timeout_s is None else timeout_s
    if name == "openai":
        from portkern.llm.providers.openai import OpenAIProvider

        if not llm.get("openai_base_url"):
            raise ConfigError("llm.provider is 'openai' but llm.openai_base_url is empty",
                              hint="set llm.openai_base_url, e.g. http://127.0.0.1:8000/v1")
        return OpenAIProvider(server_url(llm), str(llm.get("model", "")), timeout_s, str(llm.get("api_key", "")))
    from portkern.llm.providers.ollama import OllamaProvider

    return OllamaProvider(server_url(llm), str(llm.get("model", "")), timeout_s, str(llm.get("api_key", "")))


def probe(config: dict[str, Any] | None = None, *, provider: Provider | None = None) -> ProbeResult:
    """Is a server reachable, and does it have the configured model?"""
    llm = llm_settings(config)
    name = provider_name(llm)
    if name == "none":
        return ProbeResult(provider="none", url="", model=str(llm.get("model", "")), reachable=False,
                           message="model stages are off (llm.provider: none); set llm.provider to "
                                   "ollama or openai to use a model")
    own = provider is None
    if provider is None:
        try:
            provider = make_provider(llm, timeout_s=min(PROBE_TIMEOUT_S, float(llm.get("timeout_s", 120.0))))
        except ToolMissingError as exc:   # the provider's client package is not installed: no model, a note
            return ProbeResult(provider=name, url=str(llm.get("url", "")), model=str(llm.get("model", "")),
                               reachable=False, message=str(exc).splitlines()[0] + (f" ({exc.hint})" if exc.hint else ""))
    assert provider is not None
    result = ProbeResult(provider=name, url=provider.url, model=provider.model, reachable=False)
    try:
        result.models = provider.list_models()
        result.reachable = True
        result.model_present = provider.has_model(result.models)
        if result.model_present and hasattr(provider, "show"):
            result.details = provider.show()
    except (RetryableError, ProviderUnavailable) as exc:
        result.message = no_server_message(llm)
        result.details = {"error": str(exc)}    # the transport's own words, for `portkern llm status --json`
    finally:
        if own:
            provider.close()
    if result.reachable and not result.model_present:
        served = ", ".join(result.models) or "none"
        result.message = (f"server at {result.url} is up but has no model '{result.model}' (it serves: {served}); "
                          f"run `{provider.pull_hint()}` or set llm.model")
    return result


@dataclass
class Connection:
    client: LLMClient | None
    probe: ProbeResult

    @property
    def skip_reason(self) -> str:
        return "" if self.client else self.probe.message


def connect(config: dict[str, Any] | None = None, *, run_id: str = "", recorder: Recorder | None = None,
            cache_dir: str | Path | None = None, system_prompt: str | None = None) -> Connection:
    """A ready client, or None with the one-line reason (the pipeline puts it in SearchContext.skipped)."""
    if config is None:
        from portkern.config import load_config

        config = load_config()
    llm = llm_settings(config)
    result = probe(llm)
    if not result.ready:
        return Connection(client=None, probe=result)
    if cache_dir is None and "cache_dir" in config:
        cache_dir = Path(config["cache_dir"]) / "llm"
    if system_prompt is None:
        from portkern.llm.prompts import render

        system_prompt = render("system")
    provider = make_provider(llm)
    assert provider is not None
    client = LLMClient(provider, run_id=run_id, retries=int(llm.get("retries", 3)),
                       concurrency=int(llm.get("concurrency", 2)), temperature=float(llm.get("temperature", 0.2)),
                       seed=int(llm.get("seed", 1234)), max_tokens=int(llm.get("max_tokens", 2048)),
                       cache=ResponseCache(cache_dir) if cache_dir else None, recorder=recorder,
                       system_prompt=system_prompt,
                       call_seconds=float(llm.get("call_seconds", llm.get("timeout_s", 120.0))))
    return Connection(client=client, probe=result)


__all__ = ["Connection", "ModelError", "ProbeResult", "connect", "make_provider", "no_server_message", "probe"]
