"""What the performance model sees of one candidate at one size and dtype.

Three sources, all available without a GPU of the target's vendor:

- the kernel's manifest entry (work formulas, launch geometry evaluated with the candidate's tunables);
- the target compiler's resource report (registers, shared memory/LDS, spills, occupancy) and its
  static instruction mix, mapped from SASS or AMDGPU ISA classes onto vendor-neutral ones;
- the target's specifications (compute units, resident waves, bandwidth, peak rates, wave width);

and a few counts read from the candidate's source (vector types, shuffles, atomics, barriers, unroll
pragmas), which tell apart operator rewrites whose resources look alike.

Every feature is a float; ``FEATURE_NAMES`` fixes their order for the learned part.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from portkern.library import DTYPE_BYTES, KernelSpec, kernel_env
from portkern.model import ResourceReport, Target
from portkern.perfmodel.analytic import analytic_ms, resident_blocks

# Vendor instruction classes -> neutral ones. SASS classes come from backends/cuda/cubin.py,
# AMDGPU ISA classes from backends/hip/amdgpu.py.
_NEUTRAL = {
    "global_memory": "gmem", "vmem": "gmem", "local_memory": "lmem", "scratch": "lmem",
    "shared_memory": "smem", "lds": "smem", "constant_memory": "cmem", "smem": "cmem",
    "fp32": "fp", "fp64": "fp", "fp16": "fp", "tensor": "matrix", "mfma": "matrix", "valu": "alu",
    "int": "alu", "uniform": "scalar", "salu": "scalar", "conversion": "alu", "special_function": "sfu",
    "control": "branch", "branch": "branch", "sync": "sync", "special_register": "scalar",
}
MIX_CLASSES = ("gmem", "lmem", "smem", "cmem", "fp", "matrix", "alu", "scalar", "sfu", "branch", "sync", "other")

_SOURCE_COUNTS = {
    "src_vector": re.compile(r"\b(?:float[24]|double2|int[24]|uint[24]|half2|__half2|longlong2)\b"),
    "src_shuffle": re.compile(r"\b__shfl\w*|\b__reduce_\w+_sync\b|\bds_swizzle|\b__builtin_amdgcn_ds_bpermute\b"),
    "src_atomic": re.compile(r"\batomic[A-Z]\w*\b"),
    "src_barrier": re.compile(r"\b__syncthreads\b|\b__syncwarp\b|\bbarrier\s*\("),
    "src_unroll": re.compile(r"#\s*pragma\s+unroll"),
    "src_loop": re.compile(r"\bfor\s*\(|\bwhile\s*\("),
    "src_ldg": re.compile(r"\b__ldg\b|\b__ldcs\b|\b__builtin_nontemporal_\w+\b|\b__stcs\b"),
}

FEATURE_NAMES = (
    "log_roof_ms", "log_bytes", "log_flops", "log_intensity", "compute_bound", "elem_bytes",
    "log_threads_per_block", "log_blocks", "log_total_threads", "fill", "waves", "tail",
    "occupancy", "log_registers", "shared_kb", "spills", "log_bytes_per_thread", "launches",
    "log_static_instructions", *(f"mix_{c}" for c in MIX_CLASSES),
    *_SOURCE_COUNTS, "vendor_amd", "wavefront", "log_analytic_ms",
)


@dataclass
class Geometry:
    """The first launch's shape and how it fills the target."""

    threads_per_block: int
    blocks: int
    launches: int
    shared_bytes: int

    @property
    def total_threads(self) -> int:
        return self.threads_per_block * self.blocks


def geometry(kernel: KernelSpec, sizes: dict[str, int], params: dict[str, int] | None,
             dtype: str = "float32") -> Geometry:
    from portkern.harness.inputs import launch_plans

    plans = launch_plans(kernel, dtype, kernel_env(kernel, sizes, params))
    if not plans:
        return Geometry(1, 1, 1, 0)
    first = plans[0]
    return Geometry(max(1, math.prod(first.block)), max(1, math.prod(first.grid)), len(plans), int(first.shared_bytes))


