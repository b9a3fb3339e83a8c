"""Ingest a tree: find files, read macros, scan declarations, assemble the catalog and the units."""

from __future__ import annotations

import hashlib
import os
import pickle
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache, partial
from importlib import metadata, resources
from pathlib import Path

import yaml

from portkern.cache import ContentStore
from portkern.errors import ConfigError
from portkern.ingest import conditions as cond
from portkern.ingest import intrinsics
from portkern.ingest import macros as mac
from portkern.ingest.model import Instantiation, Kernel, KernelCatalog, SkippedRegion
from portkern.ingest.scan import FileIndex, Include, Item, configure, read_preprocessor, scan_file
from portkern.ingest.units import TreeIndex, build_group_unit, build_unit, closure
from portkern.library import LibrarySpec, MacroTable
from portkern.textfiles import MAX_FILE_BYTES, not_source_code  # noqa: F401  (re-exported)

# Bumped whenever what a cached FileIndex holds changes (the code digest in code_version() also is).
INGEST_VERSION = "6"
_FORCED_KINDS = {"kernel": mac.KIND_KERNEL, "device_helper": mac.KIND_DEVICE_HELPER, "launch": mac.KIND_LAUNCH}


@lru_cache(maxsize=1)
def profiles() -> dict[str, dict]:
    return yaml.safe_load(resources.files("portkern.ingest").joinpath("data/profiles.yaml").read_text())


def profile(name: str | None) -> dict:
    if not name:
        return {"dialect": "", "sources": sorted({g for p in profiles().values() for g in p["sources"]}),
                "macros": {}, "fallback_expansion": {}}
    if name not in profiles():
        raise ConfigError(f"unknown ingest profile '{name}'", hint=f"profiles: {', '.join(sorted(profiles()))}")
    return profiles()[name]


class FileCache:
    """Per-file results keyed by content hash (plus the macro table that shaped them).

    Kept in memory; with ``directory`` also on disk, as pickles in the content store (``portkern.cache``).
    Every key carries ``code_version()``, so a disk entry written by other ingest code is never read.
    """

    @classmethod
    def in_store(cls) -> FileCache:
        """The on-disk cache in the configured cache folder (``<cache_dir>/ingest``)."""
        return cls(ContentStore.of("ingest").folder)

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory else None
        self.store = ContentStore(self.directory) if self.directory is not None else None
        self.memory: dict[str, object] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: str):
        if key in self.memory:
            self.hits += 1
            return self.memory[key]
        data = self.store.get_bytes(_store_key(key), ".pkl") if self.store is not None else None
        if data is not None:
            try:
                value = pickle.loads(data)
            except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError):
                pass  # written by another version of the scanner: a miss, replaced on put
            else:
                self.memory[key] = value
                self.hits += 1
                return value
        self.misses += 1
        return None

    def put(self, key: str, value) -> None:
        self.memory[key] = value
        if self.store is not None:
            self.store.put_bytes(_store_key(key), pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), ".pkl")


@lru_cache(maxsize=1)
def code_version() -> str:
    """INGEST_VERSION, this package's code and data, and the parser's version, as one short digest."""
    h = hashlib.sha256(INGEST_VERSION.encode())
    folder = Path(__file__).resolve().parent
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".yaml") and "__pycache__" not in path.parts:
            h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    for dist in ("tree-sitter", "tree-sitter-cuda"):
        try:
            h.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}=?".encode())
    return h.hexdigest()[:12]


def _path_hash(rel: str) -> str:
    return hashlib.sha1(rel.encode()).hexdigest()[:12]


