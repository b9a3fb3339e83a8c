"""Records of model calls: one ``ModelCall`` per request, kept by a recorder the pipeline passes in.

The dataset exporter reads these records, so they carry everything needed to rebuild a training
example: the exact prompt, the reply, the sampling parameters, and whether the reply was accepted.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from portkern.model import Record


@dataclass
class ModelCall(Record):
    run_id: str
    kind: str                            # translate | repair-compile | repair-validation | optimize | ask
    model: str
    provider: str                        # "ollama" | "openai"
    prompt: str
    reply: str = ""
    params: dict[str, Any] = field(default_factory=dict)   # temperature, seed, max_tokens, ...
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    attempts: int = 0                    # requests sent (0 when served from the cache)
    cached: bool = False
    accepted: bool = False               # the reply passed the reply checks (portkern.llm.replies)
    reject_reason: str = ""
    error: str = ""                      # transport/server failure after all retries
    call_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    kernel: str = ""
    candidate: str = ""                  # id of the candidate built from the reply ("" = none)
    cut: str = ""                        # why the reply was cut short (time or token limit; "" = it ended)


@dataclass
class Usage(Record):
    """Token and time accounting for one run."""

    calls: int = 0
    cached_calls: int = 0
    failed_calls: int = 0
    rejected_replies: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    cut_replies: int = 0

    def add(self, call: ModelCall) -> None:
        self.calls += 1
        self.cached_calls += int(call.cached)
        self.failed_calls += int(bool(call.error))
        self.rejected_replies += int(bool(call.reject_reason))
        self.cut_replies += int(bool(call.cut))
        if not call.cached:
            self.tokens_in += call.tokens_in
            self.tokens_out += call.tokens_out
            self.seconds += call.seconds


class Recorder(Protocol):
    def record(self, call: ModelCall) -> None: ...


class MemoryRecorder:
    """Keeps every call in a list; the pipeline stores them with the run."""

    def __init__(self) -> None:
        self.calls: list[ModelCall] = []
        self._lock = threading.Lock()

    def record(self, call: ModelCall) -> None:
        with self._lock:
            self.calls.append(call)

    def usage(self, run_id: str | None = None) -> Usage:
        usage = Usage()
        for call in self.calls:
            if run_id is None or call.run_id == run_id:
                usage.add(call)
        return usage


class JsonlRecorder:
    """Appends one JSON line per call; a line is written in one call so readers never see half a record."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def record(self, call: ModelCall) -> None:
        line = (call.to_json() + "\n").encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def read(self) -> list[ModelCall]:
        if not self.path.exists():
            return []
        return [ModelCall.from_dict(json.loads(line)) for line in self.path.read_text().splitlines() if line]
