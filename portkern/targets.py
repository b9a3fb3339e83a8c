"""The target registry, read from ``portkern/data/targets.yaml``."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from importlib import resources

import yaml

from portkern.errors import ConfigError
from portkern.model import Target

_REQUIRED = [f.name for f in dataclasses.fields(Target) if f.name not in ("name", "sources")]


@lru_cache(maxsize=1)
def load_targets() -> dict[str, Target]:
    text = resources.files("portkern.data").joinpath("targets.yaml").read_text()
    raw = yaml.safe_load(text)["targets"]
    out: dict[str, Target] = {}
    for name, entry in raw.items():
        missing = [k for k in _REQUIRED if k not in entry]
        if missing:
            raise ConfigError(f"targets.yaml: target '{name}' lacks {', '.join(missing)}")
        entry = dict(entry)
        entry["peak_flops"] = {k: float(v) for k, v in entry["peak_flops"].items()}
        entry["peak_bandwidth_gbs"] = float(entry["peak_bandwidth_gbs"])
        out[name] = Target(name=name, **entry)
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


def targets_by_arch(arch: str) -> list[Target]:
    return [t for t in load_targets().values() if t.arch == arch]
