"""Content-addressed, on-disk cache of compile results.

The key is a hash of everything that decides the bytes: backend, source (with the entry
instantiations appended), options, target arch and compiler identity. Headers the compiler read
are recorded with the entry (from its dependency file) and checked on lookup, so an edited header
is a miss even though the key is the same. Entries live in the content store (``portkern.cache``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from portkern.cache import ContentStore, cache_root
from portkern.model import CompileResult

CACHE_FORMAT = 1


def compile_key(*, backend: str, source: str, options: dict[str, Any], arch: str, compiler: str,
                extra: dict[str, Any] | None = None) -> str:
    payload = {"format": CACHE_FORMAT, "backend": backend, "source": source, "options": options,
               "arch": arch, "compiler": compiler, "extra": extra or {}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def default_cache_dir() -> Path:
    return cache_root() / "compile"


def file_fingerprint(path: str) -> dict[str, Any] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


class CompileCache:
    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.store = ContentStore(self.directory)

    def get(self, key: str) -> CompileResult | None:
        entry = self.store.get_json(key)
        if not isinstance(entry, dict) or entry.get("format") != CACHE_FORMAT:
            return None
        for dep in entry.get("dependencies", []):
            if file_fingerprint(dep["path"]) != dep:
                return None          # a header changed since this entry was written
        result = CompileResult.from_dict(entry["result"])
        result.cached = True
        return result

    def put(self, key: str, result: CompileResult, dependencies: list[str] | None = None) -> None:
        deps = [fp for fp in (file_fingerprint(p) for p in sorted(set(dependencies or []))) if fp]
        entry = {"format": CACHE_FORMAT, "result": result.to_dict(), "dependencies": deps}
        self.store.put_json(key, entry)


def read_dependency_file(path: str | Path, *, skip: set[str] | None = None) -> list[str]:
    """Paths listed in a Make-style dependency file (``-MD -MF``), made absolute."""
    try:
        text = Path(path).read_text()
    except OSError:
        return []
    text = text.replace("\\\n", " ")
    deps: list[str] = []
    for line in text.splitlines():
        _, sep, rest = line.partition(": ")
        if not sep:
            continue
        for item in rest.split():
            item = item.replace("\\ ", " ")
            if skip and item in skip:
                continue
            deps.append(os.path.abspath(os.path.join(os.path.dirname(str(path)), item)))
    return deps
