"""NVIDIA backend: nvcc (or NVRTC) to cubin (default), PTX or fatbin for the target's sm arch.

Resources come from ``ptxas -v`` (registers, shared, stack/local, spills) and the cubin itself
(constant bank sizes, launch bounds); the SASS instruction mix from nvdisasm when it is present.
Which compiler: ``compiler=`` on the backend, else ``compile.cuda_compiler`` (auto | nvcc | nvrtc;
env PORTKERN_COMPILE_CUDA_COMPILER). auto uses nvcc when it is configured or on PATH, else NVRTC
(:mod:`portkern.backends.cuda.nvrtc`), which needs no toolkit and no GPU.
"""

from __future__ import annotations

import glob
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from portkern.backends.cuda import nvrtc as nvrtc_path
from portkern.backends.cuda.cubin import max_threads_per_block, parse_ptxas_verbose, sass_instruction_mix
from portkern.backends.cuda.occupancy import occupancy

from portkern.compile.cache import compile_key, read_dependency_file
from portkern.compile.driver import BuildOutput, CompilerBackend, raise_compile_error
from portkern.compile.elf import cuda_kernel_symbols, read_elf, section_sizes_by_prefix
from portkern.compile.process import compiler_identity, find_tool, run_tool
from portkern.errors import ConfigError, ToolMissingError
from portkern.model import Availability, CompileOptions, CompileResult, ResourceReport, Target

if TYPE_CHECKING:
    from portkern.backends.base import Program

    from portkern.compile.occupancy import Occupancy
    from portkern.harness.runners.base import Runner

NVCC_PACKAGE_HINT = ("install the CUDA toolkit (https://developer.nvidia.com/cuda-downloads, or Debian's "
                     "nvidia-cuda-toolkit package), or set compile.nvcc in portkern.yaml / PORTKERN_COMPILE_NVCC")
CODE_TYPES = {"cubin": "-cubin", "ptx": "-ptx", "fatbin": "-fatbin"}
CUDA_COMPILERS = ("auto", "nvcc", "nvrtc")


def _tool_setting(key: str) -> str:
    from portkern.config import load_config

    return str(load_config().get("compile", {}).get(key, "") or "")


def find_nvdisasm() -> str | None:
    """nvdisasm on PATH, in the CUDA toolkit next to nvcc, or from the nvidia-cuda-nvdisasm wheel."""
    found = find_tool(["nvdisasm"], _tool_setting("nvdisasm"))
    if found:
        return found
    nvcc = find_tool(["nvcc"], _tool_setting("nvcc"))
    candidates = [str(Path(os.path.realpath(nvcc)).parent / "nvdisasm")] if nvcc else []
    try:
        import nvidia  # namespace package of NVIDIA's CUDA wheels

        for root in nvidia.__path__:
            candidates += sorted(glob.glob(os.path.join(root, "*", "bin", "nvdisasm")), reverse=True)
    except ImportError:
        pass
    return next((c for c in candidates if os.access(c, os.X_OK)), None)


def nvrtc_status() -> str:
    identity = nvrtc_path.nvrtc_identity()
    if identity is None:
        return f"not available: {nvrtc_path.NVRTC_PACKAGE_HINT}"
    headers = nvrtc_path.cuda_include_dirs()
    return f"{identity}; CUDA headers: {headers[0] if headers else 'none found (' + nvrtc_path.CUDA_HEADERS_HINT + ')'}"


