"""The pipeline's one door into portkern.harness (validation and timing).

Kept in one small module so the stages do not depend on the harness's internal layout.
"""

from __future__ import annotations

import importlib
from typing import Any

from portkern.errors import ToolMissingError
from portkern.library import KernelSpec, LibrarySpec
from portkern.model import (
    BenchResult,
    CompileOptions,
    CompileResult,
        Target,
    ValidationResult,
)

DEVICE_RUNNER = {"nvidia": "cuda", "amd": "hip"}


def _missing(what: str, exc: ImportError) -> ToolMissingError:
    return ToolMissingError("portkern.harness", what,
                            f"install portkern with all its packages (`make setup`); import failed: {exc}")


def device_available(target: Target) -> tuple[bool, str]:
    """Whether a GPU of the target's vendor is usable here, and why not."""
    try:
        from portkern.harness.runners.base import get_runner
    except ImportError as exc:
        return False, str(_missing("device runs", exc))
    avail = get_runner(DEVICE_RUNNER[target.vendor]).available()
    if avail.ok:
        return True, ", ".join(avail.devices) or "device found"
    return False, avail.reason or f"no {target.vendor.upper()} GPU"


def entries(kernel: KernelSpec, params: dict[str, int]) -> list[str] | None:
    """Every kernel name expression validation and timing will launch (None: harness not installed)."""
    try:
        from portkern.harness.inputs import entries_for
    except ImportError:
        return None
    out: list[str] = []
    for dtype in kernel.dtypes:
        for e in entries_for(kernel, dtype, params, kernel.sizes_validate + kernel.sizes_bench):
            if e not in out:
                out.append(e)
    return out


def device_compile_options(target: Target, entry_list: list[str], extra: CompileOptions) -> CompileOptions:
    """Options the device runner of the target's vendor loads (code object kind), else ``extra`` as is."""
    try:
        from portkern.harness.runners.base import get_runner
    except ImportError:
        opts = CompileOptions.from_dict(extra.to_dict())
        opts.entries = list(entry_list)
        return opts
    return get_runner(DEVICE_RUNNER[target.vendor]).compile_options(target, entry_list, extra)


def validate(source: str, kernel: KernelSpec, library: LibrarySpec, target: Target, params: dict[str, int],
             compiled: dict[str, Any], use_device: bool, timeout_s: float | None = None) -> ValidationResult:
    try:
        hv = importlib.import_module("portkern.harness.validate")
    except ImportError as exc:
        raise _missing("the validate stage", exc) from exc
    if use_device:
        return hv.validate_compiled(library, kernel, CompileResult.from_dict(compiled), target,
                                    runner=DEVICE_RUNNER[target.vendor], params=params, timeout_s=timeout_s)
    # On the emulator the unit is built for the CPU at the target's wavefront width.
    from portkern.pipeline.stages import include_dirs

    extra = CompileOptions(include_dirs=include_dirs(library, kernel), sanitize=hv.asan_default("emu"))
    return hv.validate(library, kernel, target, runner="emu", source=source, params=params, extra=extra,
                       timeout_s=timeout_s)


def bench(kernel: KernelSpec, library: LibrarySpec, target: Target, params: dict[str, int],
          compiled: dict[str, Any], use_device: bool, full: bool = True) -> list[BenchResult]:
    """Every bench size and dtype (``full``; with the vendor baseline), or the primary dtype only:
    timed on the device, or estimated from the roofline and resources."""
    try:
        hb = importlib.import_module("portkern.harness.bench")
        inputs = importlib.import_module("portkern.harness.inputs")
    except ImportError as exc:
        raise _missing("the bench stage", exc) from exc
    record = CompileResult.from_dict(compiled)
    from portkern.pipeline.stages import primary_dtype

    out = []
    for dtype in (kernel.dtypes if full else [primary_dtype(kernel)]):
        for i, sizes in enumerate(kernel.sizes_bench):
            if use_device:
                out.append(hb.bench(library, kernel, record, target, runner=DEVICE_RUNNER[target.vendor],
                                    sizes=sizes, dtype=dtype, params=params, baseline=full,
                                    measure_copy=full and i == 0 and dtype == kernel.dtypes[0]))
                continue
            # The launch with the lowest occupancy bounds a multi-launch kernel's estimate.
            names = inputs.entries_for(kernel, dtype, params, [sizes])
            reports = [record.resources[record.entry_map[n]] for n in names
                       if n in record.entry_map and record.entry_map[n] in record.resources]
            worst = min(reports, key=lambda r: r.occupancy_fraction, default=None)
            out.append(hb.estimate(kernel, sizes, dtype, target, resources=worst, params=params))
    return out


def bench_failures(results: list[BenchResult]) -> list[str]:
    """Flags that make a timing a failure (above the roofline, wrong timed output, crash, ...)."""
    hb = importlib.import_module("portkern.harness.bench")
    return [f for b in results if not hb.bench_passed(b) for f in b.flags]
