"""AMD backend: clang's HIP toolchain (hipcc when ROCm is installed) to a code object (hsaco).

Device libraries: when the installed ROCm device libraries have bitcode for the arch, clang links
them as usual. When they stop short of it (Debian's 5.2 set ends at gfx940, so gfx942 is missing),
the build passes -nogpulib and links the arch-independent libraries (ocml, ockl, control
libraries) with the closest same-family ISA-version library, and says so in the result's notes.
Without any device libraries it builds with -nogpulib alone, and a kernel that needs a library
function fails with the list of unresolved functions.
Resources come from the code object metadata and the kernel's ISA in the ``-save-temps`` assembly.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from portkern.backends.hip.amdgpu import resource_reports
from portkern.backends.hip.occupancy import occupancy

from portkern.compile.cache import file_fingerprint, read_dependency_file
from portkern.compile.driver import BuildOutput, CompilerBackend, raise_compile_error
from portkern.compile.elf import amdgpu_kernel_symbols, read_elf
from portkern.compile.process import compiler_identity, find_tool, run_tool
from portkern.errors import CompileError, ConfigError, ToolMissingError
from portkern.model import Availability, CompileOptions, CompileResult, Target

if TYPE_CHECKING:
    from portkern.backends.base import Program

    from portkern.compile.occupancy import Occupancy
    from portkern.harness.runners.base import Runner

CLANG_NAMES = ["hipcc", "clang-22", "clang-21", "clang-20", "clang-19", "clang"]
CLANG_PACKAGE_HINT = ("install ROCm (hipcc), or Debian's clang-19, lld-19 and libamdhip64-dev "
                      "(apt-get install clang-19 lld-19 libamdhip64-dev), or set compile.hip_clang in "
                      "portkern.yaml / PORTKERN_COMPILE_HIP_CLANG")
DEVICE_LIB_HINT = ("install ROCm device libraries that cover the arch (ROCm >= 5.7 for gfx942; Debian: "
                   "rocm-device-libs) or point compile.rocm_device_libs at their amdgcn/bitcode folder")
_DEVICE_LIB_FUNCS = re.compile(r"undefined (?:hidden )?symbol: (__(?:ocml|ockl|oclc)_\w+|__atomic_work_item_fence"
                               r"|__hip_\w+)")


def _setting(key: str) -> str:
    from portkern.config import load_config

    return str(load_config().get("compile", {}).get(key, "") or "")


@lru_cache(maxsize=64)
def clang_knows_arch(clang: str, arch: str) -> bool:
    if os.path.basename(clang).startswith("hipcc"):
        return True  # ROCm's own driver: its clang is built for the ROCm arch list
    run = run_tool([clang, "--target=amdgcn-amd-amdhsa", f"-mcpu={arch}", "-nogpulib", "-x", "c", "-S",
                    "-o", os.devnull, os.devnull], timeout_s=60)
    return run.returncode == 0


def device_lib_dirs() -> list[str]:
    """Folders holding ROCm device-library bitcode (ocml.bc, ockl.bc), most specific first."""
    roots = [_setting("rocm_device_libs"), os.environ.get("HIP_DEVICE_LIB_PATH", "")]
    for env in ("ROCM_PATH", "HIP_PATH"):
        if os.environ.get(env):
            roots.append(os.path.join(os.environ[env], "amdgcn", "bitcode"))
    roots += sorted(glob.glob("/opt/rocm*/amdgcn/bitcode"), reverse=True)
    roots += sorted(glob.glob("/usr/lib/*/amdgcn/bitcode")) + ["/usr/lib/amdgcn/bitcode",
                                                                "/usr/share/amdgcn/bitcode"]
    seen: list[str] = []
    for root in roots:
        if root and os.path.isfile(os.path.join(root, "ocml.bc")) and os.path.isfile(os.path.join(root, "ockl.bc")):
            real = os.path.realpath(root)
            if real not in seen:
                seen.append(real)
    return seen


def isa_version(arch: str) -> str:
    return arch[3:] if arch.startswith("gfx") else arch


def covered_isa_versions(lib_dir: str) -> list[str]:
    return sorted(Path(p).stem.rsplit("_", 1)[1] for p in glob.glob(os.path.join(lib_dir, "oclc_isa_version_*.bc")))


@dataclass
class DeviceLibPlan:
    """How a build gets its device libraries."""

    mode: str                      # "rocm" | "substitute" | "none"
    lib_dir: str = ""
    substitute_arch: str = ""      # the same-family arch whose ISA-version library stands in
    note: str = ""


def plan_device_libs(arch: str) -> DeviceLibPlan:
    dirs = device_lib_dirs()
    want = isa_version(arch)
    for d in dirs:
        if want in covered_isa_versions(d):
            return DeviceLibPlan("rocm", d)
    family = want[:-1]  # gfx942 -> "94": gfx940/941/942 share the GFX9.4 ISA
    for d in dirs:
        same = [v for v in covered_isa_versions(d) if v[:-1] == family and v < want]
        if same:
            sub = same[-1]
            return DeviceLibPlan("substitute", d, f"gfx{sub}", (
                f"ROCm device libraries in {d} have no {arch} bitcode (they cover up to "
                f"gfx{covered_isa_versions(d)[-1]}): built with -nogpulib and linked their arch-independent "
                f"ocml/ockl with oclc_isa_version_{sub}.bc (same GFX{family[0]}.{family[1:]} family) in its place; "
                f"re-check on ROCm device libraries that include {arch}"))
    where = ", ".join(dirs) or "none found"
    return DeviceLibPlan("none", note=(
        f"compiled without ROCm device libraries (-nogpulib): none cover {arch} (searched: {where}); "
        "kernels calling device-library functions (math, work-item queries) will not link"))


def find_hip_include_dir(clang: str) -> str | None:
    """The folder holding ``hip/hip_runtime.h``: ROCm/HIP environment first, then the compiler's
    own include search list."""
    candidates = [os.path.join(os.environ[e], "include") for e in ("HIP_PATH", "ROCM_PATH") if os.environ.get(e)]
    candidates += sorted(glob.glob("/opt/rocm*/include"), reverse=True)
    candidates += _compiler_include_dirs(clang)
    return next((c for c in candidates if os.path.isfile(os.path.join(c, "hip", "hip_runtime.h"))), None)


@lru_cache(maxsize=8)
def _compiler_include_dirs(clang: str) -> list[str]:
    run = run_tool([clang, "-x", "c++", "-E", "-v", os.devnull], timeout_s=60)
    text = run.stderr
    start, end = text.find("#include <...> search starts here:"), text.find("End of search list.")
    if start < 0 or end < 0:
        return []
    return [line.strip() for line in text[start:end].splitlines()[1:] if line.strip()]


@lru_cache(maxsize=32)
def _driver_device_libs(clang: str, arch: str, lib_dir: str, flags: tuple[str, ...]) -> tuple[str, ...]:
    """The bitcode files clang links for ``arch`` with ``lib_dir`` (read from its ``-###`` plan)."""
    run = run_tool([clang, "-###", "-x", "hip", f"--offload-arch={arch}", "--offload-device-only",
                    f"--rocm-device-lib-path={lib_dir}", *flags, "-c", os.devnull, "-o", os.devnull],
                   timeout_s=60)
    words = re.findall(r'"([^"]*)"', run.stderr)
    return tuple(words[i + 1] for i, w in enumerate(words[:-1]) if w == "-mlink-builtin-bitcode")


class HipBackend(CompilerBackend):
    name = "hip"
    dialect_suffix = ".hip"

    def __init__(self, *, clang: str = "", **kw):
        super().__init__(**kw)
        self._clang_override = clang

    def occupancy(self, target: Target, **resources: int) -> Occupancy:
        return occupancy(target, **resources)

    def load(self, compiled: CompileResult, entry: str) -> Program:
        """``entry`` of ``compiled`` on this machine's GPU (inside a worker, like a runner's session)."""
        from portkern.backends.hip.runner import HipDriverApi

        from portkern.harness.runners.device import DeviceProgram

        avail = self.runner().available()
        if not avail.ok:
            raise ToolMissingError("an AMD GPU with hip-python", "loading kernels", avail.reason)
        return DeviceProgram(HipDriverApi(), compiled, entry)

    def runner(self) -> Runner:
        from portkern.backends.hip.runner import HipRunner  # hip-python is imported only when used

        return HipRunner(self)

    def compiler_path(self, target: Target | None = None) -> str:
        """The first of hipcc / clang-N / clang that knows the target's arch."""
        arch = target.arch if target else ""
        override = self._clang_override or _setting("hip_clang")
        names = [override] if override else CLANG_NAMES
        found_any = []
        for name in names:
            path = find_tool([name], name if os.sep in name else "")
            if path is None:
                continue
            found_any.append(path)
            if not arch or clang_knows_arch(path, arch):
                return path
        if found_any:
            raise ToolMissingError(f"a clang that knows {arch} (found {', '.join(found_any)}, which do not)",
                                   f"building kernels for {arch}", CLANG_PACKAGE_HINT)
        where = f" (configured as '{override}')" if override else " on PATH"
        raise ToolMissingError(f"hipcc or clang with the AMDGPU backend{where}", "building kernels for AMD targets",
                               CLANG_PACKAGE_HINT)

    def _check_toolchain(self, clang: str) -> str:
        if not os.path.basename(clang).startswith("hipcc"):
            real_dir = os.path.dirname(os.path.realpath(clang))
            if not (os.path.exists(os.path.join(real_dir, "ld.lld")) or find_tool(["ld.lld"])):
                raise ToolMissingError("ld.lld (the linker clang uses for AMDGPU code objects)",
                                       "building kernels for AMD targets",
                                       "install lld matching the clang (Debian: apt-get install lld-19)")
        include = find_hip_include_dir(clang)
        if include is None:
            raise ToolMissingError("hip/hip_runtime.h", "compiling HIP sources",
                                   "install ROCm or Debian's libamdhip64-dev, or set ROCM_PATH")
        return include

    def available(self) -> Availability:
        try:
            clang = self.compiler_path()
            include = self._check_toolchain(clang)
        except ToolMissingError as exc:
            return Availability(self.name, False, reason=str(exc))
        from portkern.targets import load_targets

        archs = sorted({t.arch for t in load_targets().values() if t.backend == self.name})
        details = {"hip_include_dir": include, "device_lib_dirs": device_lib_dirs()}
        for arch in archs:
            plan = plan_device_libs(arch)
            details[arch] = {"clang_knows_arch": clang_knows_arch(clang, arch), "device_libs": plan.mode,
                             "note": plan.note}
        return Availability(self.name, True, compiler=compiler_identity(clang) or clang, details=details)

    def key_extra(self, target: Target, options: CompileOptions, compiler: str) -> dict:
        plan = plan_device_libs(target.arch)
        libs = self._device_lib_flags(compiler, target.arch, plan, options)
        bitcode = [file_fingerprint(p) for p in libs if p.endswith(".bc")]
        return {"device_libs": plan.mode, "flags": libs, "bitcode": bitcode}

    def _device_lib_flags(self, clang: str, arch: str, plan: DeviceLibPlan, options: CompileOptions) -> list[str]:
        if plan.mode == "rocm":
            return [] if os.path.basename(clang).startswith("hipcc") else [f"--rocm-device-lib-path={plan.lib_dir}"]
        if plan.mode == "substitute":
            libs = _driver_device_libs(clang, plan.substitute_arch, plan.lib_dir, tuple(options.flags))
            out = ["-nogpulib"]
            for lib in libs:
                out += ["-Xclang", "-mlink-builtin-bitcode", "-Xclang", lib]
            return out
        return ["-nogpulib"]

    def build(self, source_file: Path, workdir: Path, target: Target, options: CompileOptions,
              compiler: str) -> BuildOutput:
        code_type = options.code_type or "hsaco"
        if code_type != "hsaco":
            raise ConfigError(f"code type '{code_type}' is not one the HIP backend builds", hint="use 'hsaco'")
        include = self._check_toolchain(compiler)
        plan = plan_device_libs(target.arch)
        out_file = workdir / f"{source_file.stem}.hsaco"
        deps_file = workdir / "deps.d"
        cmd = [compiler, "-x", "hip", f"--offload-arch={target.arch}", "--offload-device-only",
               "--no-gpu-bundle-output", f"-O{options.opt_level}", "-save-temps", "-MD", "-MF", str(deps_file),
               "-o", str(out_file)]
        if options.debug:
            cmd.append("-g")
        if include not in _compiler_include_dirs(compiler):
            cmd += ["-isystem", include]
        cmd += self._device_lib_flags(compiler, target.arch, plan, options)
        cmd += [f"-I{d}" for d in options.include_dirs]
        cmd += [f"-D{k}={v}" if v != "" else f"-D{k}" for k, v in sorted(options.defines.items())]
        cmd += list(options.flags) + [str(source_file)]
        run = run_tool(cmd, cwd=workdir)
        if run.returncode != 0:
            missing = sorted(set(_DEVICE_LIB_FUNCS.findall(run.log)))
            if missing and plan.mode == "none":
                raise CompileError(
                    f"{source_file.name} for {target.arch} needs ROCm device-library functions that are not "
                    f"available for {target.arch}: {', '.join(missing)}", log=run.log, command=cmd,
                    hint=DEVICE_LIB_HINT)
            raise_compile_error(run, f"clang (HIP) for {target.arch}")
        binary = out_file.read_bytes()
        kernels = amdgpu_kernel_symbols(read_elf(binary, f"code object of {source_file.name}"))
        asm_files = sorted(workdir.glob(f"{source_file.stem}-hip-amdgcn-amd-amdhsa-{target.arch}*.s"))
        reports = resource_reports(asm_files[0].read_text()) if asm_files else {}
        notes = [plan.note] if plan.note else []
        if not asm_files:
            notes.append("no resource report: the compiler kept no assembly (-save-temps)")
        deps = read_dependency_file(deps_file)
        deps += [f for f in cmd if f.endswith(".bc")]
        return BuildOutput(binary, code_type, kernels, {k: reports[k] for k in kernels if k in reports},
                           run.log, cmd, notes, deps)