class CudaBackend(CompilerBackend):
    name = "cuda"
    dialect_suffix = ".cu"

    def __init__(self, *, nvcc: str = "", compiler: str = "", **kw):
        super().__init__(**kw)
        self._nvcc_override = nvcc
        self._compiler_choice = compiler

    def occupancy(self, target: Target, **resources: int) -> Occupancy:
        return occupancy(target, **resources)

    def load(self, compiled: CompileResult, entry: str) -> Program:
        """``entry`` of ``compiled`` on this machine's GPU (inside a worker, like a runner's session)."""
        from portkern.backends.cuda.runner import CudaDriverApi

        from portkern.harness.runners.device import DeviceProgram

        avail = self.runner().available()
        if not avail.ok:
            raise ToolMissingError("an NVIDIA GPU with cuda-python", "loading kernels", avail.reason)
        return DeviceProgram(CudaDriverApi(), compiled, entry)

    def runner(self) -> Runner:
        from portkern.backends.cuda.runner import CudaRunner  # cuda-python is imported only when used

        return CudaRunner(self)

    def selected_compiler(self) -> str:
        """"nvcc" or "nvrtc": the explicit choice, else the config's, else auto (nvcc when present)."""
        choice = (self._compiler_choice or _tool_setting("cuda_compiler") or "auto").strip().lower()
        if choice not in CUDA_COMPILERS:
            raise ConfigError(f"CUDA compiler '{choice}' is not one of {', '.join(CUDA_COMPILERS)}",
                              hint="set compile.cuda_compiler (or PORTKERN_COMPILE_CUDA_COMPILER) to auto, "
                                   "nvcc or nvrtc")
        if choice != "auto":
            return choice
        nvcc_configured = bool(self._nvcc_override or _tool_setting("nvcc"))
        if nvcc_configured or find_tool(["nvcc"]) or nvrtc_path.nvrtc_version() is None:
            return "nvcc"   # a configured nvcc is used (or reported missing) rather than silently replaced
        return "nvrtc"

    def compiler_path(self, target: Target | None = None) -> str:
        override = self._nvcc_override or _tool_setting("nvcc")
        found = find_tool(["nvcc"], override)
        if found is None:
            where = f" (configured as '{override}')" if override else " on PATH"
            raise ToolMissingError(f"nvcc{where}", "building kernels for NVIDIA targets", NVCC_PACKAGE_HINT)
        return found

    def available(self) -> Availability:
        if self.selected_compiler() == "nvrtc":
            identity = nvrtc_path.nvrtc_identity()
            if identity is None:
                return Availability(self.name, False, reason=f"NVRTC not available: {nvrtc_path.NVRTC_PACKAGE_HINT}",
                                    details={"compiler_used": "nvrtc"})
            return Availability(self.name, True, compiler=identity,
                                details={"compiler_used": "nvrtc", "nvrtc": nvrtc_status(),
                                         "nvdisasm": find_nvdisasm() or "not found"})
        try:
            nvcc = self.compiler_path()
        except ToolMissingError as exc:
            return Availability(self.name, False, reason=str(exc), details={"nvrtc": nvrtc_status()})
        identity = compiler_identity(nvcc) or nvcc
        return Availability(self.name, True, compiler=identity,
                            details={"compiler_used": "nvcc", "nvrtc": nvrtc_status(),
                                     "nvdisasm": find_nvdisasm() or "not found: no SASS instruction mix "
                                     "(pip install nvidia-cuda-nvdisasm)"})

    def compile(self, source: str, target: Target, options: CompileOptions | None = None,
                *, name: str = "kernel") -> CompileResult:
        if self.selected_compiler() == "nvrtc":
            return self._compile_nvrtc(source, target, options or CompileOptions(), name)
        return super().compile(source, target, options, name=name)

    def _compile_nvrtc(self, source: str, target: Target, options: CompileOptions, name: str) -> CompileResult:
        """The driver's flow (key, cache, build, store, occupancy) with NVRTC in place of a subprocess."""
        self.check_target(target)
        nvrtc_path.load_nvrtc()
        identity = nvrtc_path.nvrtc_identity() or "NVRTC"
        include_dirs = nvrtc_path.cuda_include_dirs(find_tool(["nvcc"], self._nvcc_override or _tool_setting("nvcc")))
        key = compile_key(backend=self.name, source=source, options=options.to_dict(), arch=target.arch,
                          compiler=identity, extra={"compiler": "nvrtc", "cuda_include_dirs": include_dirs,
                                                    "standin_headers": nvrtc_path.standin_fingerprint()})
        if self.use_cache:
            hit = self.cache.get(key)
            if hit is not None:
                return self._finish(hit, target)
        start = time.perf_counter()
        out = nvrtc_path.build_with_nvrtc(source, _stem(name), target.arch, options, include_dirs)
        notes = list(out.notes)
        if out.code_type == "cubin":
            notes += self._add_sass_mix_from_bytes(out.binary, out.resources)
        result = CompileResult(
            backend=self.name, target=target.name, arch=target.arch, code_type=out.code_type, binary=out.binary,
            entry_symbols=sorted(out.kernels), entry_map=out.entry_map, resources=out.resources, log=out.log,
            compiler=identity, options=options, cache_key=key, cached=False,
            compile_seconds=round(time.perf_counter() - start, 4), notes=notes)
        if self.use_cache:
            self.cache.put(key, result, nvrtc_path.header_files(options.include_dirs))
        return self._finish(result, target)

    def _add_sass_mix_from_bytes(self, cubin: bytes, reports: dict[str, ResourceReport]) -> list[str]:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="portkern-nvrtc-") as tmp:
            path = Path(tmp) / "kernel.cubin"
            path.write_bytes(cubin)
            return self._add_sass_mix(path, reports)

    def build(self, source_file: Path, workdir: Path, target: Target, options: CompileOptions,
              compiler: str) -> BuildOutput:
        code_type = options.code_type or "cubin"
        if code_type not in CODE_TYPES:
            raise ConfigError(f"code type '{code_type}' is not one nvcc builds here",
                              hint=f"use one of {', '.join(CODE_TYPES)}")
        out_file = workdir / f"{source_file.stem}.{code_type}"
        deps_file = workdir / "deps.d"
        cmd = [compiler, f"-arch={target.arch}", CODE_TYPES[code_type], "-o", str(out_file),
               "-Xptxas", "-v", f"-Xptxas=-O{options.opt_level}", "-MD", "-MF", str(deps_file)]
        if options.debug:
            cmd.append("-G")
        cmd += [f"-I{d}" for d in options.include_dirs]
        cmd += [f"-D{k}={v}" if v != "" else f"-D{k}" for k, v in sorted(options.defines.items())]
        cmd += list(options.flags) + [str(source_file)]
        run = run_tool(cmd, cwd=workdir)
        if run.returncode != 0:
            raise_compile_error(run, f"nvcc for {target.arch}")
        binary = out_file.read_bytes()
        deps = read_dependency_file(deps_file)
        if code_type == "ptx":
            kernels = _ptx_entries(binary.decode("utf-8", "replace"))
            return BuildOutput(binary, code_type, kernels, {k: ResourceReport(symbol=k) for k in kernels},
                               run.log, cmd, ["PTX: registers and shared memory are decided by ptxas; "
                                              "build a cubin for a resource report"], deps)
        if code_type == "fatbin":
            kernels = [line.split("'")[1] for line in run.log.splitlines() if "Compiling entry function" in line]
            return BuildOutput(binary, code_type, kernels, parse_ptxas_verbose(run.log, kernels), run.log, cmd,
                               [], deps)
        elf = read_elf(binary, f"cubin of {source_file.name}")
        kernels = cuda_kernel_symbols(elf)
        reports = parse_ptxas_verbose(run.log, kernels)
        const_sizes = section_sizes_by_prefix(elf, ".nv.constant0.")
        for k, rep in reports.items():
            rep.const_bytes = rep.const_bytes or const_sizes.get(k, 0)
            rep.max_threads_per_block = max_threads_per_block(elf, binary, k)
        notes = self._add_sass_mix(out_file, reports)
        return BuildOutput(binary, code_type, kernels, reports, run.log, cmd, notes, deps)

    @staticmethod
    def _add_sass_mix(cubin: Path, reports: dict[str, ResourceReport]) -> list[str]:
        tool = find_nvdisasm()
        if tool is None:
            return ["no SASS instruction mix: nvdisasm not found (pip install nvidia-cuda-nvdisasm)"]
        run = run_tool([tool, "-c", str(cubin)])
        if run.returncode != 0:
            return [f"no SASS instruction mix: nvdisasm failed: {run.log.splitlines()[-1:] or ''}"]
        for k, mix in sass_instruction_mix(run.stdout).items():
            if k in reports:
                reports[k].instruction_mix = mix
        return []


def _stem(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:80] or "kernel"


def _ptx_entries(ptx: str) -> list[str]:
    import re

    return re.findall(r"\.entry\s+([\w$]+)\s*\(", ptx)