def _store_key(key: str) -> str:
    """The content store's (hex) name of a readable in-memory key."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class _Source:
    rel: str
    data: bytes
    digest: str


# --------------------------------------------------------------------------- public API


def ingest_library(spec: LibrarySpec, cache: FileCache | None = None) -> KernelCatalog:
    """Catalog of a library described by a ``library.yaml``."""
    root = Path(spec.root)
    prof = "rocblas" if spec.dialect == "hip" else "cuda"
    return _ingest(root, library_files(spec), prof, spec.macros, spec.dialect, cache,
                   include_dirs=[root / d for d in spec.include_dirs], defines=spec.defines,
                   header_mode=spec.unit_headers, exclude=spec.unit_exclude)


def library_files(spec: LibrarySpec) -> list[str]:
    """Every file ``ingest_library`` reads, relative to the library root (sorted)."""
    root = Path(spec.root)
    patterns = list(spec.sources) + [f"{d.rstrip('/')}/**/*{ext}" for d in spec.include_dirs
                                     for ext in (".h", ".hpp", ".cuh", ".hxx", ".inl")]
    files = _discover(root, [p for p in patterns if not p.startswith("..") and not os.path.isabs(p)])
    # headers anywhere in the library folder may hold helpers the sources include
    files |= _discover(root, ["**/*.h", "**/*.hpp", "**/*.cuh", "**/*.hxx", "**/*.inl"])
    # include folders outside the library (another library's headers) are read too
    for d in spec.include_dirs:
        outside = (root / d).resolve()
        if not outside.is_relative_to(root.resolve()) and outside.is_dir():
            for p in outside.rglob("*"):
                if p.is_file() and p.suffix in (".h", ".hpp", ".cuh", ".hxx", ".inl"):
                    files.add(os.path.relpath(p, root.resolve()))
    return sorted(files)


def ingest_tree(root: str | Path, profile: str | None = None, macros: MacroTable | None = None,
                cache: FileCache | None = None, defines: dict[str, str | None] | None = None) -> KernelCatalog:
    """Catalog of an arbitrary source tree (a library checkout, a CUDA kernel collection)."""
    root_path = Path(root)
    if not root_path.is_dir():
        raise ConfigError(f"ingest: '{root}' is not a directory", hint="pass the root folder of a source tree")
    prof = _profile_name(profile)
    files = _discover(root_path, globals()["profile"](prof)["sources"])
    return _ingest(root_path, sorted(files), prof, macros, "", cache, include_dirs=[], defines=defines)


def _profile_name(name: str | None) -> str | None:
    if name is not None:
        profile(name)   # validates
    return name


def _discover(root: Path, patterns: list[str]) -> set[str]:
    out: set[str] = set()
    for pattern in patterns:
        for p in root.glob(pattern):
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts):
                out.add(p.relative_to(root).as_posix())
    return out


# --------------------------------------------------------------------------- the passes


def _ingest(root: Path, rels: list[str], profile_name: str | None, macros: MacroTable | None, dialect: str,
            cache: FileCache | None, include_dirs: list[Path],
            defines: dict[str, str | None] | None = None, header_mode: str = "extract",
            exclude: list[str] = ()) -> KernelCatalog:
    started = time.perf_counter()
    cache = cache if cache is not None else FileCache()
    prof = profile(profile_name)
    default_dialect = dialect or prof.get("dialect") or ""
    skipped: list[SkippedRegion] = []

    # pass 1: every file's #defines and #includes. Files are read one at a time and only their
    # digests kept: pass 2 reads a file again only when its scan is not cached.
    table = mac.MacroTableIndex(fallback=dict(prof.get("fallback_expansion") or {}))
    pre: dict[str, tuple[list[mac.MacroDef], list[Include]]] = {}
    digests: dict[str, str] = {}
    for rel in rels:
        s = _read(root, rel, skipped)
        if s is None:
            continue
        key = f"pre-{code_version()}-{s.digest}-{_path_hash(s.rel)}"
        hit = cache.get(key)
        if hit is None:
            try:
                defs, incs = read_preprocessor(s.rel, s.data)
            except Exception as exc:  # noqa: BLE001 - a file the parser chokes on is reported, not fatal
                skipped.append(SkippedRegion(s.rel, 1, 1, f"parser failed on the file ({type(exc).__name__}: {exc})"))
                continue
            hit = (defs, incs)
            cache.put(key, hit)
        pre[s.rel] = hit
        digests[s.rel] = s.digest
        for d in hit[0]:
            table.add(d)
    _force_kinds(table, prof, macros)
    table.resolve_kinds()

    # pass 2: declarations, in the configuration the library is built with. A file's scan depends on
    # its own text and on the tree's macro definitions and configuration, and on nothing else: a file
    # whose text changed is scanned again; a changed #define anywhere rescans every file.
    config = cond.Configuration(values=dict(defines or {}), table=table)
    fingerprint = hashlib.sha1("\0".join([table.fingerprint(), table.definitions_fingerprint(),
                                          config.fingerprint()]).encode()).hexdigest()[:16]
    files: dict[str, FileIndex] = {}
    for rel, digest in digests.items():
        key = f"scan-{code_version()}-{digest}-{fingerprint}-{_path_hash(rel)}"
        fi = cache.get(key)
        if fi is None:
            s = _read(root, rel, skipped)
            if s is None:
                continue
            if s.digest != digest:
                skipped.append(SkippedRegion(rel, 0, 0, "the file changed while it was being ingested; "
                                                        "ingest the tree again"))
                continue
            defs, incs = pre[rel]
            try:
                fi = scan_file(rel, s.data, table, defs, incs, configure(s.data, config))
            except Exception as exc:  # noqa: BLE001
                skipped.append(SkippedRegion(rel, 1, 1, f"scan failed ({type(exc).__name__}: {exc})"))
                continue
            cache.put(key, fi)
        files[rel] = fi

    rank, unresolved, edges = _include_order(root, files, include_dirs)
    index = TreeIndex(files=files, table=table, file_rank=rank, unresolved_includes=unresolved,
                      header_mode=header_mode, edges=edges,
                      include_dirs=[os.path.relpath(d, root) for d in include_dirs], defines=dict(defines or {}),
                      exclude=frozenset(exclude))
    dialects = _dialects(files, edges, default_dialect)
    catalog = _catalog(root, index, profile_name or "", dialects, _listed(macros) if macros else set())
    catalog.skipped = skipped + [r for f in sorted(files) for r in files[f].skipped]
    # Units of kernels launched together are built on request (KernelCatalog.unit_for), from the
    # index; it is kept off the record's fields, so it never reaches the catalog's JSON.
    catalog._group_unit_builder = partial(build_group_unit, index)
    catalog.seconds = time.perf_counter() - started
    return catalog


def _listed(macros: MacroTable) -> set[str]:
    return set(macros.kernel) | set(macros.device_helper) | set(macros.launch)


def _dialects(files: dict[str, FileIndex], edges: dict[str, list[str]], default: str) -> dict[str, str]:
    """Each file's dialect: its own markers, else those of the files it includes, else the default."""
    out: dict[str, str] = {}

    def of(rel: str, seen: set[str]) -> str:
        if rel in out:
            return out[rel]
        hint = files[rel].dialect_hint
        if not hint:
            for inc in edges.get(rel, ()):
                if inc not in seen:
                    seen.add(inc)
                    hint = of(inc, seen)
                    if hint:
                        break
        return hint

    for rel in files:
        out[rel] = of(rel, {rel}) or default or "hip"
    return out


