"""AMDGPU compiler output: the code object metadata and per-kernel ISA of clang's ``.s`` file."""

from __future__ import annotations

import re
from collections import Counter

import yaml

from portkern.errors import ParseError
from portkern.model import ResourceReport


def parse_amdgpu_metadata(asm: str, what: str = "assembly") -> list[dict]:
    """The ``amdhsa.kernels`` list of the ``.amdgpu_metadata`` block (YAML)."""
    m = re.search(r"^\s*\.amdgpu_metadata\s*$(.*?)^\s*\.end_amdgpu_metadata", asm, re.S | re.M)
    if not m:
        return []
    try:
        doc = yaml.safe_load(m.group(1))
    except yaml.YAMLError as exc:
        raise ParseError(f"{what}: unreadable AMDGPU metadata ({exc})") from exc
    return list((doc or {}).get("amdhsa.kernels") or [])


def resource_reports(asm: str) -> dict[str, ResourceReport]:
    """Per-kernel resources from the metadata: VGPRs, AGPRs, SGPRs, LDS, scratch, spills, launch bound."""
    reports: dict[str, ResourceReport] = {}
    mixes = isa_instruction_mix(asm)
    for k in parse_amdgpu_metadata(asm):
        name = k[".name"]
        reports[name] = ResourceReport(
            symbol=name,
            registers=int(k.get(".vgpr_count", 0)),
            agprs=int(k.get(".agpr_count", 0)),
            sgprs=int(k.get(".sgpr_count", 0)),
            shared_bytes=int(k.get(".group_segment_fixed_size", 0)),
            local_bytes=int(k.get(".private_segment_fixed_size", 0)),
            spill_bytes=int(k.get(".vgpr_spill_count", 0)) + int(k.get(".sgpr_spill_count", 0)),
            const_bytes=int(k.get(".kernarg_segment_size", 0)),
            max_threads_per_block=int(k.get(".max_flat_workgroup_size", 0)),
            instruction_mix=mixes.get(name, {}),
        )
    return reports


def _isa_class(mnemonic: str) -> str:
    if mnemonic.startswith(("v_mfma", "v_smfmac")):
        return "mfma"
    if mnemonic.startswith(("s_waitcnt", "s_barrier", "s_sleep", "s_nop", "s_sethalt", "buffer_wbl2",
                            "buffer_inv")):
        return "sync"
    if mnemonic.startswith("ds_"):
        return "lds"
    if mnemonic.startswith("scratch_"):
        return "scratch"
    if mnemonic.startswith(("global_", "buffer_", "flat_")):
        return "vmem"
    if mnemonic.startswith(("s_load", "s_buffer_", "s_store", "s_dcache", "s_memtime", "s_scratch_")):
        return "smem"
    if mnemonic.startswith(("s_branch", "s_cbranch", "s_setpc", "s_swappc", "s_endpgm", "s_getpc",
                            "s_call", "s_trap")):
        return "branch"
    if mnemonic.startswith("v_"):
        return "valu"
    if mnemonic.startswith("s_"):
        return "salu"
    return "other"


def isa_instruction_mix(asm: str) -> dict[str, dict[str, int]]:
    """``{function symbol: {class: count}}`` over each function body (label to ``.Lfunc_end``)."""
    mixes: dict[str, Counter] = {}
    current: Counter | None = None
    for line in asm.splitlines():
        m = re.match(r"^([A-Za-z_$][\w.$]*):", line)
        if m:
            current = mixes.setdefault(m.group(1), Counter())
            continue
        if line.startswith(".Lfunc_end"):
            current = None
            continue
        if current is None or not line.startswith("\t") or line.startswith("\t."):
            continue
        word = line.split(None, 1)[0] if line.strip() else ""
        if word and not word.startswith(";") and re.match(r"^[a-z_][a-z0-9_]*$", word):
            current[_isa_class(word)] += 1
    return {k: dict(sorted(v.items())) for k, v in mixes.items() if v}
