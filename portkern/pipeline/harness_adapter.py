"""The pipeline's one door into portkern.harness (validation and timing).

Kept in one small module so the stages do not depend on the harness's internal layout. The runner
of a target is the one of the backend its row in the targets file names.
"""

from __future__ import annotations

from typing import Any

from portkern.harness.bench import bench as time_on_device
from portkern.harness.bench import bench_passed, estimate
from portkern.harness.inputs import entries_for
from portkern.harness.runners.base import get_runner
from portkern.harness.validate import asan_default, forget_library_directives, validate_compiled
from portkern.harness.validate import validate as build_and_validate
from portkern.library import KernelSpec, LibrarySpec
from portkern.model import (
    BenchResult,
    CompileOptions,
    CompileResult,
    Target,
    ValidationResult,
)
from portkern.pipeline.kernels import include_dirs, primary_dtype


def device_available(target: Target) -> tuple[bool, str]:
    """Whether a GPU of the target's backend is usable here, and why not."""
    avail = get_runner(target.backend).available()
    if avail.ok:
        return True, ", ".join(avail.devices) or "device found"
    return False, avail.reason or f"no {target.vendor.upper()} GPU"


def entries(kernel: KernelSpec, params: dict[str, int]) -> list[str]:
    """Every kernel name expression validation and timing will launch."""
    out: list[str] = []
    for dtype in kernel.dtypes:
        for e in entries_for(kernel, dtype, params, kernel.sizes_validate + kernel.sizes_bench):
            if e not in out:
                out.append(e)
    return out


def device_compile_options(target: Target, entry_list: list[str], extra: CompileOptions) -> CompileOptions:
    """Options the device runner of the target's backend loads (code object kind)."""
    return get_runner(target.backend).compile_options(target, entry_list, extra)


def new_run() -> None:
    """Forget what validation read from libraries in an earlier run of this process."""
    forget_library_directives()


def validate(source: str, kernel: KernelSpec, library: LibrarySpec, target: Target, params: dict[str, int],
             compiled: dict[str, Any], use_device: bool, timeout_s: float | None = None) -> ValidationResult:
    if use_device:
        return validate_compiled(library, kernel, CompileResult.from_dict(compiled), target,
                                 runner=target.backend, params=params, timeout_s=timeout_s)
    # On the emulator the unit is built for the CPU at the target's wavefront width.
    extra = CompileOptions(include_dirs=include_dirs(library, kernel), sanitize=asan_default("emu"))
    return build_and_validate(library, kernel, target, runner="emu", source=source, params=params, extra=extra,
                              timeout_s=timeout_s)


def bench(kernel: KernelSpec, library: LibrarySpec, target: Target, params: dict[str, int],
          compiled: dict[str, Any], use_device: bool, full: bool = True) -> list[BenchResult]:
    """Every bench size and dtype (``full``; with the vendor baseline), or the primary dtype only:
    timed on the device, or estimated from the roofline and resources."""
    record = CompileResult.from_dict(compiled)
    out = []
    for dtype in (kernel.dtypes if full else [primary_dtype(kernel)]):
        for i, sizes in enumerate(kernel.sizes_bench):
            if use_device:
                out.append(time_on_device(library, kernel, record, target, runner=target.backend,
                                          sizes=sizes, dtype=dtype, params=params, baseline=full,
                                          measure_copy=full and i == 0 and dtype == kernel.dtypes[0]))
                continue
            # The launch with the lowest occupancy bounds a multi-launch kernel's estimate.
            names = entries_for(kernel, dtype, params, [sizes])
            reports = [record.resources[record.entry_map[n]] for n in names
                       if n in record.entry_map and record.entry_map[n] in record.resources]
            worst = min(reports, key=lambda r: r.occupancy_fraction, default=None)
            out.append(estimate(kernel, sizes, dtype, target, resources=worst, params=params))
    return out


def estimate_can_beat(kernel: KernelSpec, target: Target, params: dict[str, int], base_ms: float) -> bool:
    """Whether the roofline estimate could score a candidate at ``params`` below ``base_ms``.

    The estimate credits at most a fixed fraction of the roofline; a base already at that ceiling
    cannot be beaten by a candidate doing the same work, so timing by estimate cannot rank it.
    """
    from portkern.harness import roofline

    if not kernel.sizes_bench or base_ms <= 0:
        return True
    dtype = primary_dtype(kernel)
    work = roofline.work_of(kernel, kernel.sizes_bench[0], dtype, params)
    floor = roofline.estimate_floor_ms(work, target, dtype, launches=len(kernel.launches))
    return floor < base_ms * (1 - 1e-9)


def bench_failures(results: list[BenchResult]) -> list[str]:
    """Flags that make a timing a failure (above the roofline, wrong timed output, crash, ...)."""
    return [f for b in results if not bench_passed(b) for f in b.flags]
