"""Theoretical occupancy of one kernel on one target, from the target's limits.

NVIDIA (per SM): registers are allocated per warp in units of 256 from each of the SM's
sub-partition register files; shared memory per block is rounded up to the allocation unit and
includes the block's system-reserved shared memory (1 KiB from sm_80 on); warps, and blocks per
SM are capped by the target. AMD CDNA (per CU): a wave's VGPRs and AGPRs come from its SIMD's
unified 512-entry file in granules of 8; SGPRs from an 800-entry file per SIMD in granules of 16;
LDS per workgroup in granules of 512 bytes; at most 8 waves per SIMD.
Sources: CUDA C++ Programming Guide (compute capability tables) and the CUDA occupancy
calculator's allocation rules; AMD CDNA2/CDNA3 ISA references and LLVM AMDGPU usage docs.
"""

from __future__ import annotations

from dataclasses import dataclass

from portkern.model import Target

# Allocation rules that are not in the target registry, by vendor.
NVIDIA_REG_ALLOC_UNIT = 256          # registers per warp are allocated in this unit
NVIDIA_SHARED_ALLOC_UNIT = 128       # bytes
NVIDIA_RESERVED_SHARED_BYTES = {"sm_80": 1024, "sm_86": 1024, "sm_89": 1024, "sm_90": 1024, "sm_100": 1024}
AMD_VGPR_GRANULE = 8                 # gfx90a / gfx942 unified VGPR+AGPR file
AMD_VGPRS_PER_SIMD_LANE = 512
AMD_SGPR_GRANULE = 16
AMD_SGPRS_PER_SIMD = 800
AMD_LDS_GRANULE_BYTES = 512
AMD_MAX_WAVES_PER_SIMD = 8


@dataclass
class Occupancy:
    blocks_per_cu: int
    waves_per_cu: int
    waves_per_simd: float
    fraction: float                  # resident waves / target's max resident waves
    limiter: str                     # "registers" | "sgprs" | "shared" | "threads" | "blocks" | "none"


def _align(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def _pick(limits: dict[str, int]) -> tuple[int, str]:
    limiter = min(limits, key=lambda k: limits[k])
    return max(0, limits[limiter]), limiter


def nvidia_occupancy(target: Target, *, registers: int, shared_bytes: int, threads_per_block: int) -> Occupancy:
    warp = target.wavefront
    warps_per_block = -(-threads_per_block // warp)
    limits: dict[str, int] = {
        "threads": target.max_waves_per_cu // warps_per_block,
        "blocks": target.max_blocks_per_cu,
    }
    if registers > 0:
        regs_per_warp = _align(registers * warp, NVIDIA_REG_ALLOC_UNIT)
        per_partition = target.registers_per_cu // target.simds_per_cu
        warps_by_regs = target.simds_per_cu * (per_partition // regs_per_warp)
        limits["registers"] = warps_by_regs // warps_per_block
    reserved = NVIDIA_RESERVED_SHARED_BYTES.get(target.arch, 0)
    if shared_bytes > 0:
        per_block = _align(shared_bytes + reserved, NVIDIA_SHARED_ALLOC_UNIT)
        limits["shared"] = target.shared_bytes_per_cu // per_block
    blocks, limiter = _pick(limits)
    waves = blocks * warps_per_block
    return Occupancy(blocks, waves, waves / target.simds_per_cu, waves / target.max_waves_per_cu, limiter)


def amd_occupancy(target: Target, *, vgprs: int, agprs: int = 0, sgprs: int = 0, lds_bytes: int = 0,
                  threads_per_block: int) -> Occupancy:
    waves_per_block = -(-threads_per_block // target.wavefront)
    per_simd: dict[str, int] = {"threads": AMD_MAX_WAVES_PER_SIMD}
    total_vgprs = (_align(vgprs, 4) + agprs) if agprs else vgprs
    if total_vgprs > 0:
        per_simd["registers"] = AMD_VGPRS_PER_SIMD_LANE // _align(total_vgprs, AMD_VGPR_GRANULE)
    if sgprs > 0:
        per_simd["sgprs"] = AMD_SGPRS_PER_SIMD // _align(sgprs, AMD_SGPR_GRANULE)
    wave_limit, wave_limiter = _pick(per_simd)
    limits: dict[str, int] = {
        wave_limiter: (wave_limit * target.simds_per_cu) // waves_per_block,
        "blocks": target.max_blocks_per_cu,
    }
    if lds_bytes > 0:
        limits["shared"] = target.shared_bytes_per_cu // _align(lds_bytes, AMD_LDS_GRANULE_BYTES)
    blocks, limiter = _pick(limits)
    waves = blocks * waves_per_block
    return Occupancy(blocks, waves, waves / target.simds_per_cu, waves / target.max_waves_per_cu, limiter)


def occupancy_for(target: Target, *, threads_per_block: int, registers: int, shared_bytes: int,
                  agprs: int = 0, sgprs: int = 0) -> Occupancy:
    if threads_per_block <= 0 or threads_per_block > target.max_threads_per_block:
        return Occupancy(0, 0, 0.0, 0.0, "threads")
    if target.vendor == "nvidia":
        return nvidia_occupancy(target, registers=registers, shared_bytes=shared_bytes,
                                threads_per_block=threads_per_block)
    return amd_occupancy(target, vgprs=registers, agprs=agprs, sgprs=sgprs, lds_bytes=shared_bytes,
                         threads_per_block=threads_per_block)


def apply_occupancy(report, target: Target, threads_per_block: int = 0) -> None:
    """Fill a ResourceReport's occupancy fields. Block size: the given one, else the kernel's launch
    bound, else 256 threads (the common default of the libraries)."""
    threads = threads_per_block or report.max_threads_per_block or 256
    occ = occupancy_for(target, threads_per_block=threads, registers=report.registers,
                        shared_bytes=report.shared_bytes, agprs=report.agprs, sgprs=report.sgprs)
    report.occupancy_waves_per_simd = round(occ.waves_per_simd, 3)
    report.occupancy_fraction = round(occ.fraction, 4)
    report.occupancy_limiter = occ.limiter
