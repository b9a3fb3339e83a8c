"""Validation: plan cases (public and hidden), run them in a worker, judge every run.

Public cases use the sizes in ``sizes.validate`` with stable seeds: a tuner sees their results.
Hidden cases are what a candidate never saw: the same sizes with fresh seeds and distribution
variants (tiny, huge, wide), and derived sizes (one more, odd, in between). All cases of a
validation run in one worker process one after another, so a kernel that keeps state between
calls (a cached result, a stale output) meets inputs it has not seen.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from portkern.errors import CompileError, KernelTimeoutError, PortkernError, WorkerCrashError
from portkern.harness.compare import check_run
from portkern.harness.inputs import VARIANTS, entries_for, make_case
from portkern.harness.runners.base import get_runner
from portkern.library import KernelSpec, LibrarySpec, load_library
from portkern.model import CaseResult, CompileOptions, CompileResult, Record, Target, ValidationResult


@dataclass
class CasePlan(Record):
    sizes: dict[str, int]
    dtype: str
    seed: int
    variant: str = "standard"
    visibility: str = "public"          # "public" | "hidden"
    repeats: int = 1                    # launches on the same buffers, contents restored in between


def public_seed(kernel: str, index: int) -> int:
    digest = hashlib.sha256(f"{kernel}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def fresh_seed() -> int:
    return secrets.randbits(32)


def derived_sizes(sizes_list: list[dict[str, int]], rng: np.random.Generator) -> list[dict[str, int]]:
    """Sizes inside the public range that are not public: one more or one less, and a random odd mix."""
    if not sizes_list:
        return []
    keys = sorted({k for s in sizes_list for k in s})
    lo = {k: min(s[k] for s in sizes_list if k in s) for k in keys}
    hi = {k: max(s[k] for s in sizes_list if k in s) for k in keys}
    seen = {tuple(sorted(s.items())) for s in sizes_list}
    out: list[dict[str, int]] = []

    def add(cand: dict[str, int]) -> None:
        key = tuple(sorted(cand.items()))
        if key not in seen:
            seen.add(key)
            out.append(cand)

    for s in sizes_list:
        # A dimension that never varies publicly is a fixed property of the kernel: keep it.
        add({k: (v + 1 if v + 1 <= hi[k] else max(v - 1, lo[k])) if lo[k] < hi[k] else v for k, v in s.items()})
    mix = {}
    for k in keys:
        if lo[k] == hi[k]:
            mix[k] = lo[k]
            continue
        v = int(rng.integers(lo[k], hi[k] + 1))
        mix[k] = v | 1 if (v | 1) <= hi[k] else v
    add(mix)
    return out


def plan_cases(kernel: KernelSpec, dtypes: list[str] | None = None, *, hidden: bool = True,
               rng: np.random.Generator | None = None) -> list[CasePlan]:
    dtypes = dtypes or list(kernel.dtypes)
    rng = rng or np.random.default_rng(fresh_seed())
    plans: list[CasePlan] = []
    for d in dtypes:
        for i, sizes in enumerate(kernel.sizes_validate):
            plans.append(CasePlan(dict(sizes), d, public_seed(kernel.name, i), "standard", "public"))
    if not hidden:
        return plans
    scaled = [v for v in VARIANTS if v != "standard"]
    for d in dtypes:
        for i, sizes in enumerate(kernel.sizes_validate):
            plans.append(CasePlan(dict(sizes), d, fresh_seed(), scaled[i % len(scaled)], "hidden", repeats=2))
        for sizes in derived_sizes(kernel.sizes_validate, rng):
            plans.append(CasePlan(sizes, d, fresh_seed(), "standard", "hidden"))
    return plans


# --------------------------------------------------------------------------- worker side


@dataclass
class ValidationJob:
    runner: str
    library_root: str
    kernel: str
    compiled: CompileResult
    target: Target
    cases: list[CasePlan]
    params: dict[str, int] = field(default_factory=dict)


def run_case(session, kernel: KernelSpec, reference, plan: CasePlan, params: dict[str, int]) -> CaseResult:
    case = make_case(kernel, plan.sizes, plan.dtype, plan.seed, variant=plan.variant, params=params,
                     reference_view=False)
    try:
        after = session.run(case, case.fresh_buffers(), repeats=plan.repeats)
    except PortkernError as exc:
        return CaseResult(sizes=plan.sizes, dtype=plan.dtype, seed=plan.seed, passed=False, failure=exc.cause,
                          detail=str(exc)[:2000])
    try:
        expected = reference(case.reference_inputs(), plan.dtype)
    except Exception as exc:  # the reference is library code: report, do not crash the worker
        return CaseResult(sizes=plan.sizes, dtype=plan.dtype, seed=plan.seed, passed=False, failure="reference",
                          detail=f"reference raised {type(exc).__name__}: {exc}")
    result = check_run(kernel, case, after, expected)
    if plan.visibility == "hidden":
        result.detail = ("hidden case; " + result.detail) if result.detail else "hidden case"
    return result


def run_validation_job(job: ValidationJob) -> list[CaseResult]:
    """Top-level (picklable) worker entry: every case of one validation, in order, in one session."""
    library = load_library(job.library_root)
    kernel = library.kernel(job.kernel)
    reference = library.reference(kernel)
    session = get_runner(job.runner).open_session(job.compiled, job.target)
    try:
        return [run_case(session, kernel, reference, plan, job.params) for plan in job.cases]
    finally:
        session.close()


def device_label(runner: str, compiled: CompileResult, target: Target) -> str:
    if runner == "emu":
        return f"cpu-emulator (wave{compiled.options.wavefront or target.wavefront})"
    return target.display_name


# --------------------------------------------------------------------------- caller side


def _summary(kernel: str, runner: str, device: str, wave: int, cases: list[CaseResult], started: float,
             failure: str = "", detail: str = "") -> ValidationResult:
    first_bad = next((c for c in cases if not c.passed), None)
    if first_bad and not failure:
        failure = first_bad.failure
        detail = (f"{first_bad.dtype} sizes {first_bad.sizes} seed {first_bad.seed}: {first_bad.detail}")
    return ValidationResult(kernel=kernel, backend=runner, device=device, wavefront=wave,
                            passed=not failure and bool(cases), cases=cases, failure=failure or
                            ("" if cases else "no-cases"), detail=detail, seconds=time.monotonic() - started)


def validate_compiled(library: LibrarySpec, kernel: KernelSpec, compiled: CompileResult, target: Target, *,
                      runner: str = "emu", params: dict[str, int] | None = None, dtypes: list[str] | None = None,
                      hidden: bool = True, cases: list[CasePlan] | None = None,
                      timeout_s: float = 300.0) -> ValidationResult:
    """Validate an already compiled kernel on ``runner`` (in a worker process)."""
    from portkern.worker import run_in_worker

    started = time.monotonic()
    plans = cases if cases is not None else plan_cases(kernel, dtypes, hidden=hidden)
    wave = (compiled.options.wavefront or target.wavefront) if runner == "emu" else target.wavefront
    device = device_label(runner, compiled, target)
    job = ValidationJob(runner, library.manifest_path, kernel.name, compiled, target, plans, dict(params or {}))
    try:
        env = get_runner(runner).worker_env(compiled) or None
        results = run_in_worker(run_validation_job, job, timeout_s=timeout_s, label=f"{kernel.name} on {runner}",
                                env=env)
    except KernelTimeoutError as exc:
        return _summary(kernel.name, runner, device, wave, [], started, "timeout", str(exc))
    except WorkerCrashError as exc:
        return _summary(kernel.name, runner, device, wave, [], started, "crash", str(exc)[-4000:])
    return _summary(kernel.name, runner, device, wave, results, started)


def kernel_source(library: LibrarySpec, kernel: KernelSpec) -> str:
    return (Path(library.root) / kernel.file).read_text()


def library_compile_options(library: LibrarySpec, extra: CompileOptions | None = None) -> CompileOptions:
    opts = CompileOptions.from_dict(extra.to_dict()) if extra else CompileOptions()
    # Caller's directories first, so a translated header shadows the library's original.
    opts.include_dirs = list(opts.include_dirs) + [str(Path(library.root) / d) for d in library.include_dirs]
    opts.flags = list(library.compile_flags) + list(opts.flags)
    return opts


def build(library: LibrarySpec, kernel: KernelSpec, target: Target, *, runner: str = "emu",
          source: str | None = None, params: dict[str, int] | None = None, dtypes: list[str] | None = None,
          extra: CompileOptions | None = None) -> CompileResult:
    """Compile ``source`` (default: the kernel's file) with every entry the kernel's launches need."""
    dtypes = dtypes or list(kernel.dtypes)
    entries: list[str] = []
    for d in dtypes:
        for e in entries_for(kernel, d, params, kernel.sizes_validate + kernel.sizes_bench):
            if e not in entries:
                entries.append(e)
    src = source if source is not None else kernel_source(library, kernel)
    return get_runner(runner).compile(src, target, entries, extra=library_compile_options(library, extra),
                                      name=kernel.name)


def validate(library: LibrarySpec | str, kernel: KernelSpec | str, target: Target, *, runner: str = "emu",
             source: str | None = None, params: dict[str, int] | None = None, dtypes: list[str] | None = None,
             hidden: bool = True, extra: CompileOptions | None = None,
             timeout_s: float = 300.0) -> ValidationResult:
    """Compile and validate one kernel; a compile failure is a failed validation, not an exception."""
    lib = library if isinstance(library, LibrarySpec) else load_library(library)
    spec = kernel if isinstance(kernel, KernelSpec) else lib.kernel(kernel)
    started = time.monotonic()
    try:
        compiled = build(lib, spec, target, runner=runner, source=source, params=params, dtypes=dtypes, extra=extra)
    except CompileError as exc:
        return _summary(spec.name, runner, runner, target.wavefront, [], started, "compile", str(exc)[-4000:])
    return validate_compiled(lib, spec, compiled, target, runner=runner, params=params, dtypes=dtypes,
                             hidden=hidden, timeout_s=timeout_s)
