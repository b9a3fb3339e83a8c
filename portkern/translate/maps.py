"""Mapping tables CUDA <-> HIP, loaded from ``portkern/data/maps/*.yaml``.

Each table file holds one category. An entry maps a CUDA name to its HIP name (and, for the BLAS and
solver tables, the rocBLAS/rocSOLVER name used with ``roc=True``). Compact forms keep the data short
while every name stays explicit:

* ``renamed_by_prefix``: ``{cuda: cuda, hip: hip, names: [Malloc, ...]}`` means ``cudaMalloc`` <-> ``hipMalloc``.
* ``entries``: ``cuda_name: hip_name`` or ``cuda_name: {hip: ..., roc: ..., preferred: true, deprecated: true}``.
* ``same``: names that are spelled the same in both dialects (recognised, never reported).
* ``cuda_only`` / ``hip_only``: names known to have no counterpart (reported as unconverted).
* ``namespaces`` (renamed only before ``::``), ``hip_aliases`` (old HIP spellings, one way),
  ``hip_header_aliases`` (HIP headers with no CUDA header of their own, one way), ``argument_notes``
  (ROC functions whose arguments differ from the CUDA function's: reported, not rewritten),
  ``mask_intrinsics`` and ``wide_bit_intrinsics`` (data for the warp rules).

Reverse direction (HIP -> CUDA): several CUDA names can share one HIP name (``cudaError_t`` and
``CUresult`` both become ``hipError_t``). The CUDA name chosen is, in order: the entry marked
``preferred: true``; else the one from the table with the higher ``priority`` (runtime API over driver
API); else the one not marked ``deprecated``. A HIP name still ambiguous after these rules is a table
error and loading fails, so the choice is never left to file order.

Documented names (``api_map.json``): every row of the public CUDA <-> HIP API map (HIPIFY's tables,
rebuilt by ``tools/gen_api_map.py``) is loaded after the curated tables above. A curated entry always
wins for its CUDA name; a row adds the names the curated tables lack, with its library as the category,
its ROC spelling (rocBLAS, rocSPARSE, rocRAND, rocSOLVER, MIOpen) and its versions (``api_rows``). A row
without a HIP name is a name with no counterpart (or, when it has a ROC name, one reachable only with
``--roc``). A HIP (or ROC) name that only rows map back is given the CUDA name that comes first by:
not removed from CUDA; not deprecated in CUDA; the higher category priority; not a legacy ``_v2``
spelling; the same stem as the HIP name (``hipDataType`` -> ``cudaDataType``, not ``cublasDataType_t``);
the ``_t`` typedef over the tag it names (``curandStatus_t`` over ``curandStatus``); shorter; alphabetical.
A curated "no counterpart" entry gives way to a documented HIP name. Curated candidates for the same HIP name, when there are any, take precedence.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import pickle
import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

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
    documented: bool = False         # True: from the API map rows (api_map.json), not a curated table
    roc_documented: bool = False     # True: the ROC spelling came from the API map rows


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
    hip_header_aliases: dict[str, str] = field(default_factory=dict)  # HIP header -> CUDA header (one way)
    argument_notes: dict[str, str] = field(default_factory=dict)      # ROC name -> how its arguments differ
    api_rows: dict[str, tuple[str, ...]] = field(default_factory=dict)  # CUDA name -> API map row (versions)
    reverse_only: list[MapEntry] = field(default_factory=list)  # documented HIP spellings of curated names
    api_columns: dict[str, int] = field(default_factory=dict)            # column name -> index in a row
    api_source: str = ""

    def no_counterpart_in(self, category: str, to: str) -> frozenset[str]:
        """Names of one category documented without a counterpart in ``to`` (cached per table set)."""
        cache = self.__dict__.setdefault("_no_counterpart_cache", {})
        key = (category, to)
        if key not in cache:
            source = self.cuda_only if to == "hip" else self.hip_only
            cache[key] = frozenset(k for k, v in source.items() if v == category)
        return cache[key]

    def api_fact(self, cuda: str, column: str) -> str:
        """One column of the documented row for a CUDA name ("" when none): ``api_fact("cudaX", "hip_deprecated")``."""
        row = self.api_rows.get(cuda)
        return row[self.api_columns[column]] if row is not None else ""

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
    import yaml  # only when the tables are built (not when they come from the cache)

    path = resources.files(MAPS_PACKAGE) / name
    try:
        return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
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


API_MAP_FILE = "api_map.json"
# Categories the documented rows add beyond the curated tables' own (description, priority).
API_MAP_CATEGORIES = {
    "cudnn": ("cuDNN <-> hipDNN (roc - MIOpen spelling used with --roc)", 20),
    "rtc": ("NVRTC <-> hipRTC", 20),
    "cucomplex": ("cuComplex <-> hipComplex", 20),
}
# CUDA SIMD-in-word intrinsics (four bytes or two halfwords in a 32-bit word) that HIP lacks; compat.py
# gives each a portable stand-in: op -> (lanes, kind).
SIMD_INTRINSICS = {
    f"__v{op}{lanes}": (lanes, op)
    for op in ("add", "sub", "addss", "subss", "addus", "subus", "avgu", "haddu",
               "absdiffs", "absdiffu", "maxs", "maxu", "mins", "minu", "abs", "absss", "neg", "negss",
               "cmpeq", "cmpne", "cmpges", "cmpgeu", "cmpgts", "cmpgtu", "cmples", "cmpleu", "cmplts", "cmpltu",
               "seteq", "setne", "setges", "setgeu", "setgts", "setgtu", "setles", "setleu", "setlts", "setltu",
               "sads", "sadu")
    for lanes in (2, 4)
}
SIMD_INTRINSICS["__dp4a"] = (4, "dp4a")
# CUDA names without a documented HIP counterpart that a translation rule rewrites (compat.py).
RULE_HANDLED = frozenset({"__activemask", "__syncwarp"}) | frozenset(SIMD_INTRINSICS)
_PLAIN_TYPES = frozenset({"int", "void", "char", "short", "long", "float", "double", "unsigned", "size_t", "bool"})
_STEM = re.compile(r"^(?:[a-z]+|[A-Z]+_)")
_V2 = re.compile(r"_v2(?:_|$)")


def _read_api_map() -> dict[str, Any]:
    path = resources.files(MAPS_PACKAGE) / API_MAP_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"mapping data {API_MAP_FILE}: {exc}",
                          hint="rebuild it: python tools/gen_api_map.py PATH/TO/cuda-hip-api-map.csv") from exc


@functools.lru_cache(maxsize=1)
def load_maps() -> MapTables:
    """The packaged tables plus the documented API rows (cached in memory, and on disk as a pickle keyed
    by the data files and this module, so a command line run skips parsing and building them)."""
    cache = _cache_file()
    if cache is not None:
        try:
            tables = pickle.loads(cache.read_bytes())
            if isinstance(tables, MapTables):
                return tables
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, TypeError, ValueError):
            pass
    index = _read_table("index.yaml")
    tables = build_tables([(fname, _read_table(fname)) for fname in index["tables"]], api_map=_read_api_map())
    if cache is not None:
        try:
            from portkern.fsio import write_bytes

            write_bytes(cache, pickle.dumps(tables, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            pass  # a read-only home: build the tables every run
    return tables


def _cache_file() -> Path | None:
    """``$PORTKERN_CACHE_DIR`` (else ``$XDG_CACHE_HOME/portkern``, else ``~/.cache/portkern``) /
    ``translate-maps-<key>.pickle``; the key changes with any data file or this module. None: no cache."""
    if os.environ.get("PORTKERN_NO_MAPS_CACHE"):
        return None
    folder = resources.files(MAPS_PACKAGE)
    if not isinstance(folder, Path):
        return None
    key = hashlib.sha256(sys.version.encode())
    try:
        for f in sorted([*folder.iterdir(), Path(__file__)]):
            if f.suffix in (".yaml", ".json", ".py"):
                st = f.stat()
                key.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    except OSError:
        return None
    base = os.environ.get("PORTKERN_CACHE_DIR")
    root = Path(base) if base else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "portkern"
    return root / f"translate-maps-{key.hexdigest()[:20]}.pickle"


def parse_version(text: str) -> tuple[int, ...]:
    """``"6.2.0"`` -> ``(6, 2, 0)``; ``""`` -> ``()``. Raises ValueError on anything else."""
    text = text.strip()
    if not text:
        return ()
    if not re.fullmatch(r"\d+(?:\.\d+)*", text):
        raise ValueError(f"not a version: {text!r}")
    parts = tuple(int(x) for x in text.split("."))
    while len(parts) > 1 and parts[-1] == 0:
        parts = parts[:-1]
    return parts


def _stem(name: str) -> str:
    m = _STEM.match(name)
    return name[m.end():] if m else name


def _choose_documented(name: str, candidates: list[MapEntry], priority: dict[str, int],
                       tables: MapTables) -> MapEntry:
    """The deterministic reverse choice among documented rows (see the module docstring)."""
    stem = _stem(name)

    def key(e: MapEntry):
        return (bool(tables.api_fact(e.cuda, "cuda_removed")), bool(tables.api_fact(e.cuda, "cuda_deprecated")),
                -priority.get(e.category, 0), bool(_V2.search(e.cuda)), _stem(e.cuda) != stem,
                e.cuda + "_t" in names, len(e.cuda), e.cuda)
    names = {c.cuda for c in candidates}
    return min(candidates, key=key)


def build_tables(named_tables: list[tuple[str, dict[str, Any]]], api_map: dict[str, Any] | None = None) -> MapTables:
    """Combine parsed table files (and the documented API rows) into forward and reverse lookups,
    applying the preference rules."""
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
    header_aliases: dict[str, str] = {}
    argument_notes: dict[str, str] = {}
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
        header_aliases.update(table.get("hip_header_aliases") or {})
        argument_notes.update(table.get("argument_notes") or {})

    tables = MapTables(entries, categories, same, cuda_only, hip_only, namespaces_to_hip=namespaces,
                       hip_aliases=hip_aliases, mask_intrinsics=mask_intrinsics, wide_bit_intrinsics=wide_bits,
                       cache_hint_loads=hint_loads, cache_hint_stores=hint_stores,
                       hip_header_aliases=header_aliases, argument_notes=argument_notes)
    # One-way aliases (cublasSgemm_v2) take the rocBLAS spelling of the name they alias.
    roc_of_hip = {e.hip: e.roc for e in entries if e.roc}
    entries = [dataclasses.replace(e, roc=roc_of_hip[e.hip]) if not e.roc and e.hip in roc_of_hip else e
               for e in entries]
    if api_map:
        entries = _add_documented(tables, entries, api_map)
    tables.entries = entries
    priority = {c: v["priority"] for c, v in tables.categories.items()}
    by_hip: dict[str, list[MapEntry]] = {}
    by_roc: dict[str, list[MapEntry]] = {}
    for e in tables.reverse_only:
        by_hip.setdefault(e.hip, []).append(e)
    for e in entries:
        if e.cuda in tables.to_hip:
            raise ConfigError(f"mapping tables: CUDA name '{e.cuda}' appears twice "
                              f"({tables.to_hip[e.cuda].category} and {e.category})", hint="keep one entry")
        tables.to_hip[e.cuda] = e
        if e.reverse:
            by_hip.setdefault(e.hip, []).append(e)
            if e.roc:
                by_roc.setdefault(e.roc, []).append(e)
    for lookup, groups, is_roc in ((tables.to_cuda, by_hip, False), (tables.roc_to_cuda, by_roc, True)):
        for name, cands in groups.items():
            if not name:
                continue
            if len(cands) == 1:
                lookup[name] = cands[0]
                continue
            curated = [c for c in cands if not c.documented and not (is_roc and c.roc_documented)]
            lookup[name] = (_choose_cuda(name, curated, priority) if curated
                            else _choose_documented(name, cands, priority, tables))
    return tables


def _add_documented(tables: MapTables, entries: list[MapEntry], api_map: dict[str, Any]) -> list[MapEntry]:
    """Append the API map rows the curated tables lack; fill in missing ROC spellings of curated entries."""
    columns = {c: i for i, c in enumerate(api_map["columns"])}
    tables.api_columns = columns
    tables.api_source = api_map.get("source", "")
    for cat, (desc, prio) in API_MAP_CATEGORIES.items():
        tables.categories.setdefault(cat, {"description": desc, "priority": prio, "file": API_MAP_FILE})
    i_lib, i_cuda, i_hip, i_roc = columns["library"], columns["cuda"], columns["hip"], columns["roc"]
    curated = {e.cuda: k for k, e in enumerate(entries)}
    # names the translation rules rewrite themselves (warp intrinsics, cache hints, compat stand-ins)
    by_rules = (set(tables.mask_intrinsics) | set(tables.wide_bit_intrinsics) | set(tables.cache_hint_loads) |
                set(tables.cache_hint_stores) | set(tables.hip_aliases.values()) | RULE_HANDLED)
    seen: set[str] = set()
    rows = tables.api_rows
    added: list[MapEntry] = []
    reverse_only = tables.reverse_only
    for row in api_map["rows"]:
        cuda = row[i_cuda]
        if cuda in seen:
            continue
        seen.add(cuda)
        rows[cuda] = tuple(row)
        lib, hip, roc = row[i_lib], row[i_hip], row[i_roc]
        k = curated.get(cuda)
        if k is not None:
            if roc and not entries[k].roc:
                entries[k] = dataclasses.replace(entries[k], roc=roc, roc_documented=True)
            if hip and hip != entries[k].hip and hip.isidentifier() and hip not in _PLAIN_TYPES:
                # the documented HIP spelling also maps back (one way: the curated one is written going to HIP)
                reverse_only.append(MapEntry(cuda, hip, entries[k].category, documented=True))
            continue
        if cuda in tables.cuda_only and hip and cuda not in by_rules:
            del tables.cuda_only[cuda]  # the documentation names a counterpart (added in a later ROCm)
        if cuda in tables.same or cuda in tables.cuda_only or (cuda in by_rules and not hip):
            continue
        if lib not in tables.categories:
            tables.categories[lib] = {"description": f"{lib} (documented names)", "priority": 20,
                                      "file": API_MAP_FILE}
        if hip == cuda and (not roc or roc == cuda):
            tables.same[cuda] = lib
        elif not hip and not roc:
            tables.cuda_only[cuda] = lib
        else:
            # a row whose HIP side is a plain C++ type (cusolver_int_t -> int) is one way only
            added.append(MapEntry(cuda, hip, lib, roc=roc, documented=True,
                                  reverse=hip.isidentifier() and hip not in _PLAIN_TYPES))
    return entries + added
