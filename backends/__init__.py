"""Backends, one package per vendor or execution kind (installed as ``portkern.backends``).

The backend list comes from the folders: a vendor is a subpackage exporting ``BACKEND`` (an instance
of :class:`portkern.backends.base.Backend`), and each target of ``portkern/data/targets.yaml`` names
its backend. Folders listed in ``PORTKERN_BACKEND_PATH`` (separated like ``PATH``) add backends that
live outside this tree; each may carry a ``targets.yaml`` with its targets' rows (see README.md).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from pathlib import Path

from portkern.errors import ConfigError

BACKEND_PATH_ENV = "PORTKERN_BACKEND_PATH"
_BUILTIN = [str(Path(p)) for p in __path__]


def _search_path() -> list[str]:
    """The built-in folder first, then the folders of ``PORTKERN_BACKEND_PATH`` (read on every call,
    so a worker process or a test that sets it sees the same backends)."""
    extra = [str(Path(p).resolve()) for p in os.environ.get(BACKEND_PATH_ENV, "").split(os.pathsep) if p]
    for folder in extra:
        if not Path(folder).is_dir():
            raise ConfigError(f"{BACKEND_PATH_ENV}: '{folder}' is not a folder",
                              hint="list folders that hold backend packages, separated by ':'")
    wanted = _BUILTIN + [p for p in extra if p not in _BUILTIN]
    __path__[:] = wanted
    return wanted


def extra_folders() -> list[str]:
    """The package folders of the backends found on ``PORTKERN_BACKEND_PATH``."""
    builtin = {m.name for m in pkgutil.iter_modules(_BUILTIN) if m.ispkg}
    out = []
    for root in _search_path()[len(_BUILTIN):]:
        for m in pkgutil.iter_modules([root]):
            if not m.ispkg:
                continue
            if m.name in builtin:
                raise ConfigError(f"{BACKEND_PATH_ENV}: backend '{m.name}' in {root} has the name of a built-in one",
                                  hint="rename the folder")
            out.append(str(Path(root) / m.name))
    return out


def worker_env() -> dict[str, str]:
    """What a worker process needs in its environment to find the same backends as this one."""
    value = os.environ.get(BACKEND_PATH_ENV, "")
    return {BACKEND_PATH_ENV: value} if value else {}


def names() -> list[str]:
    return sorted({m.name for m in pkgutil.iter_modules(_search_path()) if m.ispkg})


def get(name: str):
    """Return the backend instance called ``name`` ("cuda", "hip", "emu", or one on the backend path)."""
    if name not in names():
        raise ConfigError(f"unknown backend '{name}'", hint=f"known backends: {', '.join(names())}")
    module = importlib.import_module(f"{__name__}.{name}")
    backend = getattr(module, "BACKEND", None)
    if backend is None:
        raise ConfigError(f"backend package '{name}' ({Path(module.__file__).parent}) exports no BACKEND",
                          hint="its __init__.py must define BACKEND = <a Backend instance>")
    return backend


def for_target(target) -> object:
    """The backend the target's row in the targets file names."""
    if target.backend not in names():
        raise ConfigError(f"target '{target.name}' names backend '{target.backend}', which is not installed",
                          hint=f"known backends: {', '.join(names())}; fix the target's `backend:` row")
    return get(target.backend)
