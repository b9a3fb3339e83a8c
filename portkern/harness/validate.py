"""Validation: plan cases (public and hidden), run them in a sandboxed worker, judge every run here.

Public cases use the sizes in ``sizes.validate`` with stable seeds: a tuner sees their results.
Hidden cases are what a candidate never saw: the same sizes with fresh seeds and every distribution
variant (tiny, huge, wide, zeros, sparse, structured), derived sizes (one more, odd, in between),
sizes above the largest public one (odd, so unaligned), and a case launched a random number of times
(up to ~100) on the same buffers. All cases of a validation run in one worker process one after
another, so a kernel that keeps state between calls (a cached result, a stale output, a launch
counter) meets inputs it has not seen.

The worker only launches: inputs, references and every check are made in this process, from the raw
bytes the worker sends back (see ``portkern.worker``), so the candidate cannot reach the verdict.
Before anything runs, the candidate's source is checked for branches on the emulator or the
architecture that the original does not have (``arch_branches``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from portkern.errors import CompileError, ConfigError, KernelTimeoutError, PortkernError, WorkerCrashError
from portkern.harness.compare import check_run
from portkern.harness.inputs import VARIANTS, ZERO_VARIANTS, Case, entries_for, make_case
from portkern.harness.prefetch import Prefetch
from portkern.harness.references import call_reference
from portkern.harness.runners.base import get_runner
from portkern.library import KernelSpec, LibrarySpec, kernel_env, load_library
from portkern.model import CaseResult, CompileOptions, CompileResult, Record, Target, ValidationResult


@dataclass
class CasePlan(Record):
    sizes: dict[str, int]
    dtype: str
    seed: int
    variant: str = "standard"
    visibility: str = "public"          # "public" | "hidden"
    repeats: int = 1                    # launches on the same buffers, contents restored in between
    same_ends_as: int = 0               # seed of the case run just before whose inputs' ends this one copies
    schedule: str = "in-order"          # emulator thread schedule: "in-order" | "reverse" | "shuffle"


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


def sizes_above(sizes_list: list[dict[str, int]], rng: np.random.Generator) -> list[dict[str, int]]:
    """Sizes above the largest public one: every dimension that varies publicly, or is a size rather
    than a small fixed parameter (>= 16), goes up by an odd amount (so the size is unaligned)."""
    if not sizes_list:
        return []
    keys = sorted({k for s in sizes_list for k in s})
    hi = {k: max(s[k] for s in sizes_list if k in s) for k in keys}
    lo = {k: min(s[k] for s in sizes_list if k in s) for k in keys}
    out = []
    for spread in (8, 64):
        cand = {}
        for k in keys:
            if lo[k] < hi[k] or hi[k] >= 16:
                step = int(rng.integers(1, max(hi[k] // spread, 2) + 1)) | 1
                cand[k] = hi[k] + step
            else:
                cand[k] = hi[k]
        out.append(cand)
    return out


def _allowed(kernel: KernelSpec, sizes: dict[str, int], dtype: str, params: dict[str, int] | None) -> bool:
    from portkern.library import DTYPE_BYTES

    try:
        return kernel.allows(kernel_env(kernel, sizes, params), DTYPE_BYTES.get(dtype, 4))
    except (PortkernError, ArithmeticError, ValueError, TypeError, KeyError):
        return False


def plan_cases(kernel: KernelSpec, dtypes: list[str] | None = None, *, hidden: bool = True,
               rng: np.random.Generator | None = None, params: dict[str, int] | None = None) -> list[CasePlan]:
    dtypes = dtypes or list(kernel.dtypes)
    rng = rng or np.random.default_rng(fresh_seed())
    plans: list[CasePlan] = []
    for d in dtypes:
        for i, sizes in enumerate(kernel.sizes_validate):
            plans.append(CasePlan(dict(sizes), d, public_seed(kernel.name, i), "standard", "public"))
    if not hidden or not kernel.sizes_validate:
        return plans
    scaled = [v for v in VARIANTS if v != "standard"]
    public = kernel.sizes_validate
    smallest = min(public, key=lambda s: sum(s.values()))
    for d in dtypes:
        for i, variant in enumerate(scaled):
            plans.append(CasePlan(dict(public[i % len(public)]), d, fresh_seed(), variant, "hidden",
                                  repeats=int(rng.integers(1, 4))))
        for sizes in derived_sizes(public, rng) + sizes_above(public, rng):
            if _allowed(kernel, sizes, d, params):
                plans.append(CasePlan(sizes, d, fresh_seed(), "standard", "hidden",
                                      repeats=int(rng.integers(1, 3))))
    # A twin of a case: same first and last input elements, everything else new. A cache keyed on a
    # few input elements replays the first answer for the second.
    for d in dtypes:
        sizes = max(public, key=lambda s: sum(s.values()))
        anchor = fresh_seed()
        plans.append(CasePlan(dict(sizes), d, anchor, "standard", "hidden"))
        plans.append(CasePlan(dict(sizes), d, fresh_seed(), "standard", "hidden", same_ends_as=anchor))
    # Many launches on one set of buffers: a kernel right only for its first N calls is caught.
    plans.append(CasePlan(dict(smallest), dtypes[0], fresh_seed(), "standard", "hidden",
                          repeats=int(rng.integers(41, 97))))
    # On the emulator, hidden cases run warps in other orders too: a race between warps shows.
    hidden_plans = [p for p in plans if p.visibility == "hidden"]
    for i, plan in enumerate(hidden_plans):
        plan.schedule = SCHEDULES[i % len(SCHEDULES)]
    return plans


SCHEDULES = ("reverse", "shuffle", "in-order")


# --------------------------------------------------------------------------- static checks

# Macros that tell the emulator from a GPU, or one architecture from another.
_ARCH_MACRO = re.compile(r"\b(PORTKERN_EMU\w*|__CUDA_ARCH__|__CUDA_ARCH_\w*|__gfx\w*__|__HIP_DEVICE_COMPILE__|"
                         r"__AMDGCN\w*__|__NVPTX__|__AMDGPU__)")
_PASTE_FRAGMENT = re.compile(r"(PORTKERN|_EMU|CUDA_ARCH|__gfx|gfx\d|DEVICE_COMPILE|AMDGCN|NVPTX)")


def _preprocessor_lines(source: str) -> list[str]:
    """Preprocessor directives with continuation lines joined and comments dropped."""
    text = re.sub(r"/\*.*?\*/", " ", source.replace("\\\n", " "), flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return [line.strip() for line in text.splitlines() if line.lstrip().startswith("#")]


# Macros the emulator defines with the target's own value (its wavefront width): a branch on them takes
# the same side on the emulator and on the device, so it is no way to cheat.
_SAME_ON_EMULATOR = re.compile(r"\b__AMDGCN_WAVEFRONT_SIZE\b")


def _arch_directive(line: str) -> bool:
    line = _SAME_ON_EMULATOR.sub("", line)
    directive = re.match(r"#\s*(\w+)", line)
    name = directive.group(1) if directive else ""
    if name in ("if", "ifdef", "ifndef", "elif", "elifdef", "elifndef"):
        return bool(_ARCH_MACRO.search(line) or _PASTE_FRAGMENT.search(line))
    if name == "define":
        return bool(_ARCH_MACRO.search(line) or ("##" in line and _PASTE_FRAGMENT.search(line)))
    return False


# The device-compilation test in each dialect; a translation swaps one for the other.
_DEVICE_COMPILE = re.compile(r"\b(?:__CUDA_ARCH__|__HIP_DEVICE_COMPILE__)\b")


def _condition_key(line: str) -> str:
    """A directive's condition with the keyword, negation, parentheses and spacing removed: a branch
    that tests the same condition (or its negation, as an #else written out does) has the same key,
    in either dialect's spelling of "compiling for the device"."""
    body = re.sub(r"^#\s*(?:el)?if(?:n?def)?\b", "", line)
    body = _DEVICE_COMPILE.sub("DEVICE_COMPILE", body)
    return re.sub(r"[\s!()]|\bdefined\b", "", body)


def arch_branches(source: str, original: str | None = None, library_text: str = "") -> list[str]:
    """Directives of ``source`` that branch on the emulator or the architecture (or build such a macro
    by token pasting) beyond what ``original`` has; [] when there is none.

    A translation rewrites the original's architecture tests one for one (``__CUDA_ARCH__`` becomes
    ``__HIP_DEVICE_COMPILE__``), so as many rewritten tests as the original had are accepted; a new
    one, or any mention of the emulator's own macro, is not. Directives found anywhere in the library's
    own files (``library_text``: a unit carries its headers' configuration tests) are known too.
    """
    original_lines = [line for line in _preprocessor_lines(original) if _arch_directive(line)] if original else []
    known = set(original_lines)
    library_conditions = {_condition_key(line) for line in _preprocessor_lines(library_text) if _arch_directive(line)}
    mine = [line for line in _preprocessor_lines(source) if _arch_directive(line)]
    unmatched = [line for line in mine if line not in known and (
        "PORTKERN" in line.upper() or _condition_key(line) not in library_conditions)]
    rewrites = max(len(original_lines) - (len(mine) - len(unmatched)), 0)
    found = [line for line in unmatched if "PORTKERN" in line.upper()]
    found += [line for line in unmatched if "PORTKERN" not in line.upper()][rewrites:]
    # Any mention of the emulator's own macro outside a directive (e.g. in a macro argument) counts too.
    if not original or "PORTKERN_EMU" not in original:
        for match in re.finditer(r"PORTKERN_EMU\w*", source):
            line = source[source.rfind("\n", 0, match.start()) + 1: source.find("\n", match.end())].strip()
            if line not in found:
                found.append(line)
    return found


# --------------------------------------------------------------------------- worker side


@dataclass
class LaunchJob:
    """What a worker gets: the binary and the cases' buffers. No reference, no checks, no library."""

    runner: str
    compiled: CompileResult
    target: Target
    cases: list[Case]
    repeats: list[int]
    schedules: list[str] = field(default_factory=list)


def _copy_ends(case: Case, anchor: Case, ends: int = 2) -> None:
    """Give ``case``'s inputs the first and last ``ends`` elements of ``anchor``'s (same sizes)."""
    for name, arg in case.arrays.items():
        if arg.role not in ("input", "inout") or arg.pointer_scalar or name not in anchor.arrays:
            continue
        for (i, s), (j, t) in zip(arg.used_slices(), anchor.arrays[name].used_slices()):
            mine, theirs = case.arrays[name].buffers[i][s], anchor.arrays[name].buffers[j][t]
            k = min(ends, mine.shape[0])
            mine[:k] = theirs[:k]
            mine[mine.shape[0] - k:] = theirs[theirs.shape[0] - k:]


def _read_only_inputs(case: Case) -> tuple[dict[str, list[np.ndarray]], list]:
    """Fresh buffers for ``case`` in page-aligned memory, with the input arguments' pages made
    read-only: a kernel that writes an input, even to restore it later, faults."""
    import ctypes
    import mmap

    libc = ctypes.CDLL(None, use_errno=True)
    page = mmap.PAGESIZE
    keep, out = [], {}
    for name, arg in case.arrays.items():
        bufs = []
        for src in arg.buffers:
            length = max(src.nbytes, 1)
            region = mmap.mmap(-1, (length + page - 1) // page * page)
            arr = np.frombuffer(region, dtype=src.dtype, count=src.shape[0])
            arr[:] = src
            if arg.role == "input":
                libc.mprotect(ctypes.c_void_p(arr.ctypes.data), ctypes.c_size_t(len(region)), mmap.PROT_READ)
            keep.append(region)
            bufs.append(arr)
        out[name] = bufs
    return out, keep


def run_launch_job(job: LaunchJob) -> list[dict]:
    """Top-level worker entry: launch every case in order in one session; return what the buffers hold.

    Each entry is {"buffers": {name: [array, ...]}} or, for the case that failed (the last one
    returned), {"error": cause, "message": text}.
    """
    session = get_runner(job.runner).open_session(job.compiled, job.target)
    out: list[dict] = []
    try:
        schedules = job.schedules or ["in-order"] * len(job.cases)
        for case, repeats, schedule in zip(job.cases, job.repeats, schedules):
            os.environ["PORTKERN_EMU_SCHEDULE"] = schedule
            os.environ["PORTKERN_EMU_SCHEDULE_SEED"] = str(case.seed)
            # Inputs read-only where the runner runs on these very host pages (the emulator) and no
            # restore between launches has to write them.
            protect = job.runner == "emu" and repeats == 1
            buffers, _pages = _read_only_inputs(case) if protect else (case.fresh_buffers(), [])
            try:
                after = session.run(case, buffers, repeats=repeats)
            except PortkernError as exc:
                out.append({"error": exc.cause, "message": str(exc)[:2000]})
                break
            out.append({"buffers": {name: list(bufs) for name, bufs in after.items()}})
    finally:
        session.close()
    return out


# --------------------------------------------------------------------------- caller side


def _case_failed(plan: CasePlan, failure: str, detail: str) -> CaseResult:
    return CaseResult(sizes=plan.sizes, dtype=plan.dtype, seed=plan.seed, passed=False, failure=failure,
                      detail=detail[:2000])


def _buffers_from_reply(case: Case, reply: object, digested: Collection[str] = ()) -> dict[str, list[np.ndarray]] | str:
    """The worker's buffers, checked against the case's layout (the arguments named in ``digested``
    come as digests instead, ``portkern.harness.digest``); a string says what is wrong."""
    if not isinstance(reply, dict) or not isinstance(reply.get("buffers"), dict):
        return "the worker's reply for this case is malformed"
    got = reply["buffers"]
    if set(got) != set(case.arrays) - set(digested):
        return "the worker returned other arguments than the case has"
    for name, arg in case.arrays.items():
        if name in digested:
            continue
        bufs = got[name]
        if not isinstance(bufs, list) or len(bufs) != len(arg.buffers):
            return f"the worker returned {name!r} with the wrong number of buffers"
        for mine, theirs in zip(arg.buffers, bufs):
            if not isinstance(theirs, np.ndarray) or theirs.dtype != mine.dtype or theirs.shape != mine.shape:
                return f"the worker returned {name!r} with the wrong type or shape"
    return got


def judge_case(kernel: KernelSpec, reference, plan: CasePlan, case: Case, reply: object,
               expected_of: Callable[[], dict] | None = None) -> CaseResult:
    """Check one case's run (in this process): layout, then compare.check_run against the reference
    (``expected_of()`` when given: the reference computed while the worker ran)."""
    if isinstance(reply, dict) and "error" in reply:
        return _case_failed(plan, str(reply.get("error") or "launch"), str(reply.get("message", "")))
    after = _buffers_from_reply(case, reply)
    if isinstance(after, str):
        return _case_failed(plan, "crash", after)
    try:
        expected = expected_of() if expected_of else call_reference(reference, case.reference_inputs(), plan.dtype)
    except Exception as exc:  # the reference is library code: report it as the case's failure
        return _case_failed(plan, "reference", f"reference raised {type(exc).__name__}: {exc}")
    result = check_run(kernel, case, after, expected)
    if result.failure == "reference-nan" and plan.variant in ZERO_VARIANTS:
        # Zero inputs can leave a routine undefined (a zero pivot): nothing to compare against.
        result = CaseResult(sizes=plan.sizes, dtype=plan.dtype, seed=plan.seed, passed=True,
                            detail=f"[{plan.variant}] skipped: the reference is undefined for these inputs")
    if plan.visibility == "hidden":
        result.detail = ("hidden case; " + result.detail) if result.detail else "hidden case"
    if plan.repeats > 1:
        result.detail += f"; {plan.repeats} launches on the same buffers"
    return result


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


def asan_default(runner: str) -> bool:
    """Whether emulator builds for validation use AddressSanitizer: on where its runtime is installed,
    unless PORTKERN_VALIDATE_ASAN is 0/false/no/off. Device runners never do."""
    if runner != "emu" or os.environ.get("PORTKERN_VALIDATE_ASAN", "").strip().lower() in ("0", "false", "no", "off"):
        return False
    from portkern import backends

    avail = backends.get("emu").available()
    return bool(avail.ok and avail.details.get("asan_runtime"))


def configured_timeout_s() -> float:
    """validate.timeout_s from portkern.yaml or PORTKERN_VALIDATE_TIMEOUT_S."""
    from portkern.config import load_config

    value = float(load_config()["validate"]["timeout_s"])
    if not value > 0:
        raise ConfigError(f"validate.timeout_s must be a positive number of seconds, got {value}",
                          hint="set validate.timeout_s in portkern.yaml or PORTKERN_VALIDATE_TIMEOUT_S")
    return value


def validate_compiled(library: LibrarySpec, kernel: KernelSpec, compiled: CompileResult, target: Target, *,
                      runner: str = "emu", params: dict[str, int] | None = None, dtypes: list[str] | None = None,
                      hidden: bool = True, cases: list[CasePlan] | None = None,
                      timeout_s: float | None = None) -> ValidationResult:
    """Validate an already compiled kernel on ``runner``: launches in a sandboxed worker, checks here."""
    started = time.monotonic()
    timeout_s = timeout_s if timeout_s is not None else configured_timeout_s()
    plans = cases if cases is not None else plan_cases(kernel, dtypes, hidden=hidden, params=params)
    runs_on = get_runner(runner)
    wave = runs_on.wavefront(compiled, target)
    device = runs_on.device_label(compiled, target)
    reference = library.reference(kernel)
    built = [make_case(kernel, p.sizes, p.dtype, p.seed, variant=p.variant, params=params, reference_view=False)
             for p in plans]
    for plan, case in zip(plans, built):
        if plan.same_ends_as:
            _copy_ends(case, make_case(kernel, plan.sizes, plan.dtype, plan.same_ends_as, variant=plan.variant,
                                       params=params, reference_view=False))
    job = LaunchJob(runner, compiled, target, built, [p.repeats for p in plans], [p.schedule for p in plans])
    # The references are computed here while the worker runs the candidate.
    with Prefetch([(i, functools.partial(_expected, reference, case, plan.dtype))
                   for i, (plan, case) in enumerate(zip(plans, built))]) as prefetch:
        return _run_and_judge(kernel, runner, runs_on, job, plans, built, reference, prefetch, device, wave,
                              started, timeout_s)


def _expected(reference, case: Case, dtype: str) -> dict:
    return call_reference(reference, case.reference_inputs(), dtype)


def _run_and_judge(kernel: KernelSpec, runner: str, runs_on, job: LaunchJob, plans: list[CasePlan], built: list[Case],
                   reference, prefetch: Prefetch, device: str, wave: int, started: float,
                   timeout_s: float) -> ValidationResult:
    try:
        replies = runs_on.run_job(run_launch_job, job, compiled=job.compiled, timeout_s=timeout_s,
                                  label=f"{kernel.name} on {runner}")
    except KernelTimeoutError as exc:
        return _summary(kernel.name, runner, device, wave, [], started, "timeout", str(exc))
    except WorkerCrashError as exc:
        note = ("\n(on the emulator, input arguments are read-only pages: a kernel that writes an input, "
                "even to restore it, faults)") if runner == "emu" and "SIGSEGV" in str(exc) else ""
        return _summary(kernel.name, runner, device, wave, [], started, "crash", str(exc)[-4000:] + note)
    if not isinstance(replies, list) or len(replies) > len(plans):
        return _summary(kernel.name, runner, device, wave, [], started, "crash", "malformed reply from the worker")
    results = [judge_case(kernel, reference, plan, case, reply, prefetch.getter(i))
               for i, (plan, case, reply) in enumerate(zip(plans, built, replies))]
    if len(replies) < len(plans) and all(r.passed for r in results):
        return _summary(kernel.name, runner, device, wave, results, started, "crash",
                        f"the worker stopped after {len(replies)} of {len(plans)} cases")
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


# (root, sources, include folders) -> the library's architecture directives. Computed once per library
# and run (a run starts with forget_library_directives): the files a run reads do not change while it
# runs, and walking the tree and reading every header for each candidate cost more than validating
# small kernels.
_LIBRARY_DIRECTIVES: dict[tuple[str, tuple[str, ...], tuple[str, ...]], str] = {}
_LIBRARY_DIRECTIVES_MAX = 8


def _library_directives(lib: LibrarySpec) -> str:
    """The architecture tests written in the library's own sources and headers."""
    from portkern.ingest.build import library_files

    key = (lib.root, tuple(lib.sources), tuple(lib.include_dirs))   # what library_files reads
    found = _LIBRARY_DIRECTIVES.get(key)
    if found is None:
        lines = []
        for rel in library_files(lib):
            try:
                text = (Path(lib.root) / rel).read_text(errors="replace")
            except OSError:
                continue
            lines += [line for line in _preprocessor_lines(text) if _arch_directive(line)]
        found = "\n".join(lines)
        if len(_LIBRARY_DIRECTIVES) >= _LIBRARY_DIRECTIVES_MAX:
            _LIBRARY_DIRECTIVES.clear()
        _LIBRARY_DIRECTIVES[key] = found
    return found


def forget_library_directives() -> None:
    """Drop the directives read so far: the next validation reads the library's files again."""
    _LIBRARY_DIRECTIVES.clear()


def validate(library: LibrarySpec | str, kernel: KernelSpec | str, target: Target, *, runner: str = "emu",
             source: str | None = None, params: dict[str, int] | None = None, dtypes: list[str] | None = None,
             hidden: bool = True, extra: CompileOptions | None = None,
             timeout_s: float | None = None) -> ValidationResult:
    """Compile and validate one kernel; a compile failure is a failed validation, not an exception.

    A ``source`` other than the kernel's own file is a candidate: it is rejected before it is built
    when it branches on the emulator or the architecture where the original does not.
    """
    lib = library if isinstance(library, LibrarySpec) else load_library(library)
    spec = kernel if isinstance(kernel, KernelSpec) else lib.kernel(kernel)
    started = time.monotonic()
    if source is not None:
        try:
            original = kernel_source(lib, spec)
        except (OSError, UnicodeDecodeError):
            original = None
        branches = arch_branches(source, original, _library_directives(lib))
        if branches:
            return _summary(spec.name, runner, runner, target.wavefront, [], started, "arch-branch",
                            "the candidate branches on the emulator or the architecture, so what is validated "
                            "is not what runs on the device: " + "; ".join(b[:120] for b in branches[:5]))
    try:
        compiled = build(lib, spec, target, runner=runner, source=source, params=params, dtypes=dtypes, extra=extra)
    except CompileError as exc:
        return _summary(spec.name, runner, runner, target.wavefront, [], started, "compile", str(exc)[-4000:])
    return validate_compiled(lib, spec, compiled, target, runner=runner, params=params, dtypes=dtypes,
                             hidden=hidden, timeout_s=timeout_s)
