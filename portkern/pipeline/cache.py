"""Content-addressed stage cache.

A key is the sha256 of sorted JSON holding the stage's name and version, the content hash of every
input and the toolchain identity. Inputs that cannot be hashed by content make key() raise: a
cache hit on a guessed key would hand back a result computed from different inputs.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from portkern.cache import ContentStore
from portkern.errors import StoreError
from portkern.model import Record

# Fields that describe how a result was obtained, not what it is (DVC leaves such fields out of
# its fingerprints too): a recompiled binary with a different compile time is the same input.
COSMETIC_KEYS = frozenset({"compile_seconds", "cached", "seconds", "cache_key"})


def content_hash(value: Any, *, where: str = "input") -> str:
    """sha256 of a value's content. Raises StoreError for values with no stable content."""
    h = hashlib.sha256()
    _feed(h, value, where)
    return h.hexdigest()


def _feed(h: Any, value: Any, where: str) -> None:
    if value is None or isinstance(value, (bool, int, float, str)):
        h.update(b"j" + json.dumps(value).encode())
    elif isinstance(value, bytes):
        h.update(b"b" + hashlib.sha256(value).digest())
    elif isinstance(value, Record):
        h.update(b"r" + type(value).__name__.encode() + value.content_hash().encode())
    elif isinstance(value, dict) and set(value) == {"__bytes__"}:  # bytes as portkern.model encodes them
        try:
            raw = base64.b64decode(value["__bytes__"], validate=True)
        except (ValueError, TypeError) as exc:
            raise StoreError(f"cannot key {where}: malformed base64 bytes") from exc
        h.update(b"b" + hashlib.sha256(raw).digest())
    elif isinstance(value, dict):
        h.update(b"{")
        for k in sorted(value, key=str):
            if k in COSMETIC_KEYS:
                continue
            if not isinstance(k, (str, int)):
                raise StoreError(f"cannot key {where}: dict key {k!r} is not a string or integer",
                                 hint="pass plain JSON-like data or portkern.model Records to stages")
            h.update(json.dumps(str(k)).encode() + b":")
            _feed(h, value[k], f"{where}[{k!r}]")
        h.update(b"}")
    elif isinstance(value, (list, tuple)):
        h.update(b"[")
        for i, v in enumerate(value):
            _feed(h, v, f"{where}[{i}]")
            h.update(b",")
        h.update(b"]")
    elif hasattr(value, "tobytes") and hasattr(value, "dtype") and hasattr(value, "shape"):  # numpy array
        h.update(b"n" + str(value.dtype).encode() + str(tuple(value.shape)).encode())
        h.update(hashlib.sha256(value.tobytes()).digest())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        raise StoreError(f"cannot key {where}: {type(value).__name__} is a dataclass but not a portkern Record",
                         hint="make it a portkern.model.Record so its content can be hashed")
    else:
        raise StoreError(f"cannot key {where}: a {type(value).__name__} has no stable content to hash",
                         hint="pass plain JSON-like data, bytes, numpy arrays or portkern.model Records")


def stage_key(stage: str, version: int, inputs: dict[str, Any], toolchain: dict[str, str]) -> str:
    """The cache key of one stage computation."""
    doc = {
        "stage": stage,
        "version": version,
        "inputs": {name: content_hash(v, where=f"{stage} input '{name}'") for name, v in inputs.items()},
        "toolchain": {k: str(v) for k, v in toolchain.items()},
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


@dataclasses.dataclass
class CacheCounters:
    hits: int = 0
    misses: int = 0
    writes: int = 0


class StageCache:
    """Stage results in the content store: ``<root>/stages/<key[:2]>/<key>.json``."""

    def __init__(self, root: str | Path):
        self.store = ContentStore.of("stages", root)
        self.counters = CacheCounters()
        self._lock = threading.Lock()

    def path(self, key: str) -> Path:
        return self.store.path(key)

    def get(self, key: str) -> dict[str, Any] | None:
        data = self.store.get_json(key)  # a damaged entry is a miss
        if not isinstance(data, dict):
            data = None
        with self._lock:
            if data is None:
                self.counters.misses += 1
            else:
                self.counters.hits += 1
        return data

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.store.put_json(key, value)
        with self._lock:
            self.counters.writes += 1
