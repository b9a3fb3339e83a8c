"""The target registry: ``portkern/data/targets.yaml``, plus the ``targets.yaml`` of any backend
found on the backend path (see ``backends/README.md``)."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from portkern import backends
from portkern.errors import ConfigError
from portkern.model import Target

_REQUIRED = [f.name for f in dataclasses.fields(Target) if f.name not in ("name", "sources")]


def _rows(text: str, where: str) -> dict[str, Target]:
    try:
        raw = (yaml.safe_load(text) or {}).get("targets") or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML ({exc})", hint="fix the file's syntax") from exc
    out: dict[str, Target] = {}
    for name, entry in raw.items():
        missing = [k for k in _REQUIRED if k not in entry]
        if missing:
            raise ConfigError(f"{where}: target '{name}' lacks {', '.join(missing)}",
                              hint="every target row names all the fields of portkern/data/targets.yaml")
        entry = dict(entry)
        entry["peak_flops"] = {k: float(v) for k, v in entry["peak_flops"].items()}
        entry["peak_bandwidth_gbs"] = float(entry["peak_bandwidth_gbs"])
        out[name] = Target(name=name, **entry)
    return out


@lru_cache(maxsize=1)
def load_targets() -> dict[str, Target]:
    out = _rows(resources.files("portkern.data").joinpath("targets.yaml").read_text(), "targets.yaml")
    for folder in backends.extra_folders():
        path = Path(folder) / "targets.yaml"
        if not path.is_file():
            continue
        for name, target in _rows(path.read_text(), str(path)).items():
            if name in out:
                raise ConfigError(f"{path}: target '{name}' is already defined",
                                  hint="give the target a name of its own")
            out[name] = target
    return out


def get_target(name: str) -> Target:
    targets = load_targets()
    key = name.strip().lower()
    if key not in targets:
        raise ConfigError(
            f"unknown target '{name}'",
            hint=f"known targets: {', '.join(sorted(targets))} (see `portkern targets`)",
        )
    return targets[key]
