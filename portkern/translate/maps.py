"""Mapping tables CUDA <-> HIP, loaded from ``portkern/data/maps/*.yaml``.

Each table file holds one category. An entry maps a CUDA name to its HIP name (and, for the BLAS and
solver tables, the rocBLAS/rocSOLVER name used with ``roc=True``). Compact forms keep the data short
while every name stays explicit:

* ``renamed_by_prefix``: ``{cuda: cuda, hip: hip, names: [Malloc, ...]}`` means ``cudaMalloc`` <-> ``hipMalloc``.
* ``entries``: ``cuda_name: hip_name`` or ``cuda_name: {hip: ..., roc: ..., preferred: true, deprecated: true}``.
* ``same``: names that are spelled the same in both dialects (recognised, never reported).
* ``cuda_only`` / ``hip_only``: names known to have no counterpart (reported as unconverted).
* ``namespaces`` (renamed only before ``::``), ``hip_aliases`` (old HIP spellings, one way),
  ``mask_intrinsics`` and ``wide_bit_intrinsics`` (data for the warp rules).

Reverse direction (HIP -> CUDA): several CUDA names can share one HIP name (``cudaError_t`` and
``CUresult`` both become ``hipError_t``). The CUDA name chosen is, in order: the entry marked
``preferred: true``; else the one from the table with the higher ``priority`` (runtime API over driver
API); else the one not marked ``deprecated``. A HIP name still ambiguous after these rules is a table
error and loading fails, so the choice is never left to file order.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from portkern.errors import ConfigError

MAPS_PACKAGE = "portkern.data.maps"


@dataclass(frozen=True)
class MapEntry:
    cuda: str
    hip: str
    category: str
    roc: str = ""                    # rocBLAS / rocSOLVER spelling, when one exists
    preferred: bool = False
    deprecated: bool = False
    reverse: bool = True             # False: one-way alias (e.g. cublasSgemm_v2), never chosen for HIP->CUDA


@dataclass
class MapTables:
    entries: list[MapEntry]
    categories: dict[str, dict[str, Any]]            # category -> {description, priority}
    same: dict[str, str] = field(default_factory=dict)           # name -> category
    cuda_only: dict[str, str] = field(default_factory=dict)
    hip_only: dict[str, str] = field(default_factory=dict)
    to_hip: dict[str, MapEntry] = field(default_factory=dict)
    to_cuda: dict[str, MapEntry] = field(default_factory=dict)
    roc_to_cuda: dict[str, MapEntry] = field(default_factory=dict)
    namespaces_to_hip: dict[str, str] = field(default_factory=dict)   # renamed only before '::'
    hip_aliases: dict[str, str] = field(default_factory=dict)         # old HIP spelling -> CUDA text
    mask_intrinsics: dict[str, str] = field(default_factory=dict)     # CUDA *_sync -> HIP maskless form
    wide_bit_intrinsics: dict[str, str] = field(default_factory=dict)  # 32-bit form -> 64-bit form
    cache_hint_loads: dict[str, str] = field(default_factory=dict)    # CUDA hinted load -> builtin | "plain"
    cache_hint_stores: dict[str, str] = field(default_factory=dict)

    @property
    def namespaces_to_cuda(self) -> dict[str, str]:
        return {h: c for c, h in self.namespaces_to_hip.items()}

    def counts(self) -> dict[str, dict[str, int]]:
        """Per category: names mapped CUDA->HIP, names recognised as the same in both, rocBLAS/rocSOLVER names."""
        out = {c: {"mapped": 0, "same_name": 0, "roc": 0, "no_counterpart": 0} for c in self.categories}
        for e in self.entries:
            out[e.category]["mapped"] += 1
            out[e.category]["roc"] += bool(e.roc)
        for cat in self.same.values():
            out[cat]["same_name"] += 1
        for cat in list(self.cuda_only.values()) + list(self.hip_only.values()):
            out[cat]["no_counterpart"] += 1
        return out


def _read_table(name: str) -> dict[str, Any]:
    path = resources.files(MAPS_PACKAGE) / name
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"mapping table {name}: invalid YAML: {exc}",
                          hint="fix the file under portkern/data/maps/") from exc


def _entries_of(name: str, table: dict[str, Any]) -> list[MapEntry]:
    category = table["category"]
    found: list[MapEntry] = []
    for block in table.get("renamed_by_prefix", []) or []:
        cuda_suffix = block.get("cuda_suffix", "")
        for stem in block["names"]:
            found.append(MapEntry(block["cuda"] + stem + cuda_suffix, block["hip"] + stem, category,
                                  roc=(block["roc"] + _roc_stem(stem, block)) if block.get("roc") else "",
                                  reverse=bool(block.get("reverse", True))))
    for cuda, value in (table.get("entries") or {}).items():
        if isinstance(value, str):
            found.append(MapEntry(cuda, value, category))
        elif isinstance(value, dict) and "hip" in value:
            found.append(MapEntry(cuda, value["hip"], category, roc=value.get("roc", ""),
                                  preferred=bool(value.get("preferred")),
                                  deprecated=bool(value.get("deprecated")),
                                  reverse=bool(value.get("reverse", True))))
        else:
            raise ConfigError(f"mapping table {name}: entry '{cuda}' must be a HIP name or a mapping with 'hip'",
                              hint="write `cudaName: hipName` or `cudaName: {hip: hipName, preferred: true}`")
    return found


def _roc_stem(stem: str, block: dict[str, Any]) -> str:
    return stem.lower() if block.get("roc_lowercase") else stem


def _choose_cuda(hip: str, candidates: list[MapEntry], priority: dict[str, int]) -> MapEntry:
    preferred = [c for c in candidates if c.preferred]
    if len(preferred) == 1:
        return preferred[0]
    if len(preferred) > 1:
        raise ConfigError(f"mapping tables: HIP name '{hip}' has several preferred CUDA names: "
                          f"{', '.join(c.cuda for c in preferred)}", hint="mark exactly one `preferred: true`")
    top = max(priority[c.category] for c in candidates)
    pool = [c for c in candidates if priority[c.category] == top]
    if len(pool) > 1:
        pool = [c for c in pool if not c.deprecated] or pool
    if len(pool) > 1:
        raise ConfigError(f"mapping tables: HIP name '{hip}' maps back to several CUDA names: "
                          f"{', '.join(c.cuda for c in pool)}",
                          hint="mark one entry `preferred: true` (the runtime, non-deprecated spelling)")
    return pool[0]


@functools.lru_cache(maxsize=1)
def load_maps() -> MapTables:
    """The packaged tables (cached)."""
    index = _read_table("index.yaml")
    return build_tables([(fname, _read_table(fname)) for fname in index["tables"]])


def build_tables(named_tables: list[tuple[str, dict[str, Any]]]) -> MapTables:
    """Combine parsed table files into forward and reverse lookups, applying the preference rule."""
    categories: dict[str, dict[str, Any]] = {}
    entries: list[MapEntry] = []
    same: dict[str, str] = {}
    cuda_only: dict[str, str] = {}
    hip_only: dict[str, str] = {}
    namespaces: dict[str, str] = {}
    hip_aliases: dict[str, str] = {}
    mask_intrinsics: dict[str, str] = {}
    wide_bits: dict[str, str] = {}
    hint_loads: dict[str, str] = {}
    hint_stores: dict[str, str] = {}
    for fname, table in named_tables:
        category = table.get("category")
        if not category:
            raise ConfigError(f"mapping table {fname}: missing 'category'", hint="add `category: <name>`")
        categories[category] = {"description": table.get("description", ""),
                                "priority": int(table.get("priority", 0)), "file": fname}
        entries.extend(_entries_of(fname, table))
        for n in table.get("same") or []:
            same[n] = category
        for n in table.get("cuda_only") or []:
            cuda_only[n] = category
        for n in table.get("hip_only") or []:
            hip_only[n] = category
        namespaces.update(table.get("namespaces") or {})
        hip_aliases.update(table.get("hip_aliases") or {})
        mask_intrinsics.update(table.get("mask_intrinsics") or {})
        wide_bits.update(table.get("wide_bit_intrinsics") or {})
        hint_loads.update(table.get("cache_hint_loads") or {})
        hint_stores.update(table.get("cache_hint_stores") or {})

    tables = MapTables(entries, categories, same, cuda_only, hip_only, namespaces_to_hip=namespaces,
                       hip_aliases=hip_aliases, mask_intrinsics=mask_intrinsics, wide_bit_intrinsics=wide_bits,
                       cache_hint_loads=hint_loads, cache_hint_stores=hint_stores)
    # One-way aliases (cublasSgemm_v2) take the rocBLAS spelling of the name they alias.
    roc_of_hip = {e.hip: e.roc for e in entries if e.roc}
    entries = [dataclasses.replace(e, roc=roc_of_hip[e.hip]) if not e.roc and e.hip in roc_of_hip else e
               for e in entries]
    tables.entries = entries
    priority = {c: v["priority"] for c, v in categories.items()}
    by_hip: dict[str, list[MapEntry]] = {}
    by_roc: dict[str, list[MapEntry]] = {}
    for e in entries:
        if e.cuda in tables.to_hip:
            raise ConfigError(f"mapping tables: CUDA name '{e.cuda}' appears twice "
                              f"({tables.to_hip[e.cuda].category} and {e.category})", hint="keep one entry")
        tables.to_hip[e.cuda] = e
        if e.reverse:
            by_hip.setdefault(e.hip, []).append(e)
            if e.roc:
                by_roc.setdefault(e.roc, []).append(e)
    for hip, cands in by_hip.items():
        tables.to_cuda[hip] = _choose_cuda(hip, cands, priority)
    for roc, cands in by_roc.items():
        tables.roc_to_cuda[roc] = _choose_cuda(roc, cands, priority)
    return tables
