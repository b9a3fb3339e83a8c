"""NVIDIA's occupancy rule (per SM).

Registers are allocated per warp in units of 256 from each of the SM's sub-partition register files;
shared memory per block is rounded up to the allocation unit and includes the block's
system-reserved shared memory (1 KiB from sm_80 on); warps and blocks per SM are capped by the
target. Sources: CUDA C++ Programming Guide (compute capability tables) and the CUDA occupancy
calculator's allocation rules.
"""

from __future__ import annotations

from portkern.compile.occupancy import Occupancy, align, occupancy_from, pick_limiter
from portkern.model import Target

REG_ALLOC_UNIT = 256          # registers per warp are allocated in this unit
SHARED_ALLOC_UNIT = 128       # bytes
RESERVED_SHARED_BYTES = {"sm_80": 1024, "sm_86": 1024, "sm_89": 1024, "sm_90": 1024, "sm_100": 1024}


def nvidia_occupancy(target: Target, *, registers: int, shared_bytes: int, threads_per_block: int) -> Occupancy:
    if threads_per_block <= 0 or threads_per_block > target.max_threads_per_block:
        return Occupancy(0, 0, 0.0, 0.0, "threads")
    warp = target.wavefront
    warps_per_block = -(-threads_per_block // warp)
    limits: dict[str, int] = {
        "threads": target.max_waves_per_cu // warps_per_block,
        "blocks": target.max_blocks_per_cu,
    }
    if registers > 0:
        regs_per_warp = align(registers * warp, REG_ALLOC_UNIT)
        per_partition = target.registers_per_cu // target.simds_per_cu
        warps_by_regs = target.simds_per_cu * (per_partition // regs_per_warp)
        limits["registers"] = warps_by_regs // warps_per_block
    reserved = RESERVED_SHARED_BYTES.get(target.arch, 0)
    if shared_bytes > 0:
        per_block = align(shared_bytes + reserved, SHARED_ALLOC_UNIT)
        limits["shared"] = target.shared_bytes_per_cu // per_block
    blocks, limiter = pick_limiter(limits)
    return occupancy_from(target, blocks, warps_per_block, limiter)


def occupancy(target: Target, *, threads_per_block: int, registers: int, shared_bytes: int,
              agprs: int = 0, sgprs: int = 0) -> Occupancy:
    """The backend's rule in the common signature (NVIDIA has no AGPRs; SGPRs are uniform registers
    the compiler already counts)."""
    return nvidia_occupancy(target, registers=registers, shared_bytes=shared_bytes,
                            threads_per_block=threads_per_block)