def primary_entry(kernel: KernelSpec, sizes: dict[str, int], dtype: str, params: dict[str, int] | None) -> str:
    """The kernel name expression of the first launch at this point (the one the features describe)."""
    from portkern.harness.inputs import launch_plans

    plans = launch_plans(kernel, dtype, kernel_env(kernel, sizes, params))
    return plans[0].entry if plans else kernel.symbol


def resources_for(compiled: dict[str, Any], kernel: KernelSpec, sizes: dict[str, int], dtype: str,
                  params: dict[str, int] | None) -> ResourceReport | None:
    """The resource report of the first launch's symbol in a compile payload, for this dtype."""
    symbol = (compiled.get("entry_map") or {}).get(primary_entry(kernel, sizes, dtype, params))
    report = (compiled.get("resources") or {}).get(symbol or "")
    return ResourceReport.from_dict(report) if report else None


def neutral_mix(mix: dict[str, int]) -> dict[str, float]:
    """Static instruction counts per neutral class."""
    out = dict.fromkeys(MIX_CLASSES, 0.0)
    for cls, n in (mix or {}).items():
        out[_NEUTRAL.get(cls, "other")] += float(n)
    return out


def source_counts(source: str) -> dict[str, float]:
    text = source or ""
    return {name: float(len(rx.findall(text))) for name, rx in _SOURCE_COUNTS.items()}


def features(kernel: KernelSpec, sizes: dict[str, int], dtype: str, target: Target,
             resources: ResourceReport | None, params: dict[str, int] | None = None,
             source: str = "") -> dict[str, float]:
    """The feature vector of one candidate at one bench point (see ``FEATURE_NAMES``)."""
    from portkern.harness import roofline

    work = roofline.work_of(kernel, sizes, dtype, params)
    geo = geometry(kernel, sizes, params, dtype)
    roof_s = roofline.min_seconds(work, target, dtype)
    compute_bound = work.flops / target.peak_flops_for(dtype) > work.bytes_moved / (target.peak_bandwidth_gbs * 1e9)
    per_cu = resident_blocks(target, geo, resources)
    concurrent = per_cu * target.compute_units
    waves = geo.blocks / concurrent
    tail = waves / math.ceil(waves) if waves >= 1 else 1.0
    fill = min(1.0, geo.blocks / target.compute_units)
    mix = neutral_mix(resources.instruction_mix if resources is not None else {})
    total = sum(mix.values())
    f: dict[str, float] = {
        "log_roof_ms": math.log(roof_s * 1e3 + 1e-9),
        "log_bytes": math.log1p(work.bytes_moved),
        "log_flops": math.log1p(work.flops),
        "log_intensity": math.log((work.flops + 1.0) / (work.bytes_moved + 1.0)),
        "compute_bound": float(compute_bound),
        "elem_bytes": float(DTYPE_BYTES.get(dtype, 4)),
        "log_threads_per_block": math.log(geo.threads_per_block),
        "log_blocks": math.log(geo.blocks),
        "log_total_threads": math.log(geo.total_threads),
        "fill": fill,
        "waves": min(waves, 64.0),
        "tail": tail,
        "occupancy": resources.occupancy_fraction if resources is not None else 0.0,
        "log_registers": math.log1p(resources.registers if resources is not None else 0),
        "shared_kb": (max(resources.shared_bytes if resources is not None else 0, geo.shared_bytes)) / 1024.0,
        "spills": float(resources.spill_bytes > 0) if resources is not None else 0.0,
        "log_bytes_per_thread": math.log1p(work.bytes_moved / max(1, geo.total_threads)),
        "launches": float(geo.launches),
        "log_static_instructions": math.log1p(total),
        **{f"mix_{c}": (mix[c] / total if total else 0.0) for c in MIX_CLASSES},
        **source_counts(source),
        "vendor_amd": float(target.vendor == "amd"),
        "wavefront": float(target.wavefront),
    }
    f["log_analytic_ms"] = math.log(analytic_ms(f, target, geo, work, dtype, resources))
    return f


def vector(f: dict[str, float]) -> list[float]:
    return [float(f.get(name, 0.0)) for name in FEATURE_NAMES]
