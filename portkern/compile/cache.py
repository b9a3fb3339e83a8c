"""Content-addressed, on-disk cache of compile results.

The key is a hash of everything that decides the bytes: backend, source (with the entry
instantiations appended), options, target arch and compiler identity. Headers the compiler read
are recorded with the entry (from its dependency file) and checked on lookup, so an edited header
is a miss even though the key is the same. Writes go to a temp file and are renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from portkern.model import CompileResult

CACHE_FORMAT = 1


def compile_key(*, backend: str, source: str, options: dict[str, Any], arch: str, compiler: str,
                extra: dict[str, Any] | None = None) -> str:
    payload = {"format": CACHE_FORMAT, "backend": backend, "source": source, "options": options,
               "arch": arch, "compiler": compiler, "extra": extra or {}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def default_cache_dir() -> Path:
    from portkern.config import load_config

    return Path(load_config()["cache_dir"]) / "compile"


def file_fingerprint(path: str) -> dict[str, Any] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


class CompileCache:
    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory is not None else default_cache_dir()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> CompileResult | None:
        path = self._path(key)
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if entry.get("format") != CACHE_FORMAT:
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
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:8]}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(entry, fh)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


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
