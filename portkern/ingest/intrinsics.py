"""Classify the names a kernel uses into intrinsic categories (table in data/intrinsics.yaml)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

import yaml

from portkern.ingest.model import IntrinsicSummary


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[frozenset[str], tuple[str, ...]]]:
    raw = yaml.safe_load(resources.files("portkern.ingest").joinpath("data/intrinsics.yaml").read_text())
    return {cat: (frozenset(v.get("names") or []), tuple(v.get("prefixes") or [])) for cat, v in raw.items()}


def categorize(name: str) -> list[str]:
    return [cat for cat, (names, prefixes) in _table().items() if name in names or name.startswith(prefixes)]


def summarize(names: Iterable[str], inline_asm: bool = False) -> IntrinsicSummary:
    used: dict[str, set[str]] = {}
    for n in names:
        if not n.startswith(("_", "atomic", "warp", "tex", "surf", "cooperative", "this_", "tiled", "thread_",
                             "coalesced", "grid", "WARP", "WAVE", "cuda", "hip", "unsafe", "safe")):
            continue    # cheap filter: every intrinsic starts with one of these
        for cat in categorize(n):
            used.setdefault(cat, set()).add(n)
    if inline_asm:
        used.setdefault("inline_asm", set()).add("asm")
    return IntrinsicSummary(used={k: sorted(v) for k, v in sorted(used.items())})
