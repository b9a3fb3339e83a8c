"""NVIDIA compiler output: ptxas ``-v`` resource lines, cubin ``.nv.info`` attributes, SASS mix."""

from __future__ import annotations

import re
import struct
from collections import Counter

from portkern.compile.elf import ElfFile
from portkern.model import ResourceReport

_FUNC = re.compile(r"ptxas info\s*: (?:Compiling entry function '([^']+)'|Function properties for (\S+))")
_USED = re.compile(r"ptxas info\s*: Used (\d+) registers")
_STACK = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")


def parse_ptxas_verbose(log: str, kernels: list[str]) -> dict[str, ResourceReport]:
    """Per-kernel reports from ``ptxas -v`` output (registers, smem, cmem, lmem, stack, spills)."""
    reports = {k: ResourceReport(symbol=k) for k in kernels}
    current: str | None = None
    for line in log.splitlines():
        m = _FUNC.search(line)
        if m:
            current = m.group(1) or m.group(2)
            continue
        if current not in reports:
            continue
        rep = reports[current]
        m = _STACK.search(line)
        if m:
            rep.local_bytes = max(rep.local_bytes, int(m.group(1)))
            rep.spill_bytes = int(m.group(2))
            continue
        m = _USED.search(line)
        if m:
            rep.registers = int(m.group(1))
            smem = re.search(r"(\d+) bytes smem", line)
            rep.shared_bytes = int(smem.group(1)) if smem else 0
            cmem = [int(x) for x in re.findall(r"(\d+) bytes cmem\[\d+\]", line)]
            if cmem:
                rep.const_bytes = sum(cmem)
            lmem = re.search(r"(\d+) bytes lmem", line)
            if lmem:
                rep.local_bytes = max(rep.local_bytes, int(lmem.group(1)))
    return reports


EIATTR_MAX_THREADS = 0x05           # three u32: the __launch_bounds__ / maxntid block size


def nv_info_attributes(elf: ElfFile, data: bytes, kernel: str) -> dict[int, bytes | int]:
    """The ``.nv.info.<kernel>`` records: each is format (u8), attribute (u8), then a u16 value
    (formats 1-3) or a u16 size and that many bytes (format 4, EIFMT_SVAL)."""
    sec = elf.section(f".nv.info.{kernel}")
    out: dict[int, bytes | int] = {}
    if sec is None:
        return out
    blob = data[sec.offset:sec.offset + sec.size]
    i = 0
    while i + 4 <= len(blob):
        fmt, attr, value = blob[i], blob[i + 1], struct.unpack_from("<H", blob, i + 2)[0]
        i += 4
        if fmt == 4:
            out[attr] = blob[i:i + value]
            i += value
        else:
            out[attr] = value
    return out


def max_threads_per_block(elf: ElfFile, data: bytes, kernel: str) -> int:
    raw = nv_info_attributes(elf, data, kernel).get(EIATTR_MAX_THREADS)
    if not isinstance(raw, bytes) or len(raw) < 12:
        return 0
    x, y, z = struct.unpack_from("<III", raw)
    return x * max(y, 1) * max(z, 1)


# SASS opcode (without modifiers) -> class. Unlisted opcodes count as "other".
_SASS_CLASSES = {
    "fp32": {"FADD", "FMUL", "FFMA", "FMNMX", "FSET", "FSETP", "FSEL", "FCHK", "FSWZADD"},
    "fp64": {"DADD", "DMUL", "DFMA", "DSETP", "DMNMX"},
    "fp16": {"HADD2", "HMUL2", "HFMA2", "HSETP2", "HMNMX2"},
    "tensor": {"HMMA", "IMMA", "DMMA", "HGMMA", "IGMMA", "QGMMA", "BMMA"},
    "int": {"IADD3", "IMAD", "IMUL", "LEA", "LOP3", "SHF", "ISETP", "IMNMX", "IABS", "POPC", "FLO", "BREV",
            "PRMT", "SEL", "MOV", "SHFL", "VIADD", "VIMNMX", "IADD", "LOP", "SGXT", "BMSK", "P2R", "R2P"},
    "conversion": {"F2F", "F2I", "I2F", "I2FP", "F2FP", "FRND", "I2I"},
    "special_function": {"MUFU"},
    "global_memory": {"LDG", "STG", "LD", "ST", "RED", "ATOM", "ATOMG", "LDGSTS", "LDGDEPBAR"},
    "shared_memory": {"LDS", "STS", "LDSM", "ATOMS", "STSM"},
    "local_memory": {"LDL", "STL"},
    "constant_memory": {"LDC", "ULDC"},
    "uniform": {"UMOV", "UIADD3", "ULEA", "USHF", "ULOP3", "UISETP", "UIMAD", "S2UR", "R2UR", "USEL", "UPRMT"},
    "control": {"BRA", "EXIT", "RET", "CALL", "BSSY", "BSYNC", "WARPSYNC", "BRX", "JMP", "BPT", "YIELD"},
    "sync": {"BAR", "MEMBAR", "DEPBAR", "ERRBAR", "CCTL", "FENCE", "SYNCS", "ARRIVES"},
    "special_register": {"S2R", "CS2R", "VOTE", "VOTEU", "MATCH"},
}
_OPCODE_CLASS = {op: cls for cls, ops in _SASS_CLASSES.items() for op in ops}
_SASS_LINE = re.compile(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)")


def sass_instruction_mix(disassembly: str) -> dict[str, dict[str, int]]:
    """``{kernel symbol: {class: count}}`` from ``nvdisasm -c`` output; padding NOPs are left out."""
    mixes: dict[str, Counter] = {}
    current: Counter | None = None
    for line in disassembly.splitlines():
        header = re.match(r"\s*\.section\s+\.text\.([^,\s]+)", line)
        if header:
            current = mixes.setdefault(header.group(1), Counter())
            continue
        m = _SASS_LINE.search(line)
        if m and current is not None and m.group(1) != "NOP":
            current[_OPCODE_CLASS.get(m.group(1), "other")] += 1
    return {k: dict(sorted(v.items())) for k, v in mixes.items()}
