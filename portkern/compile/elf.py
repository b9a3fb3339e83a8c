"""A small reader for 64-bit little-endian ELF files: sections and symbols.

Enough for cubins (kernels carry STO_CUDA_ENTRY in st_other) and AMDGPU code objects
(each kernel has a ``<name>.kd`` descriptor symbol).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from portkern.errors import ParseError

STT_OBJECT = 1
STT_FUNC = 2
STO_CUDA_ENTRY = 0x10
EM_CUDA = 190
EM_AMDGPU = 224


@dataclass
class Section:
    name: str
    type: int
    offset: int
    size: int
    link: int


@dataclass
class Symbol:
    name: str
    type: int
    bind: int
    other: int
    section_index: int
    size: int


@dataclass
class ElfFile:
    machine: int
    sections: list[Section]
    symbols: list[Symbol]

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)


def _cstr(table: bytes, offset: int) -> str:
    end = table.find(b"\0", offset)
    return table[offset:end if end >= 0 else len(table)].decode("utf-8", "replace")


def read_elf(data: bytes, what: str = "binary") -> ElfFile:
    if data[:4] != b"\x7fELF" or len(data) < 64:
        raise ParseError(f"{what}: not an ELF file", hint="the compiler produced something else; check its log")
    if data[4] != 2 or data[5] != 1:
        raise ParseError(f"{what}: only 64-bit little-endian ELF is supported")
    machine = struct.unpack_from("<H", data, 18)[0]
    shoff = struct.unpack_from("<Q", data, 40)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 58)
    raw = []
    for i in range(shnum):
        name, stype, _flags, _addr, off, size, link, _info, _align, _entsize = struct.unpack_from(
            "<IIQQQQIIQQ", data, shoff + i * shentsize)
        raw.append((name, stype, off, size, link))
    names = data[raw[shstrndx][2]:raw[shstrndx][2] + raw[shstrndx][3]] if shnum else b""
    sections = [Section(_cstr(names, n), t, o, s, lk) for n, t, o, s, lk in raw]
    symbols: list[Symbol] = []
    for sec in sections:
        if sec.type != 2:  # SHT_SYMTAB
            continue
        strtab = sections[sec.link]
        strings = data[strtab.offset:strtab.offset + strtab.size]
        for off in range(sec.offset, sec.offset + sec.size, 24):
            st_name, st_info, st_other, st_shndx, _value, st_size = struct.unpack_from("<IBBHQQ", data, off)
            symbols.append(Symbol(_cstr(strings, st_name), st_info & 0xF, st_info >> 4, st_other, st_shndx,
                                  st_size))
    return ElfFile(machine, sections, symbols)


def cuda_kernel_symbols(elf: ElfFile) -> list[str]:
    return [s.name for s in elf.symbols if s.type == STT_FUNC and s.other & STO_CUDA_ENTRY]


def amdgpu_kernel_symbols(elf: ElfFile) -> list[str]:
    descriptors = {s.name[:-3] for s in elf.symbols if s.type == STT_OBJECT and s.name.endswith(".kd")}
    return [s.name for s in elf.symbols if s.type == STT_FUNC and s.name in descriptors]


def section_sizes_by_prefix(elf: ElfFile, prefix: str) -> dict[str, int]:
    """``{suffix: size}`` for sections named ``prefix + suffix`` (e.g. ``.nv.constant0.<kernel>``)."""
    return {s.name[len(prefix):]: s.size for s in elf.sections if s.name.startswith(prefix)}
