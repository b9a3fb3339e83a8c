"""NVRTC (through cuda-python's ``cuda.bindings.nvrtc``): CUDA C++ to cubin or PTX in-process, no GPU needed.

Entries are registered as NVRTC name expressions, which instantiate templates and keep static
kernels, and their lowered (mangled) names fill ``entry_map``. Resources come from the cubin
(:mod:`portkern.backends.cuda.cubin_resources`); spill bytes from the ptxas report NVRTC logs.

NVRTC reads no host headers: the CUDA include folder (toolkit next to nvcc, ``$CUDA_HOME``, or
NVIDIA's wheels) provides cuda_runtime.h & co., and ``nvrtc_include/`` provides device-usable
stand-ins for the few C/C++ standard headers kernels include.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from portkern.backends.cuda.cubin import parse_ptxas_verbose
from portkern.backends.cuda.cubin_resources import cubin_resource_reports

from portkern.errors import CompileError, ConfigError, ToolMissingError
from portkern.model import CompileOptions, ResourceReport

NVRTC_PACKAGE_HINT = "pip install 'portkern[cuda]' (cuda-python and nvidia-cuda-nvrtc from PyPI)"
CUDA_HEADERS_HINT = ("install the CUDA toolkit headers (nvcc's include folder), set CUDA_HOME, or pip install "
                     "nvidia-cuda-runtime nvidia-cuda-cccl")
STANDIN_INCLUDE_DIR = Path(__file__).parent / "nvrtc_include"
# Host-runtime headers whose device-side content NVRTC already has built in (threadIdx, __syncthreads,
# math functions); dropped only when no CUDA include folder is found.
HOST_RUNTIME_HEADERS = ("cuda_runtime.h", "cuda_runtime_api.h", "cuda.h", "device_launch_parameters.h")
_HOST_NAMES = "|".join(re.escape(h) for h in HOST_RUNTIME_HEADERS)
_HOST_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*[<"](' + _HOST_NAMES + r')[>"][^\n]*$', re.MULTILINE)
HEADER_SUFFIXES = {".h", ".hpp", ".cuh", ".inc", ".inl", ""}


def load_nvrtc():
    """The ``cuda.bindings.nvrtc`` module with its library loaded; ToolMissingError if either is absent."""
    try:
        from cuda.bindings import nvrtc
    except ImportError as exc:
        raise ToolMissingError("NVRTC (cuda.bindings.nvrtc)", "compiling CUDA with NVRTC",
                               NVRTC_PACKAGE_HINT) from exc
    try:
        err, _major, _minor = nvrtc.nvrtcVersion()
    except Exception as exc:  # the bindings raise RuntimeError and friends when libnvrtc is not found
        raise ToolMissingError(f"libnvrtc ({type(exc).__name__}: {exc})", "compiling CUDA with NVRTC",
                               NVRTC_PACKAGE_HINT) from exc
    if int(err) != 0:
        raise ToolMissingError(f"libnvrtc (nvrtcVersion returned {err})", "compiling CUDA with NVRTC",
                               NVRTC_PACKAGE_HINT)
    return nvrtc


@lru_cache(maxsize=1)
def nvrtc_version() -> str | None:
    """``"13.5"``, or None when NVRTC cannot be loaded."""
    try:
        nvrtc = load_nvrtc()
    except ToolMissingError:
        return None
    _err, major, minor = nvrtc.nvrtcVersion()
    return f"{major}.{minor}"


def nvrtc_identity() -> str | None:
    """What keys the cache for NVRTC builds: its version and the bindings' version."""
    version = nvrtc_version()
    if version is None:
        return None
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        bindings = dist_version("cuda-bindings")
    except PackageNotFoundError:
        bindings = "?"
    return f"NVRTC {version} (cuda-bindings {bindings})"


def cuda_include_dirs(nvcc: str | None = None) -> list[str]:
    """The CUDA include folder (with its cccl/ subfolder when present) of the toolkit next to nvcc,
    of ``$CUDA_HOME`` / ``$CUDA_PATH``, or of NVIDIA's wheels; empty when none has cuda_runtime.h."""
    roots: list[Path] = []
    nvcc = nvcc or shutil.which("nvcc")
    if nvcc:
        real = Path(os.path.realpath(nvcc))
        roots.append(real.parent.parent / "include")
        # A wrapper script on PATH: look for the exec'd toolkit path inside it.
        try:
            text = real.read_text(errors="replace")[:4096] if real.stat().st_size < 65536 else ""
        except OSError:
            text = ""
        for m in re.finditer(r"(/\S+)/bin/nvcc\b", text):
            roots.append(Path(m.group(1)) / "include")
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            roots.append(Path(os.environ[var]) / "include")
    try:
        import nvidia  # namespace package of NVIDIA's CUDA wheels

        for base in nvidia.__path__:
            roots += [Path(p) for p in sorted(glob.glob(os.path.join(base, "*", "include")), reverse=True)]
    except ImportError:
        pass
    for root in roots:
        if (root / "cuda_runtime.h").is_file():
            dirs = [str(root)]
            if (root / "cccl" / "cuda" / "std").is_dir():
                dirs.append(str(root / "cccl"))
            return dirs
    return []


def strip_host_runtime_includes(source: str) -> tuple[str, list[str]]:
    """Comment out includes of host-runtime headers; returns the new source and the headers dropped."""
    dropped = [m.group(1) for m in _HOST_INCLUDE.finditer(source)]
    return _HOST_INCLUDE.sub(lambda m: "// (dropped for NVRTC) " + m.group(0).strip(), source), dropped


