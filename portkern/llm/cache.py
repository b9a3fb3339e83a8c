"""On-disk cache of model replies keyed by (provider, model, messages, sampling parameters).

A reply is only reused for exactly the same request, seed included, so a cached run replays what
the model said rather than something like it. Entries live in the content store (``portkern.cache``),
whose writes are atomic: a killed run never leaves a half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from portkern.cache import ContentStore


def cache_key(provider: str, model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    blob = json.dumps({"provider": provider, "model": model, "messages": messages, "params": params},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.store = ContentStore(self.root)

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self.store.get_json(key)  # a damaged entry is a miss; the next successful call replaces it
        return entry if isinstance(entry, dict) else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        self.store.put_json(key, entry)