def _force_kinds(table: mac.MacroTableIndex, prof: dict, macros: MacroTable | None) -> None:
    """Macro kinds from the library's table always hold; a profile's only for macros the tree lacks."""
    for kind_field, kind in _FORCED_KINDS.items():
        for name in (prof.get("macros") or {}).get(kind_field, []):
            if name not in table.defs:
                table.force(name, kind)
        for name in getattr(macros, kind_field, []) if macros is not None else []:
            table.force(name, kind)


def _read(root: Path, rel: str, skipped: list[SkippedRegion]) -> _Source | None:
    try:
        data = (root / rel).read_bytes()
    except OSError as exc:
        skipped.append(SkippedRegion(rel, 0, 0, f"cannot read the file ({exc.strerror or exc})"))
        return None
    problem = not_source_code(data)
    if problem:
        skipped.append(SkippedRegion(rel, 0, 0, problem))
        return None
    return _Source(rel, data, hashlib.sha1(data).hexdigest())


def _include_order(root: Path, files: dict[str, FileIndex],
                   include_dirs: list[Path]) -> tuple[dict[str, int], dict[str, list[Include]], dict[str, list[str]]]:
    """Files ordered so that included files come before their includers; includes leaving the tree."""
    by_suffix: dict[str, list[str]] = {}
    for rel in files:
        parts = rel.split("/")
        for i in range(len(parts)):
            by_suffix.setdefault("/".join(parts[i:]), []).append(rel)
    extra = [os.path.normpath(os.path.relpath(d, root)) for d in include_dirs]
    edges: dict[str, list[str]] = {}
    unresolved: dict[str, list[Include]] = {}
    for rel, fi in files.items():
        out = []
        for inc in fi.includes:
            target = _resolve(rel, inc, files, by_suffix, extra)
            if target:
                out.append(target)
            else:
                unresolved.setdefault(rel, []).append(inc)
        edges[rel] = out
    order: list[str] = []
    state: dict[str, int] = {}
    for start in sorted(files):
        stack = [(start, iter(edges[start]))]
        if start in state:
            continue
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[node] = 2
                order.append(node)
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(edges[nxt])))
    return {f: i for i, f in enumerate(order)}, unresolved, edges


