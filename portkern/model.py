"""The data model shared by every stage: plain, typed, JSON-serialisable records.

Each record is a dataclass with ``to_dict()`` / ``from_dict()``; binary payloads are stored
base64-encoded in JSON. Units are part of field names where they matter.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, get_type_hints


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    return value


def _decode(tp: Any, value: Any) -> Any:
    if isinstance(value, dict) and "__bytes__" in value:
        return base64.b64decode(value["__bytes__"])
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return tp.from_dict(value)
    origin = getattr(tp, "__origin__", None)
    args = getattr(tp, "__args__", ()) or ()
    if origin in (list, tuple) and isinstance(value, list) and args:
        return [_decode(args[0], v) for v in value]
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return {k: _decode(args[1], v) for k, v in value.items()}
    if args and type(None) in args and value is not None:  # Optional[X]
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _decode(inner[0], value)
    return value


class Record:
    """Mixin: dict/JSON conversion and a stable content hash."""

    def to_dict(self) -> dict[str, Any]:
        return _encode(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        hints = get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: _decode(hints.get(k, Any), v) for k, v in data.items() if k in names}
        return cls(**kwargs)

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, **kw)

    def content_hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()


# --------------------------------------------------------------------------- targets


@dataclass
class Target(Record):
    """One GPU a kernel can be built and tuned for (from ``portkern/data/targets.yaml``)."""

    name: str
    vendor: str                      # "amd" | "nvidia"
    backend: str                     # the backends/ folder that compiles, runs and times for it: "hip", "cuda"
    arch: str                        # "gfx942", "sm_90", ...
    display_name: str
    wavefront: int                   # wavefront / warp width in lanes
    max_threads_per_block: int
    shared_bytes_per_block: int      # LDS / shared memory a block may use
    shared_bytes_per_cu: int         # LDS / shared memory per CU / SM
    registers_per_cu: int            # 32-bit registers per CU / SM (VGPR file for AMD)
    max_registers_per_thread: int
    compute_units: int               # CUs / SMs
    max_waves_per_cu: int            # resident wavefronts / warps per CU / SM
    max_blocks_per_cu: int
    simds_per_cu: int                # AMD: SIMDs per CU; NVIDIA: SM sub-partitions
    peak_bandwidth_gbs: float        # HBM bandwidth, GB/s (1e9 bytes)
    peak_flops: dict[str, float]     # per dtype, FLOP/s: fp64, fp32, fp16_matrix, bf16_matrix, ...
    last_level_cache_bytes: int     # L2 (NVIDIA) / Infinity Cache or L2 (AMD): what an L2 flush must exceed
    accelerator_type: str            # Ray accelerator type label
    dialect: str                     # "hip" | "cuda": the source dialect this target compiles
    sources: dict[str, str] = field(default_factory=dict)  # figure -> where it comes from

    def peak_flops_for(self, dtype: str) -> float:
        key = {"float64": "fp64", "float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}.get(dtype, dtype)
        return float(self.peak_flops.get(key) or self.peak_flops["fp32"])


# --------------------------------------------------------------------------- backends


@dataclass
class Availability(Record):
    """What a backend found on this machine. ``ok`` False always comes with a reason."""

    backend: str
    ok: bool
    reason: str = ""
    compiler: str = ""               # compiler identity (path + version) when found
    devices: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class CompileOptions(Record):
    defines: dict[str, str] = field(default_factory=dict)
    include_dirs: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    code_type: str = ""              # "cubin" | "ptx" | "hsaco" | "so" ("" = backend default)
    opt_level: int = 3
    debug: bool = False
    sanitize: bool = False           # emulator: AddressSanitizer build
    wavefront: int = 0               # emulator: warp width (0 = target's)
    # Kernel name expressions to instantiate and expose, e.g. "axpy_kernel<int, 256, float>".
    # Each backend forces their instantiation and maps them to binary symbols in entry_map.
    entries: list[str] = field(default_factory=list)


@dataclass
class ResourceReport(Record):
    """Resources of one kernel symbol, as the compiler reported them."""

    symbol: str
    registers: int = 0               # registers per thread (NVIDIA) / arch VGPRs (AMD)
    sgprs: int = 0
    agprs: int = 0
    shared_bytes: int = 0            # static shared memory / group segment (LDS) bytes
    local_bytes: int = 0             # local memory (NVIDIA) / private segment = scratch (AMD), per thread
    spill_bytes: int = 0             # spill stores (NVIDIA bytes) / VGPR+SGPR spill count (AMD)
    const_bytes: int = 0
    max_threads_per_block: int = 0   # launch bounds the binary was built with (0 = none)
    occupancy_waves_per_simd: float = 0.0  # AMD: waves per SIMD; NVIDIA: resident warps per sub-partition
    occupancy_fraction: float = 0.0  # resident waves / max resident waves, 0..1
    occupancy_limiter: str = ""      # "registers" | "shared" | "threads" | "blocks"
    instruction_mix: dict[str, int] = field(default_factory=dict)


@dataclass
class CompileResult(Record):
    backend: str                     # "cuda" | "hip" | "emu"
    target: str                      # target name
    arch: str
    code_type: str
    binary: bytes
    entry_symbols: list[str]         # every kernel symbol in the binary (mangled)
    entry_map: dict[str, str]        # options.entries expression -> symbol in the binary
    resources: dict[str, ResourceReport]
    log: str
    compiler: str                    # identity: path and version
    options: CompileOptions
    cache_key: str
    cached: bool = False
    compile_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # e.g. "compiled without ROCm device libraries"


# --------------------------------------------------------------------------- validation and timing


@dataclass
class CaseResult(Record):
    """One validation case: one size, one dtype, one seed."""

    sizes: dict[str, int]
    dtype: str
    seed: int
    passed: bool
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    atol: float = 0.0
    rtol: float = 0.0
    failure: str = ""                # "" | "mismatch" | "nan" | "unwritten" | "input-mutated" | "crash" | ...
    detail: str = ""
    mismatch_sample: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ValidationResult(Record):
    kernel: str
    backend: str                     # "emu" | "cuda" | "hip"
    device: str                      # "cpu-emulator (wave64)" or the GPU's name
    wavefront: int
    passed: bool
    cases: list[CaseResult] = field(default_factory=list)
    failure: str = ""                # first failure cause, "" when passed
    detail: str = ""
    seconds: float = 0.0


@dataclass
class BenchResult(Record):
    kernel: str
    sizes: dict[str, int]
    dtype: str
    method: str                      # "device-events" | "estimate"
    device: str
    median_ms: float
    spread_ms: float                 # interquartile range
    trials: int = 0
    bytes_moved: float = 0.0
    flops: float = 0.0
    gbs: float = 0.0
    gflops: float = 0.0
    roofline_fraction: float = 0.0   # achieved / attainable at this arithmetic intensity
    baseline_name: str = ""          # "cuBLAS (CuPy)", ...
    baseline_median_ms: float = 0.0
    flags: list[str] = field(default_factory=list)  # e.g. "above-roofline" (a bug report, not a win)
    measured_copy_gbs: float = 0.0   # device-to-device copy rate measured in the same run (0 = not measured)
    phases: dict[str, float] = field(default_factory=dict)   # seconds per phase of the timing job (device runs)
    l2_flush: str = ""                # how the cache was emptied before each trial: "read" (a sweep), "write"
    # Estimates only (method "estimate"): the performance model's 90% interval of the time, and which model.
    predicted_lo_ms: float = 0.0
    predicted_hi_ms: float = 0.0
    model: str = ""
