"""The content-addressed store behind every cache portkern keeps.

One layout for all of them: ``<cache_dir>/<kind>/<key[:2]>/<key><suffix>``, where ``kind`` names the
cache (``stages``, ``compile``, ``emu``, ``llm``, ``ingest``) and ``key`` is a hex digest of what the
entry was computed from. An entry may have several files (an emulator build is ``<key>.so`` beside
``<key>.json``). Every write goes through :mod:`portkern.fsio` (temporary file, rename, the user's
umask), so a reader never sees a torn entry and a killed process leaves nothing half-written.
A hit refreshes the entry's modification time, so ``prune --older-than`` removes what was not used.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portkern import fsio
from portkern.errors import ConfigError

# What each cache holds, for `portkern cache info`.
KINDS = {
    "stages": "pipeline stage results",
    "compile": "compiler outputs (binaries and resource reports)",
    "emu": "CPU emulator builds",
    "llm": "model replies",
    "ingest": "parsed source files",
}
_KEY = re.compile(r"^[0-9a-f]{8,128}$")


def cache_root() -> Path:
    """The cache folder: ``$PORTKERN_CACHE_DIR``, else the configured ``cache_dir``."""
    env = os.environ.get("PORTKERN_CACHE_DIR")
    if env:
        return Path(env)
    from portkern.config import load_config

    return Path(load_config()["cache_dir"])


class ContentStore:
    """Entries of one cache kind in one folder, by key."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    @classmethod
    def of(cls, kind: str, root: str | Path | None = None) -> ContentStore:
        """The store of ``kind`` under ``root`` (default: :func:`cache_root`)."""
        return cls(Path(root if root is not None else cache_root()) / kind)

    def path(self, key: str, suffix: str = ".json") -> Path:
        if not _KEY.match(key):
            raise ValueError(f"cache key {key!r} is not a hex digest")
        return self.folder / key[:2] / f"{key}{suffix}"

    # ---------------------------------------------------------------- reads

    def get_bytes(self, key: str, suffix: str = ".json") -> bytes | None:
        path = self.path(key, suffix)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        _touch(path)
        return data

    def get_json(self, key: str, suffix: str = ".json") -> Any | None:
        """The entry's JSON value; a missing or damaged entry is a miss (the next put replaces it)."""
        data = self.get_bytes(key, suffix)
        if data is None:
            return None
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return None

    def has(self, key: str, suffix: str = ".json") -> bool:
        return self.path(key, suffix).is_file()

    # ---------------------------------------------------------------- writes

    def put_bytes(self, key: str, data: bytes, suffix: str = ".json") -> Path:
        return fsio.write_bytes(self.path(key, suffix), data, keep_mode=False)

    def put_json(self, key: str, value: Any, suffix: str = ".json") -> Path:
        return self.put_bytes(key, json.dumps(value, sort_keys=True).encode(), suffix)


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass  # a read-only shared cache still serves hits


# --------------------------------------------------------------------------- info and prune


@dataclass
class KindInfo:
    kind: str
    description: str
    entries: int = 0
    bytes: int = 0
    oldest: float | None = None          # modification times (seconds since the epoch)
    newest: float | None = None

    def to_dict(self) -> dict[str, Any]:
        def iso(t: float | None) -> str | None:
            return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

        return {"kind": self.kind, "description": self.description, "entries": self.entries, "bytes": self.bytes,
                "oldest": iso(self.oldest), "newest": iso(self.newest)}


def _entries(folder: Path) -> dict[str, list[tuple[Path, os.stat_result]]]:
    """Files of each entry under a kind folder, by key (temporary files under their own names)."""
    out: dict[str, list[tuple[Path, os.stat_result]]] = {}
    if not folder.is_dir():
        return out
    for dirpath, _dirs, filenames in os.walk(folder, followlinks=False):
        for name in filenames:
            path = Path(dirpath) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            key = name if name.startswith(".") else name.split(".", 1)[0]
            out.setdefault(key, []).append((path, st))
    return out


def _kinds(root: Path) -> list[str]:
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink()) if root.is_dir() else []
    return list(KINDS) + [k for k in found if k not in KINDS]


def info(root: str | Path | None = None) -> list[KindInfo]:
    """Entries, bytes and the oldest/newest entry of every cache kind under ``root``."""
    root = Path(root if root is not None else cache_root())
    out = []
    for kind in _kinds(root):
        item = KindInfo(kind, KINDS.get(kind, "unknown cache kind"))
        for key, files in _entries(root / kind).items():
            if key.startswith("."):
                continue  # a write in progress (or left by a killed process)
            item.entries += 1
            item.bytes += sum(st.st_size for _, st in files)
            mtime = max(st.st_mtime for _, st in files)
            item.oldest = mtime if item.oldest is None else min(item.oldest, mtime)
            item.newest = mtime if item.newest is None else max(item.newest, mtime)
        out.append(item)
    return out


@dataclass
class PruneResult:
    kind: str
    entries: int = 0
    bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "entries_removed": self.entries, "bytes_removed": self.bytes}


def prune(older_than_s: float, root: str | Path | None = None, *, now: float | None = None) -> list[PruneResult]:
    """Remove every entry not written or used for ``older_than_s`` seconds (and stale temporary files)."""
    if older_than_s < 0:
        raise ConfigError(f"prune: a negative age ({older_than_s} s) makes no sense", hint="pass e.g. 7d or 12h")
    root = Path(root if root is not None else cache_root())
    cutoff = (time.time() if now is None else now) - older_than_s
    out = []
    for kind in _kinds(root):
        result = PruneResult(kind)
        for key, files in _entries(root / kind).items():
            if not (key.startswith(".") or _KEY.match(key)):
                continue  # not something this store wrote: leave it alone
            if max(st.st_mtime for _, st in files) >= cutoff:
                continue
            for path, st in files:
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
                result.bytes += st.st_size
            result.entries += 0 if key.startswith(".") else 1
        _remove_empty_folders(root / kind)
        out.append(result)
    return out


def _remove_empty_folders(folder: Path) -> None:
    if not folder.is_dir():
        return
    for sub in folder.iterdir():
        if sub.is_dir() and not sub.is_symlink():
            try:
                sub.rmdir()
            except OSError:
                pass  # not empty


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``7d``, ``12h``, ``30m``, ``90s`` or ``1w``."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not m:
        raise ConfigError(f"'{text}' is not a duration", hint="write a number and a unit: 90s, 30m, 12h, 7d, 2w")
    return float(m.group(1)) * _UNITS[m.group(2)]