def _resolve(rel: str, inc: Include, files: dict[str, FileIndex], by_suffix: dict[str, list[str]],
             include_dirs: list[str]) -> str | None:
    here = os.path.dirname(rel)
    candidates = [os.path.normpath(os.path.join(here, inc.target))] if not inc.system else []
    candidates += [os.path.normpath(os.path.join(d, inc.target)) for d in include_dirs]
    for c in candidates:
        if c in files:
            return c
    found = by_suffix.get(os.path.normpath(inc.target))
    if found and len(found) == 1:
        return found[0]
    if found:
        # the copy nearest the includer (longest shared path prefix)
        return max(found, key=lambda f: (len(os.path.commonprefix([f, rel])), f))
    return None


# --------------------------------------------------------------------------- records


def _catalog(root: Path, index: TreeIndex, profile_name: str, dialects: dict[str, str],
             listed: set[str]) -> KernelCatalog:
    sites_by_kernel: dict[str, list] = {}
    for rel in sorted(index.files):
        for it in index.files[rel].items:
            for site in it.launch_sites:
                sites_by_kernel.setdefault(site.kernel, []).append(site)
    kernels: list[Kernel] = []
    units = {}
    for rel in sorted(index.files, key=lambda f: index.file_rank.get(f, 0)):
        fi = index.files[rel]
        for it in fi.items:
            if it.kind != "kernel" or not it.names:
                continue
            dialect = dialects.get(rel, "hip")
            kernels.append(_kernel_record(index, it, dialect, sites_by_kernel.get(it.names[0], [])))
    for k in kernels:
        if k.name not in units:
            units[k.name] = build_unit(index, k.name, k.dialect)
    counts = Counter(k.dialect for k in kernels)
    decl_kinds = (*mac.EXPANDED_KINDS, mac.KIND_LAUNCH)
    return KernelCatalog(
        root=str(root), profile=profile_name,
        dialect=counts.most_common(1)[0][0] if counts else "",
        files=sorted(index.files), lines=sum(f.lines for f in index.files.values()),
        kernels=kernels, units=units,
        macros={n: index.table.kind(n) for n in sorted(index.table.names_of_kind(*decl_kinds))
                if n in index.table.defs or n in listed})


def _kernel_record(index: TreeIndex, it: Item, dialect: str, sites: list) -> Kernel:
    name = it.names[0]
    cl = closure(index, name)
    helpers = [i for i in cl.items if i.kind in ("function", "prototype")]
    refs: set[str] = set(it.refs)
    asm = it.asm
    shared = list(it.shared)
    for h in helpers:
        refs |= h.refs
        asm = asm or h.asm
        shared.extend(h.shared)
    for m in cl.macros:
        for d in index.table.defs.get(m, ()):
            refs |= d.identifiers()
    inst = [Instantiation(kernel=name, file=i.file, line=i.line, template_args=i.template_args, macro=i.macro)
            for i in cl.items if i.kind == "instantiation"]
    inst.sort(key=lambda r: (r.file, r.line))
    return Kernel(
        name=name, qualified_name=it.qualified_name, file=it.file, line=it.line, end_line=it.end_line,
        dialect=dialect, template_params=it.template_params, params=it.params, launch_bounds=it.launch_bounds,
        declared_by=it.declared_by, static=it.static,
        device_functions=sorted({n for h in helpers for n in h.names}),
        types=sorted({n for i in cl.items if i.kind in ("type", "alias") for n in i.names}),
        globals=sorted({n for i in cl.items if i.kind == "variable" for n in i.names}),
        macros=sorted(cl.macros), shared=shared, intrinsics=intrinsics.summarize(refs, asm),
        launch_sites=list(sites), instantiations=inst)
