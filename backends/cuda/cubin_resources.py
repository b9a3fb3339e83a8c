"""Per-kernel resources read from a cubin alone, for builds without an ``nvcc -Xptxas -v`` report.

The cubin's global ``.nv.info`` section holds, per kernel symbol, its register count
(EIATTR_REGCOUNT) and stack frame (EIATTR_FRAME_SIZE); static shared memory is the size of
``.nv.shared.<kernel>``, which from sm_80 on also holds the block's system-reserved shared memory;
``.nv.constant0.<kernel>`` is the parameter/constant bank; ``.nv.info.<kernel>`` the launch bounds.
"""

from __future__ import annotations

import struct

from portkern.backends.cuda.cubin import max_threads_per_block
from portkern.backends.cuda.occupancy import RESERVED_SHARED_BYTES

from portkern.compile.elf import ElfFile, cuda_kernel_symbols, read_elf, section_sizes_by_prefix
from portkern.model import ResourceReport

EIATTR_FRAME_SIZE = 0x11            # (symbol index u32, bytes u32): per-thread stack frame = local memory
EIATTR_REGCOUNT = 0x2F              # (symbol index u32, registers u32)
EIFMT_SVAL = 4                      # record carrying a u16 size and that many bytes


def global_info_by_symbol(elf: ElfFile, data: bytes) -> dict[int, dict[str, int]]:
    """``{attribute: {symbol name: value}}`` from the (symbol index, value) records of ``.nv.info``."""
    sec = elf.section(".nv.info")
    out: dict[int, dict[str, int]] = {}
    if sec is None:
        return out
    blob = data[sec.offset:sec.offset + sec.size]
    i = 0
    while i + 4 <= len(blob):
        fmt, attr, size = blob[i], blob[i + 1], struct.unpack_from("<H", blob, i + 2)[0]
        i += 4
        if fmt != EIFMT_SVAL:
            continue
        if size == 8 and attr in (EIATTR_FRAME_SIZE, EIATTR_REGCOUNT):
            index, value = struct.unpack_from("<II", blob, i)
            if index < len(elf.symbols):
                out.setdefault(attr, {})[elf.symbols[index].name] = value
        i += size
    return out


def cubin_resource_reports(binary: bytes, arch: str, what: str = "cubin") -> tuple[list[str], dict[str, ResourceReport]]:
    """Kernel symbols of a cubin and a ResourceReport for each (spill bytes are not in the cubin)."""
    elf = read_elf(binary, what)
    kernels = cuda_kernel_symbols(elf)
    info = global_info_by_symbol(elf, binary)
    shared = section_sizes_by_prefix(elf, ".nv.shared.")
    const = section_sizes_by_prefix(elf, ".nv.constant0.")
    # The reserved area is counted by the occupancy model separately; report what the kernel declared.
    reserved = RESERVED_SHARED_BYTES.get(arch, 0) if any(n.startswith("reserved") for n in shared) else 0
    reports: dict[str, ResourceReport] = {}
    for k in kernels:
        reports[k] = ResourceReport(
            symbol=k,
            registers=info.get(EIATTR_REGCOUNT, {}).get(k, 0),
            shared_bytes=max(0, shared[k] - reserved) if k in shared else 0,
            local_bytes=info.get(EIATTR_FRAME_SIZE, {}).get(k, 0),
            const_bytes=const.get(k, 0),
            max_threads_per_block=max_threads_per_block(elf, binary, k))
    return kernels, reports