def standin_fingerprint() -> str:
    """Hash of the stand-in headers, so editing them changes the cache key."""
    digest = hashlib.sha256()
    for path in sorted(STANDIN_INCLUDE_DIR.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def header_files(include_dirs: list[str], limit: int = 2000) -> list[str]:
    """Header-like files under the caller's include folders: NVRTC writes no dependency file, so the
    cache checks all of them (an edited header is a miss)."""
    found: list[str] = []
    for d in include_dirs:
        for root, _dirs, files in os.walk(d):
            for f in files:
                if Path(f).suffix in HEADER_SUFFIXES:
                    found.append(os.path.abspath(os.path.join(root, f)))
                    if len(found) >= limit:
                        return found
    return found


@dataclass
class NvrtcOutput:
    binary: bytes
    code_type: str
    kernels: list[str]
    resources: dict[str, ResourceReport]
    entry_map: dict[str, str]
    log: str
    command: list[str]
    seconds: float
    notes: list[str] = field(default_factory=list)


def _check(result, what: str):
    """cuda.bindings returns (status, *values); raise on a non-success status."""
    status = result[0] if isinstance(result, tuple) else result
    if int(status) != 0:
        raise CompileError(f"NVRTC {what} failed: {status}")
    return result[1:] if isinstance(result, tuple) else ()


def nvrtc_options(arch: str, options: CompileOptions, code_type: str, include_dirs: list[str]) -> list[str]:
    virtual = arch.replace("sm_", "compute_")
    opts = [f"-arch={virtual if code_type == 'ptx' else arch}", "-std=c++17"]
    if code_type != "ptx":
        opts += ["--ptxas-options=-v", f"--ptxas-options=-O{options.opt_level}"]
    if options.debug:
        opts.append("-G")
    opts += [f"-I{d}" for d in [*options.include_dirs, str(STANDIN_INCLUDE_DIR), *include_dirs]]
    opts += [f"-D{k}={v}" if v != "" else f"-D{k}" for k, v in sorted(options.defines.items())]
    return opts + list(options.flags)


def build_with_nvrtc(source: str, name: str, arch: str, options: CompileOptions,
                     include_dirs: list[str]) -> NvrtcOutput:
    """Compile one translation unit; CompileError carries NVRTC's program log."""
    nvrtc = load_nvrtc()
    code_type = options.code_type or "cubin"
    if code_type not in ("cubin", "ptx"):
        raise ConfigError(f"code type '{code_type}' is not one NVRTC builds", hint="use cubin or ptx (or nvcc)")
    notes: list[str] = []
    if not include_dirs:
        source, dropped = strip_host_runtime_includes(source)
        if dropped:
            notes.append(f"NVRTC: no CUDA include folder found; dropped #include of {', '.join(dropped)} "
                         f"(NVRTC's built-ins cover them); {CUDA_HEADERS_HINT} for the others")
    opts = nvrtc_options(arch, options, code_type, include_dirs)
    command = ["nvrtc", *opts, f"{name}.cu"]
    start = time.perf_counter()
    (prog,) = _check(nvrtc.nvrtcCreateProgram(source.encode(), f"{name}.cu".encode(), 0, [], []), "createProgram")
    try:
        for expr in options.entries:
            _check(nvrtc.nvrtcAddNameExpression(prog, expr.encode()), f"name expression '{expr}'")
        status = nvrtc.nvrtcCompileProgram(prog, len(opts), [o.encode() for o in opts])[0]
        (size,) = _check(nvrtc.nvrtcGetProgramLogSize(prog), "getProgramLogSize")
        buf = b" " * size
        _check(nvrtc.nvrtcGetProgramLog(prog, buf), "getProgramLog")
        log = buf.rstrip(b"\0 ").decode("utf-8", "replace").strip()
        if int(status) != 0:
            first = next((ln for ln in log.splitlines() if "error" in ln.lower()), str(status))
            raise CompileError(f"NVRTC for {arch} failed ({status.name}): {first.strip()}", log=log,
                               command=command)
        entry_map: dict[str, str] = {}
        for expr in options.entries:
            (lowered,) = _check(nvrtc.nvrtcGetLoweredName(prog, expr.encode()), f"lowered name of '{expr}'")
            entry_map[expr] = lowered.decode()
        if code_type == "ptx":
            (size,) = _check(nvrtc.nvrtcGetPTXSize(prog), "getPTXSize")
            out = b" " * size
            _check(nvrtc.nvrtcGetPTX(prog, out), "getPTX")
        else:
            (size,) = _check(nvrtc.nvrtcGetCUBINSize(prog), "getCUBINSize")
            out = b" " * size
            _check(nvrtc.nvrtcGetCUBIN(prog, out), "getCUBIN")
    finally:
        nvrtc.nvrtcDestroyProgram(prog)
    seconds = time.perf_counter() - start
    if code_type == "ptx":
        text = out.rstrip(b"\0").decode("utf-8", "replace")
        kernels = re.findall(r"\.entry\s+([\w$]+)\s*\(", text)
        return NvrtcOutput(out.rstrip(b"\0"), code_type, kernels, {k: ResourceReport(symbol=k) for k in kernels},
                           entry_map, log, command, seconds,
                           notes + ["PTX: registers and shared memory are decided by ptxas; build a cubin "
                                    "for a resource report"])
    kernels, reports = cubin_resource_reports(out, arch, f"NVRTC cubin of {name}")
    for symbol, ptxas in parse_ptxas_verbose(log, kernels).items():
        reports[symbol].spill_bytes = ptxas.spill_bytes
    missing = {e: s for e, s in entry_map.items() if s not in kernels}
    if missing:
        raise CompileError(f"NVRTC entries not found as kernels in the cubin: {missing}", log=log, command=command,
                           hint="entries must name __global__ functions")
    return NvrtcOutput(out, code_type, kernels, reports, entry_map, log, command, seconds, notes)
