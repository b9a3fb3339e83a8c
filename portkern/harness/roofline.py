"""Roofline figures: what a kernel could at best achieve on a target, and what is impossible.

attainable FLOP/s = min(peak FLOP/s, intensity x bandwidth). A measured time shorter than the
roofline allows means the measurement missed work (another stream, cached results, skipped
calls): it is flagged "above-roofline" and treated as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portkern import expr
from portkern.library import DTYPE_BYTES, KernelSpec, kernel_env
from portkern.model import BenchResult, Target

ABOVE_ROOFLINE = "above-roofline"
# Measured copy bandwidth can exceed the data sheet a little (clock boost, rounding of the quoted figure).
NOISE_MARGIN = 1.02


@dataclass
class Work:
    bytes_moved: float
    flops: float

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes_moved if self.bytes_moved else float("inf")


def work_of(kernel: KernelSpec, sizes: dict[str, int], dtype: str, params: dict[str, int] | None = None) -> Work:
    env: dict[str, Any] = kernel_env(kernel, sizes, params)
    elem = DTYPE_BYTES[dtype]
    return Work(float(expr.evaluate(kernel.bytes_moved, env, elem)), float(expr.evaluate(kernel.flops, env, elem)))


def bandwidth_gbs(target: Target, measured_copy_gbs: float = 0.0) -> float:
    """The bandwidth roof: the measured copy rate when known, else the data sheet."""
    return measured_copy_gbs if measured_copy_gbs > 0 else target.peak_bandwidth_gbs


def min_seconds(work: Work, target: Target, dtype: str, measured_copy_gbs: float = 0.0) -> float:
    """The shortest time the roofline allows (data-sheet peaks: nothing real beats them)."""
    bw = max(target.peak_bandwidth_gbs, measured_copy_gbs) * 1e9
    return max(work.bytes_moved / bw, work.flops / target.peak_flops_for(dtype))


def attainable_flops(work: Work, target: Target, dtype: str, measured_copy_gbs: float = 0.0) -> float:
    bw = bandwidth_gbs(target, measured_copy_gbs) * 1e9
    return min(target.peak_flops_for(dtype), work.intensity * bw)


def roofline_fraction(seconds: float, work: Work, target: Target, dtype: str, measured_copy_gbs: float = 0.0) -> float:
    """Achieved / attainable at this intensity (memory-bound kernels: achieved / roof bandwidth)."""
    if seconds <= 0:
        return 0.0
    if work.flops <= 0:
        return (work.bytes_moved / seconds) / (bandwidth_gbs(target, measured_copy_gbs) * 1e9)
    return (work.flops / seconds) / attainable_flops(work, target, dtype, measured_copy_gbs)


def above_roofline(seconds: float, work: Work, target: Target, dtype: str, measured_copy_gbs: float = 0.0) -> bool:
    return seconds > 0 and seconds * NOISE_MARGIN < min_seconds(work, target, dtype, measured_copy_gbs)


def fill_figures(result: BenchResult, work: Work, target: Target, measured_copy_gbs: float = 0.0) -> BenchResult:
    """Set bytes, FLOPs, GB/s, GFLOP/s, roofline fraction and the above-roofline flag from median_ms."""
    seconds = result.median_ms * 1e-3
    result.bytes_moved, result.flops = work.bytes_moved, work.flops
    if seconds > 0:
        result.gbs = work.bytes_moved / seconds / 1e9
        result.gflops = work.flops / seconds / 1e9
        result.roofline_fraction = roofline_fraction(seconds, work, target, result.dtype, measured_copy_gbs)
        if result.method != "estimate" and above_roofline(seconds, work, target, result.dtype, measured_copy_gbs):
            if ABOVE_ROOFLINE not in result.flags:
                result.flags.append(ABOVE_ROOFLINE)
    return result
