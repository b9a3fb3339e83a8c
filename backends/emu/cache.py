"""Emulator builds in the content store (``portkern.cache``): ``<cache>/emu/<key[:2]>/<key>.so`` and
``<key>.json`` beside it.

The cache folder is $PORTKERN_CACHE_DIR, else the configured ``cache_dir``. Writes are atomic, so
concurrent builders never see half a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from portkern.cache import ContentStore


def _store() -> ContentStore:
    return ContentStore.of("emu")


def folder() -> Path:
    """The emulator's folder in the content store (builds, and the precompiled runtime header)."""
    return _store().folder


def lookup(key: str) -> tuple[bytes, dict[str, Any]] | None:
    store = _store()
    meta = store.get_json(key)
    binary = store.get_bytes(key, ".so") if isinstance(meta, dict) else None
    if binary is None:
        return None
    return binary, meta


def store(key: str, binary: bytes, meta: dict[str, Any]) -> Path:
    # The binary first: an entry is complete once its metadata exists.
    path = _store().put_bytes(key, binary, ".so")
    _store().put_json(key, meta)
    return path


def binary_path(key: str, binary: bytes) -> Path:
    """A file holding ``binary`` (written if missing), for dlopen."""
    store = _store()
    path = store.path(key, ".so")
    if not path.exists() or path.stat().st_size != len(binary):
        store.put_bytes(key, binary, ".so")
    return path
