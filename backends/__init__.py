"""Backends, one package per vendor or execution kind (installed as ``portkern.backends``).

The backend list comes from the folders: adding a vendor adds a subpackage exporting ``BACKEND``
(an instance of :class:`portkern.backends.base.Backend`), and touches no registry.
"""

from __future__ import annotations

import importlib
import pkgutil

from portkern.errors import ConfigError


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg)


def get(name: str):
    """Return the backend instance called ``name`` ("cuda", "hip", "emu")."""
    if name not in names():
        raise ConfigError(f"unknown backend '{name}'", hint=f"known backends: {', '.join(names())}")
    module = importlib.import_module(f"{__name__}.{name}")
    return module.BACKEND


def for_target(target) -> object:
    """The compile backend for a target's vendor."""
    return get({"nvidia": "cuda", "amd": "hip"}[target.vendor])
