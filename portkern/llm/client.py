"""The model client the strategies use: cache, retries with backoff, a concurrency limit, accounting
and a record of every call."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portkern.errors import ModelError
from portkern.llm.cache import ResponseCache, cache_key
from portkern.llm.providers.base import Provider, ProviderUnavailable, RetryableError
from portkern.llm.records import ModelCall, Recorder, Usage

MAX_BACKOFF_S = 30.0


@dataclass
class ReplyVerdict:
    """What a reply check says: accepted or not, why, and the code it extracted."""

    accepted: bool
    reason: str = ""
    code: str = ""


@dataclass
class Answer:
    call: ModelCall
    code: str = ""                       # extracted code when the reply was accepted

    @property
    def accepted(self) -> bool:
        return self.call.accepted


class LLMClient:
    def __init__(self, provider: Provider, *, run_id: str = "", retries: int = 3, backoff_s: float = 1.0,
                 concurrency: int = 2, temperature: float = 0.2, seed: int = 1234, max_tokens: int = 2048,
                 cache: ResponseCache | None = None, recorder: Recorder | None = None,
                 system_prompt: str = "", sleep: Callable[[float], None] = time.sleep,
                 call_seconds: float = 120.0) -> None:
        self.provider = provider
        self.run_id = run_id
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self.temperature = temperature
        self.seed = seed
        self.max_tokens = max_tokens
        self.call_seconds = call_seconds       # one call, retries included; a streamed reply is cut there
        self.cache = cache
        self.recorder = recorder
        self.system_prompt = system_prompt
        self.usage = Usage()
        self._slots = threading.Semaphore(max(1, concurrency))
        self._usage_lock = threading.Lock()
        self._sleep = sleep

    @property
    def model(self) -> str:
        return self.provider.model

    @property
    def url(self) -> str:
        return self.provider.url

    def params(self, *, temperature: float | None = None, seed: int | None = None,
               max_tokens: int | None = None) -> dict[str, Any]:
        return {"temperature": self.temperature if temperature is None else temperature,
                "seed": self.seed if seed is None else seed,
                "max_tokens": self.max_tokens if max_tokens is None else max_tokens}

    def ask(self, kind: str, prompt: str, *, check: Callable[[str], ReplyVerdict] | None = None,
            temperature: float | None = None, seed: int | None = None, max_tokens: int | None = None,
            kernel: str = "", candidate: str = "", use_cache: bool = True,
            time_limit_s: float | None = None) -> Answer:
        """One model call, within ``min(call_seconds, time_limit_s)`` seconds retries included and
        ``max_tokens`` tokens (a reply past either is cut, kept, and not cached). The call is recorded
        whatever happens; a transport failure after all retries raises ModelError, a rejected reply
        does not (it comes back with accepted=False)."""
        params = self.params(temperature=temperature, seed=seed, max_tokens=max_tokens)
        messages = ([{"role": "system", "content": self.system_prompt}] if self.system_prompt else [])
        messages.append({"role": "user", "content": prompt})
        call = ModelCall(run_id=self.run_id, kind=kind, model=self.model, provider=self.provider.name,
                         prompt=prompt, params=params, kernel=kernel, candidate=candidate)
        key = cache_key(self.provider.name, self.model, messages, params)
        hit = self.cache.get(key) if (self.cache and use_cache) else None
        if hit is not None:
            call.reply, call.cached = hit["reply"], True
            call.tokens_in, call.tokens_out = hit.get("tokens_in", 0), hit.get("tokens_out", 0)
        else:
            limit = self.call_seconds if time_limit_s is None else min(self.call_seconds, time_limit_s)
            try:
                self._send(call, messages, params, max(0.0, limit))
            except ModelError as exc:
                call.error = exc.message
                self._finish(call)
                raise
            if self.cache and not call.cut:
                self.cache.put(key, {"reply": call.reply, "tokens_in": call.tokens_in,
                                     "tokens_out": call.tokens_out, "model": self.model, "params": params})
        code = ""
        if check is not None:
            verdict = check(call.reply)
            call.accepted, call.reject_reason, code = verdict.accepted, verdict.reason, verdict.code
        else:
            call.accepted = True
        self._finish(call)
        return Answer(call=call, code=code)

    def _send(self, call: ModelCall, messages: list[dict[str, str]], params: dict[str, Any],
              limit_s: float) -> None:
        last = ""
        started = time.monotonic()
        deadline = started + limit_s
        for attempt in range(self.retries + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                last = last or "no time left"
                break
            call.attempts = attempt + 1
            try:
                with self._slots:
                    reply = self.provider.chat(messages, params, time_limit_s=max(0.0, deadline - time.monotonic()))
            except RetryableError as exc:
                last = str(exc)
                if attempt < self.retries:
                    self._sleep(max(0.0, min(MAX_BACKOFF_S, self.backoff_s * (2 ** attempt),
                                             deadline - time.monotonic())))
                continue
            except ProviderUnavailable as exc:
                call.seconds = time.monotonic() - started
                raise ModelError(f"model '{self.model}' at {self.url}: {exc}",
                                 hint=self.provider.pull_hint() or None) from exc
            call.seconds = time.monotonic() - started
            call.reply, call.tokens_in, call.tokens_out = reply.text, reply.tokens_in, reply.tokens_out
            # The provider was given what was left of the call's limit; the record names the limit itself.
            call.cut = f"time limit ({limit_s:g} s)" if reply.cut.startswith("time limit") else reply.cut
            return
        call.seconds = time.monotonic() - started
        raise ModelError(f"model '{self.model}' at {self.url} failed after {call.attempts} attempt(s) within "
                         f"{limit_s:g} s: {last}", hint=self.provider.start_hint() or None)

    def _finish(self, call: ModelCall) -> None:
        with self._usage_lock:
            self.usage.add(call)
        if self.recorder is not None:
            self.recorder.record(call)

    def close(self) -> None:
        self.provider.close()
