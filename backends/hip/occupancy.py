"""AMD CDNA's occupancy rule (per CU).

A wave's VGPRs and AGPRs come from its SIMD's unified 512-entry file in granules of 8; SGPRs from an
800-entry file per SIMD in granules of 16; LDS per workgroup in granules of 512 bytes; at most 8
waves per SIMD. Sources: AMD CDNA2/CDNA3 ISA references and LLVM AMDGPU usage docs.
"""

from __future__ import annotations

from portkern.compile.occupancy import Occupancy, align, occupancy_from, pick_limiter
from portkern.model import Target

VGPR_GRANULE = 8                 # gfx90a / gfx942 unified VGPR+AGPR file
VGPRS_PER_SIMD_LANE = 512
SGPR_GRANULE = 16
SGPRS_PER_SIMD = 800
LDS_GRANULE_BYTES = 512
MAX_WAVES_PER_SIMD = 8


def amd_occupancy(target: Target, *, vgprs: int, agprs: int = 0, sgprs: int = 0, lds_bytes: int = 0,
                  threads_per_block: int) -> Occupancy:
    if threads_per_block <= 0 or threads_per_block > target.max_threads_per_block:
        return Occupancy(0, 0, 0.0, 0.0, "threads")
    waves_per_block = -(-threads_per_block // target.wavefront)
    per_simd: dict[str, int] = {"threads": MAX_WAVES_PER_SIMD}
    total_vgprs = (align(vgprs, 4) + agprs) if agprs else vgprs
    if total_vgprs > 0:
        per_simd["registers"] = VGPRS_PER_SIMD_LANE // align(total_vgprs, VGPR_GRANULE)
    if sgprs > 0:
        per_simd["sgprs"] = SGPRS_PER_SIMD // align(sgprs, SGPR_GRANULE)
    wave_limit, wave_limiter = pick_limiter(per_simd)
    limits: dict[str, int] = {
        wave_limiter: (wave_limit * target.simds_per_cu) // waves_per_block,
        "blocks": target.max_blocks_per_cu,
    }
    if lds_bytes > 0:
        limits["shared"] = target.shared_bytes_per_cu // align(lds_bytes, LDS_GRANULE_BYTES)
    blocks, limiter = pick_limiter(limits)
    return occupancy_from(target, blocks, waves_per_block, limiter)


def occupancy(target: Target, *, threads_per_block: int, registers: int, shared_bytes: int,
              agprs: int = 0, sgprs: int = 0) -> Occupancy:
    """The backend's rule in the common signature (``registers`` are the VGPRs)."""
    return amd_occupancy(target, vgprs=registers, agprs=agprs, sgprs=sgprs, lds_bytes=shared_bytes,
                         threads_per_block=threads_per_block)
