"""The pipeline's one door into portkern.harness (validation and timing).

Kept in one small module so the stages do not depend on the harness's internal layout. The runner
of a target is the one of the backend its row in the targets file names.
"""

from __future__ import annotations

from typing import Any

from portkern.harness.bench import bench as time_on_device
from portkern.harness.bench import bench_passed
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
          compiled: dict[str, Any], use_device: bool, full: bool = True, source: str = "",
          vendor: bool = False) -> list[BenchResult]:
    """Every bench size and dtype (``full``; with the vendor baseline), or the primary point only (the
    first bench size in the primary dtype: where the score is taken; with the vendor baseline where
    ``vendor``): timed on the device, or predicted by the performance model (``portkern.perfmodel``)."""
    from portkern.perfmodel.predict import estimate_result

    record = CompileResult.from_dict(compiled) if use_device else None
    out = []
    for dtype in (kernel.dtypes if full else [primary_dtype(kernel)]):
        for i, sizes in enumerate(kernel.sizes_bench if full else kernel.sizes_bench[:1]):
            if record is not None:
                out.append(time_on_device(library, kernel, record, target, runner=target.backend,
                                          sizes=sizes, dtype=dtype, params=params, baseline=full or vendor,
                                          measure_copy=full and i == 0 and dtype == kernel.dtypes[0]))
                continue
            out.append(estimate_result(kernel, sizes, dtype, target, compiled, params, source))
    return out


def profile(kernel: KernelSpec, library: LibrarySpec, target: Target, params: dict[str, int],
            compiled: dict[str, Any]) -> dict[str, Any]:
    """Profiler counters of the kernel's first launch at the primary bench point ({label: "value unit"}),
    or {"error": why}: on NVIDIA GPUs through Nsight Compute (``portkern.harness.profile``)."""
    from portkern.harness.bench import BenchJob
    from portkern.harness.profile import collect
    from portkern.harness.validate import fresh_seed

    if target.backend != "cuda":
        return {"error": f"no profiler for {target.backend} targets here (Nsight Compute reads NVIDIA GPUs)"}
    if not kernel.sizes_bench:
        return {"error": "no bench sizes"}
    job = BenchJob(target.backend, library.manifest_path, kernel.name, CompileResult.from_dict(compiled), target,
                   dict(kernel.sizes_bench[0]), primary_dtype(kernel), dict(params or {}), check_seed=fresh_seed(),
                   source_root=library.root if library.manifest_dir else "",
                   launches=list(kernel.launches), args=list(kernel.args))
    return collect(job, kernel.symbol)


def bench_failures(results: list[BenchResult]) -> list[str]:
    """Flags that make a timing a failure (above the roofline, wrong timed output, crash, ...)."""
    return [f for b in results if not bench_passed(b) for f in b.flags]
