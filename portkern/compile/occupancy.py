"""Theoretical occupancy: what every vendor's rule returns, and how a resource report gets it.

The rules themselves belong to the backends (``backends/cuda/occupancy.py``,
``backends/hip/occupancy.py``): a compile backend's ``occupancy()`` applies its vendor's allocation
granularities to the target's limits from the targets file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from portkern.model import ResourceReport, Target


@dataclass
class Occupancy:
    blocks_per_cu: int
    waves_per_cu: int
    waves_per_simd: float
    fraction: float                  # resident waves / target's max resident waves
    limiter: str                     # "registers" | "sgprs" | "shared" | "threads" | "blocks" | "none"


# (target, threads_per_block=, registers=, shared_bytes=, agprs=, sgprs=) -> Occupancy
OccupancyRule = Callable[..., Occupancy]


def align(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def pick_limiter(limits: dict[str, int]) -> tuple[int, str]:
    """The smallest limit and its name."""
    limiter = min(limits, key=lambda k: limits[k])
    return max(0, limits[limiter]), limiter


def occupancy_from(target: Target, blocks: int, waves_per_block: int, limiter: str) -> Occupancy:
    waves = blocks * waves_per_block
    return Occupancy(blocks, waves, waves / target.simds_per_cu, waves / target.max_waves_per_cu, limiter)


def apply_occupancy(report: ResourceReport, target: Target, rule: OccupancyRule, threads_per_block: int = 0) -> None:
    """Fill a ResourceReport's occupancy fields with ``rule``. Block size: the given one, else the
    kernel's launch bound, else 256 threads (the common default of the libraries)."""
    threads = threads_per_block or report.max_threads_per_block or 256
    occ = rule(target, threads_per_block=threads, registers=report.registers,
               shared_bytes=report.shared_bytes, agprs=report.agprs, sgprs=report.sgprs)
    report.occupancy_waves_per_simd = round(occ.waves_per_simd, 3)
    report.occupancy_fraction = round(occ.fraction, 4)
    report.occupancy_limiter = occ.limiter
