"""A small content-addressed store for emulator builds: <cache>/emu/<key>.so and <key>.json.

The cache folder is $PORTKERN_CACHE_DIR, else the configured ``cache_dir``. Writes go to a temp
file and are renamed into place, so concurrent builders never see half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def cache_root() -> Path:
    env = os.environ.get("PORTKERN_CACHE_DIR")
    if env:
        root = Path(env)
    else:
        from portkern.config import load_config

        root = Path(load_config()["cache_dir"])
    path = root / "emu"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def lookup(key: str) -> tuple[bytes, dict[str, Any]] | None:
    root = cache_root()
    so, meta = root / f"{key}.so", root / f"{key}.json"
    if not (so.exists() and meta.exists()):
        return None
    try:
        return so.read_bytes(), json.loads(meta.read_text())
    except (OSError, ValueError):
        return None


def store(key: str, binary: bytes, meta: dict[str, Any]) -> Path:
    root = cache_root()
    write_atomic(root / f"{key}.so", binary)
    write_atomic(root / f"{key}.json", json.dumps(meta, sort_keys=True).encode())
    return root / f"{key}.so"


def binary_path(key: str, binary: bytes) -> Path:
    """A file holding ``binary`` (written if missing), for dlopen."""
    path = cache_root() / f"{key}.so"
    if not path.exists() or path.stat().st_size != len(binary):
        write_atomic(path, binary)
    return path
