"""The stage functions the DAG runs, and their registry.

Each stage takes plain typed inputs (Records, strings, dicts) and returns a JSON-serialisable payload
or a ``StageResult`` when its status is not simply ``ok``. Stages never look at one another's
internals: the DAG hands each what it needs. Bumping a stage's ``version`` invalidates its cache
entries.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portkern import backends
from portkern.errors import ConfigError
from portkern.ingest import ingest_library
from portkern.ingest.build import FileCache
from portkern.library import KernelSpec, LibrarySpec, instantiate, kernel_env
from portkern.model import CompileOptions, Target
from portkern.pipeline import harness_adapter, keys
from portkern.pipeline.kernels import include_dirs, primary_dtype
from portkern.pipeline.result import StageResult
from portkern.translate import translate_source


@dataclass
class StageSpec:
    name: str
    fn: Callable[..., Any]
    version: int
    cacheable: bool = True
    toolchain: list[str] = field(default_factory=list)        # toolchain identity entries in the key
    cacheable_failures: tuple[str, ...] = ()                   # causes that are facts about the input
    # inputs -> what the cache key covers (default: the inputs as given); see pipeline/keys.py
    key: Callable[[dict[str, Any]], dict[str, Any]] | None = None


STAGES: dict[str, StageSpec] = {}


def stage(name: str, version: int, *, cacheable: bool = True, toolchain: tuple[str, ...] = (),
          cacheable_failures: tuple[str, ...] = (), key: Callable[[dict[str, Any]], dict[str, Any]] | None = None):
    def register(fn):
        STAGES[name] = StageSpec(name, fn, version, cacheable, list(toolchain), cacheable_failures, key)
        return fn
    return register


# --------------------------------------------------------------------------- ingest

_CATALOGS: dict[tuple[str, str], Any] = {}
_CATALOG_LOCK = threading.Lock()


def library_digest(library: LibrarySpec) -> str:
    """sha256 over every file ingest reads (sources and headers), by path relative to the library root."""
    from portkern.ingest.build import library_files

    root = Path(library.root)
    h = hashlib.sha256()
    for rel in library_files(library):
        h.update(rel.encode() + b"\0" + keys.file_digest(root / rel).encode())
    return h.hexdigest()


def package_digest(module: str) -> str:
    """sha256 (12 hex digits) of every file of one of portkern's packages (part of the cache identity)."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"package {module} is not part of this portkern installation",
                          hint="reinstall portkern (`make setup`)")
    h = hashlib.sha256()
    for folder in spec.submodule_search_locations:
        root = Path(folder)
        for p in sorted(root.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                h.update(str(p.relative_to(root)).encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:12]


def _catalog(library: LibrarySpec, digest: str):
    with _CATALOG_LOCK:  # one parse per library per process, however many kernels ask
        key = (library.root, digest)
        if key not in _CATALOGS:
            # parsed files come from the on-disk cache: a library edited in one file reparses that file
            _CATALOGS[key] = ingest_library(library, cache=FileCache.in_store())
        return _CATALOGS[key]


_LOCAL_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"[ \t]*$', re.M)
_PRAGMA_ONCE = re.compile(r"^[ \t]*#[ \t]*pragma[ \t]+once[ \t]*$", re.M)


def inline_local_includes(path: Path, search_dirs: list[str], _seen: set[Path] | None = None) -> str:
    """The file's text with each quoted include found in the library replaced by its (inlined) text.

    Each header is inlined once, as ``#pragma once`` or include guards would have it; includes not
    found in the library (system and runtime headers) stay as written.
    """
    seen = _seen if _seen is not None else set()
    seen.add(path.resolve())
    text = _PRAGMA_ONCE.sub("", path.read_text(encoding="utf-8", errors="replace"))

    def replace(m: re.Match) -> str:
        for folder in [str(path.parent), *search_dirs]:
            cand = (Path(folder) / m.group(1)).resolve()
            if cand.is_file():
                if cand in seen:
                    return f"// {m.group(0).strip()} (inlined above)"
                return f"// begin {m.group(1)}\n{inline_local_includes(cand, search_dirs, seen)}\n// end {m.group(1)}"
        return m.group(0)

    return _LOCAL_INCLUDE.sub(replace, text)


def _ingest_key(args: dict[str, Any]) -> dict[str, Any]:
    library, kernel = args["library"], args["kernel"]
    return {"library": keys.library_view(library, "dialect", "sources", "include_dirs", "macros", "defines",
                                         "unit_headers", "unit_exclude"),
            "kernel": kernel, "library_digest": args["library_digest"],
            "kernel_file": keys.file_digest(Path(library.root) / kernel.file)}  # the fallback reads it


@stage("ingest", version=5, toolchain=("ingest",), key=_ingest_key)
def ingest_stage(library: LibrarySpec, kernel: KernelSpec, library_digest: str) -> dict[str, Any]:
    symbols = list(dict.fromkeys(launch.symbol for launch in kernel.launches)) or [kernel.symbol]
    kernel_file = Path(library.root) / kernel.file
    # The source file's hash is dataset provenance: which bytes of the library a record came from.
    file_sha256 = hashlib.sha256(kernel_file.read_bytes()).hexdigest() if kernel_file.is_file() else ""
    base = {"dialect": library.dialect, "symbol": kernel.symbol, "symbols": symbols, "file": kernel.file,
            "file_sha256": file_sha256}
    catalog = _catalog(library, library_digest)
    if len(symbols) == 1:
        unit = catalog.unit(symbols[0])
        return {**base, "source": unit.source, "unit": "kernel-unit", "lines": unit.lines,
                "notes": list(unit.notes)}
    # Kernels launched together (a reduction and its finalize kernel) share one unit. Types the
    # launches pass as template arguments (a finalize functor) must be in it too, since the compile
    # stage instantiates the launches' expressions in that unit.
    placeholders = {"T", *kernel.tunables, *kernel.defaults}
    template_names = [n for launch in kernel.launches for t in launch.template_args
                      for n in re.findall(r"[A-Za-z_]\w*", str(t)) if n not in placeholders]
    try:
        unit = catalog.unit_for(symbols, extra_names=list(dict.fromkeys(template_names)))
    except Exception as exc:  # noqa: BLE001 - any failure of the extraction falls back, with a note
        why = f"no unit for {', '.join(symbols)} ({type(exc).__name__}: {exc})"
    else:
        return {**base, "source": unit.source, "unit": "kernel-unit", "lines": unit.lines,
                "notes": list(unit.notes)}
    # Fallback: the kernel's whole source file, which defines the kernels together, with the
    # library's own headers inlined so that the text stands alone (host launchers included).
    path = Path(library.root) / kernel.file
    text = inline_local_includes(path, include_dirs(library, kernel))
    missing = [s for s in symbols if s not in text]
    if missing:
        raise ConfigError(f"{kernel.file}: kernel '{kernel.name}' launches {', '.join(missing)}, which the file "
                          f"does not define", hint="list the file that defines every launched kernel")
    return {**base, "source": text, "unit": "whole-file", "lines": text.count("\n") + 1,
            "notes": [f"{why}: the whole file is the unit, host launchers included"]}


# --------------------------------------------------------------------------- translate


@stage("translate", version=1, toolchain=("translate",), cacheable_failures=("translate", "parse"))
def translate_stage(source: str, source_dialect: str, target_dialect: str, filename: str) -> StageResult | dict:
    result = translate_source(source, to=target_dialect, filename=filename)
    hazards = [h.to_dict() if hasattr(h, "to_dict") else dict(h) for h in getattr(result, "hazards", [])]
    open_hazards = [h for h in hazards if not h.get("fixed", False)]
    payload = {"source": result.text, "hazards": hazards, "open_hazards": len(open_hazards),
               "from": source_dialect, "to": target_dialect}
    if open_hazards:
        kinds = sorted({str(h.get("kind", "?")) for h in open_hazards})
        return StageResult(stage="translate", task="", kernel="", status="ok", payload=payload,
                           reason=f"{len(open_hazards)} hazard(s) the rules cannot fix: {', '.join(kinds)}")
    return payload


# --------------------------------------------------------------------------- compile


def entry_expressions(kernel: KernelSpec, params: dict[str, int]) -> list[str]:
    """Kernel name expressions of every launch for every dtype (contract 1)."""
    sizes = kernel.sizes_validate[0] if kernel.sizes_validate else {}
    env = kernel_env(kernel, sizes, params)
    out: list[str] = []
    for dtype in kernel.dtypes:
        for launch in kernel.launches:
            targs = instantiate(launch.template_args, dtype, env)
            expr = f"{launch.symbol}<{', '.join(targs)}>" if targs else launch.symbol
            if expr not in out:
                out.append(expr)
    return out


def target_backend_name(target: Target) -> str:
    """The backend the target's row names (the only vendor-to-backend map is the targets file)."""
    return target.backend


def _compile_options(kernel: KernelSpec, library: LibrarySpec, target: Target, params: dict[str, int],
                     library_flags: list[str]) -> CompileOptions:
    # The entries (and code object kind) the harness will load, so a device run needs no rebuild.
    entry_list = harness_adapter.entries(kernel, params) or entry_expressions(kernel, params)
    extra = CompileOptions(include_dirs=include_dirs(library, kernel), flags=list(library_flags))
    return harness_adapter.device_compile_options(target, entry_list, extra)


def _compile_key(args: dict[str, Any]) -> dict[str, Any]:
    """What the compiler reads: the source, the options (library folders relative), the headers."""
    library, kernel = args["library"], args["kernel"]
    options = _compile_options(kernel, library, args["target"], args["params"], args["library_flags"]).to_dict()
    dirs = options["include_dirs"]
    options["include_dirs"] = keys.relative_dirs(dirs, library.root)
    return {"source": args["source"], "name": kernel.name, "target": args["target"], "options": options,
            "headers": keys.header_digests(args["source"], dirs, library.root)}


@stage("compile", version=1, toolchain=("compile",), cacheable_failures=("compile",), key=_compile_key)
def compile_stage(source: str, kernel: KernelSpec, library: LibrarySpec, target: Target,
                  params: dict[str, int], library_flags: list[str]) -> dict[str, Any]:
    backend = backends.for_target(target)
    options = _compile_options(kernel, library, target, params, library_flags)
    result = backend.compile(source, target, options, name=kernel.name)
    return result.to_dict()


# --------------------------------------------------------------------------- validate and bench


# Validation failures kept apart from wrong values in the summary (the rest count as "mismatch").
VALIDATION_CAUSES = ("compile", "launch", "load", "crash", "timeout", "no-cases")


def _run_key(args: dict[str, Any]) -> dict[str, Any]:
    """Validation and timing read the kernel's own spec, its reference function, the library's build
    settings and the headers the source includes (relative to the library root), and the compile result;
    the harness version is in the toolchain part of the key."""
    library, kernel = args["library"], args["kernel"]
    out = {k: v for k, v in args.items() if k not in ("library", "compiled")}
    out["library"] = keys.library_view(library, "dialect", "include_dirs", "compile_flags")
    out["reference"] = keys.reference_digest(library, kernel)
    out["compiled"] = keys.compiled_view(args.get("compiled") or {})
    if "source" in args:
        out["headers"] = keys.header_digests(args["source"], include_dirs(library, kernel), library.root)
    return out


@stage("validate", version=1, toolchain=("validate",), cacheable_failures=("mismatch", "compile", "launch"),
       key=_run_key)
def validate_stage(source: str, kernel: KernelSpec, library: LibrarySpec, target: Target,
                   params: dict[str, int], compiled: dict[str, Any], use_device: bool) -> StageResult:
    validation = harness_adapter.validate(source, kernel, library, target, params, compiled, use_device)
    payload = validation.to_dict()
    where = validation.device or ("device" if use_device else "emulator")
    if validation.passed:
        return StageResult(stage="validate", task="", kernel="", status="ok", payload=payload,
                           reason=f"passed {len(validation.cases)} case(s) on {where}")
    # The emulator build, a hang and a crash are told apart from wrong values.
    cause = validation.failure if validation.failure in VALIDATION_CAUSES else "mismatch"
    return StageResult(stage="validate", task="", kernel="", status="failed", cause=cause, payload=payload,
                       reason=f"{validation.failure or 'failed'} on {where}: {validation.detail}".strip())


@stage("predict", version=1, cacheable=False)
def predict_stage(kernel: KernelSpec, target: Target, params: dict[str, int], compiled: dict[str, Any],
                  source: str = "", gate: dict[str, Any] | None = None) -> StageResult:
    """The performance model's prediction at the primary bench point, and whether the candidate is
    worth validating and timing (ruled out only when its whole predicted interval loses to ``gate``)."""
    from portkern.perfmodel.predict import RULED_OUT, current_model, decide, predict_point

    if not kernel.sizes_bench:
        return StageResult(stage="predict", task="", kernel="", payload={}, reason="no bench sizes")
    model = current_model(target)
    sizes, dtype = kernel.sizes_bench[0], primary_dtype(kernel)
    p = predict_point(kernel, sizes, dtype, target, compiled, params, source, model)
    keep, why = decide(p.ms, gate, model)
    payload = {"prediction": {**p.to_dict(), "sizes": sizes, "dtype": dtype}, "keep": keep}
    if not keep:
        return StageResult(stage="predict", task="", kernel="", status="skipped", cause=RULED_OUT, payload=payload,
                           reason=f"ruled out by the performance model: {why}")
    return StageResult(stage="predict", task="", kernel="", payload=payload, reason=why)


@stage("bench", version=2, toolchain=("bench",), key=_run_key)
def bench_stage(kernel: KernelSpec, library: LibrarySpec, target: Target, params: dict[str, int],
                compiled: dict[str, Any], use_device: bool, full: bool = True, source: str = "",
                model_id: str = "", vendor: bool = False, profile: bool = False) -> StageResult:
    """Time on the device, or predict (``model_id`` names the model, so the cache follows it); with
    ``profile``, a candidate timed correctly also gets its profiler counters (``portkern.harness.profile``)."""
    results = harness_adapter.bench(kernel, library, target, params, compiled, use_device, full=full,
                                    source=source, vendor=vendor)
    if not results:
        raise ConfigError(f"kernel '{kernel.name}' has no bench sizes to time",
                          hint="add sizes.bench to its library.yaml entry")
    primary = primary_bench(results, kernel)
    payload = {"bench": [b.to_dict() for b in results], "score_ms": primary.median_ms,
               "spread_ms": primary.spread_ms, "method": primary.method}
    failing = harness_adapter.bench_failures(results)
    if failing:
        cause = failing[0].split(":")[0]
        return StageResult(stage="bench", task="", kernel="", status="failed", cause=cause, payload=payload,
                           reason=f"{len(failing)} timing(s) rejected: {'; '.join(failing)[:1000]}"
                                  + (" (a bug in the measurement or the kernel, not a win)"
                                     if cause == "above-roofline" else ""))
    if profile and use_device and primary.method != "estimate":
        payload["profile"] = harness_adapter.profile(kernel, library, target, params, compiled)
    if primary.method == "estimate":
        return StageResult(stage="bench", task="", kernel="", status="estimated", payload=payload,
                           reason=f"no {target.vendor.upper()} GPU here: predicted by the performance model "
                                  f"from the {target.name} compiler's report, the source and the target's specs")
    return StageResult(stage="bench", task="", kernel="", status="ok", payload=payload)


def primary_bench(results: list, kernel: KernelSpec):
    """The score is the median at the first bench size in the primary dtype."""
    dtype = primary_dtype(kernel)
    first_sizes = kernel.sizes_bench[0] if kernel.sizes_bench else None
    for b in results:
        if b.dtype == dtype and (first_sizes is None or b.sizes == first_sizes):
            return b
    return results[0]


# --------------------------------------------------------------------------- search (the join of a round)


@stage("search", version=1, cacheable=False)
def search_stage(candidates: list[dict[str, Any]], base_source: str = "", original_source: str | None = None,
                 hazards: list[dict[str, Any]] | None = None, **results: StageResult) -> dict:
    """Assemble the round's Evaluations from its compile/validate/bench results (runs even on failures)."""
    from portkern.model import BenchResult, ResourceReport, ValidationResult
    from portkern.search.base import Candidate, Evaluation

    evaluations = []
    for cd in candidates:
        cand = Candidate.from_dict(cd)
        if not cand.source:
            cand.source = base_source
        comp = results.get(f"{cand.id}|compile")
        val = results.get(f"{cand.id}|validate")
        ben = results.get(f"{cand.id}|bench")
        pre = results.get(f"{cand.id}|predict")
        ev = Evaluation(candidate=cand, compiled=bool(comp and comp.status == "ok"))
        if pre is not None and pre.payload.get("prediction"):
            ev.prediction = {**pre.payload["prediction"], "kept": bool(pre.payload.get("keep", True)),
                             "reason": pre.reason}
        if comp is not None and comp.status == "failed":
            ev.compile_error = comp.reason
        if ev.compiled:
            res = comp.payload.get("resources") or {}
            rep = _primary_report(comp.payload, res)
            ev.resources = ResourceReport.from_dict(rep) if rep else None
        if val is not None and val.payload:
            ev.validation = ValidationResult.from_dict(val.payload)
        if ben is not None and ben.payload and ben.status in ("ok", "estimated"):
            ev.bench = [BenchResult.from_dict(b) for b in ben.payload.get("bench", [])]
            ev.score_ms = float(ben.payload.get("score_ms", 0.0))
            ev.spread_ms = float(ben.payload.get("spread_ms", 0.0))
            counters = ben.payload.get("profile") or {}
            ev.profile = {} if "error" in counters else dict(counters)
        # Device time this candidate cost (the strategies' GPU-seconds budget); cached work cost none.
        ev.gpu_seconds = sum(r.seconds for r in (val, ben) if r is not None and not r.cached and _ran_on_device(r))
        evaluations.append(ev.to_dict())
    out: dict[str, Any] = {"evaluations": evaluations}
    if original_source is not None:
        out["original_source"] = original_source
    if hazards is not None:
        out["hazards"] = hazards
    return out


def _ran_on_device(result: StageResult) -> bool:
    payload = result.payload or {}
    if result.stage == "validate":
        return payload.get("backend") in ("cuda", "hip")
    return result.stage == "bench" and payload.get("method") == "device-events"


def _primary_report(compiled: dict[str, Any], resources: dict[str, Any]) -> dict[str, Any]:
    """The resource report of the first entry the harness launches.

    Chosen by the ordered entry list of the compile options, never by the order of a mapping: a
    compile result read back from the stage cache has its keys sorted, so "the first key" of
    ``entry_map`` or ``resources`` names another kernel on a warm cache than on a cold one.
    """
    entry_map = compiled.get("entry_map") or {}
    entries = list((compiled.get("options") or {}).get("entries") or [])
    for expr in entries:
        symbol = entry_map.get(expr)
        if symbol and symbol in resources:
            return resources[symbol]
    for symbol in sorted(entry_map.values()):
        if symbol in resources:
            return resources[symbol]
    return resources[min(resources)] if resources else {}

