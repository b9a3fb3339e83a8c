"""The emulator backend: compile (cached by content), load, available."""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from portkern.backends.base import Backend

from portkern import sandbox
from portkern.errors import CompileError, LoadError
from portkern.fsio import default_mode
from portkern.model import Availability, CompileOptions, CompileResult, Target

if TYPE_CHECKING:
    from portkern.harness.runners.base import Runner

from . import cache, source, toolchain
from .program import EmuProgram

INCLUDE_DIR = Path(__file__).resolve().parent / "include"
COMPILE_TIMEOUT_S = 600
# Host-compiler flags that mean the same to g++/clang++ as to nvcc/hipcc; any other flag in
# CompileOptions.flags belongs to a GPU compiler and is left out (and noted).
_PORTABLE_FLAG_PREFIXES = ("-D", "-U", "-I", "-std=", "-include")
# A define in CompileOptions.defines that makes a trace build (include/portkern_emu/trace.h): the
# unit gets ThreadSanitizer instrumentation without the sanitizer's runtime, and the runtime's
# trace hooks receive every memory access. Being a define, it keys the cache apart by itself.
TRACE_DEFINE = "PORTKERN_EMU_TRACE"
CONSTANT_WARPSIZE_MACRO = "PORTKERN_EMU_CONSTANT_WARPSIZE"


def _runtime_hash() -> str:
    h = hashlib.sha256()
    for path in sorted(INCLUDE_DIR.rglob("*.h")):
        h.update(str(path.relative_to(INCLUDE_DIR)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


# ------------------------------------------------------------------ precompiled runtime header

# Every emulator build starts with the runtime header (threads, fibers, the device API stand-ins): about
# a third of a build's time went to parsing it and instantiating its templates again. It is compiled
# once per compiler and flag set into <cache>/emu/pch/<key>/portkern_emu/runtime.h.gch (g++ only: clang
# takes precompiled headers through another option). The header is the project's own code, never a
# candidate's, so it is built without the limits candidate sources get.
_PCH_FAILED: set[str] = set()
PCH_TIMEOUT_S = 300


def pch_enabled() -> bool:
    return os.environ.get("PORTKERN_EMU_PCH", "1").strip().lower() not in ("0", "false", "no", "off")


def precompiled_runtime(compiler: toolchain.HostCompiler, cmd: list[str], runtime_hash: str) -> str | None:
    """The folder holding the runtime header precompiled for ``cmd``'s flags (built on first use), or
    None where none can be used: then the build reads the header as before."""
    if compiler.family != "gcc" or not pch_enabled():
        return None
    # The runtime header reads only its own folder and the system's: a library's include folders do not
    # change it, so builds of every library (and of every temporary folder) share one per flag set.
    own = f"-I{INCLUDE_DIR}"
    flags = [f for f in cmd[1:] if f != "-shared" and (not f.startswith("-I") or f == own)]
    key = hashlib.sha256("\0".join([*flags, compiler.identity, runtime_hash]).encode()).hexdigest()[:32]
    if key in _PCH_FAILED:
        return None
    root = cache.folder() / "pch" / key
    gch = root / "portkern_emu" / "runtime.h.gch"
    if gch.is_file():
        return str(root)
    gch.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".runtime-", suffix=".gch.tmp", dir=gch.parent)
    os.close(fd)
    try:
        proc = subprocess.run([cmd[0], *flags, "-x", "c++-header", str(INCLUDE_DIR / "portkern_emu" / "runtime.h"),
                               "-o", tmp], capture_output=True, text=True, timeout=PCH_TIMEOUT_S)
        if proc.returncode != 0:
            _PCH_FAILED.add(key)
            return None
        os.chmod(tmp, default_mode())
        os.replace(tmp, gch)      # atomic: a concurrent build sees the whole file or none
    except (OSError, subprocess.TimeoutExpired):
        _PCH_FAILED.add(key)
        return None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return str(root)


def _pch_trouble(log: str) -> bool:
    return "PCH" in log or ".gch" in log or "precompiled header" in log


def forget_precompiled_runtime(folder: str) -> None:
    """Remove a precompiled header that the compiler could not read; later builds make it again."""
    gch = Path(folder) / "portkern_emu" / "runtime.h.gch"
    try:
        gch.unlink()
    except OSError:
        pass


def wavefront_for(target: Target | None, options: CompileOptions) -> int:
    wave = options.wavefront or (target.wavefront if target else 32)
    if wave not in (32, 64):
        raise CompileError(f"emulator warp width must be 32 or 64, got {wave}",
                           hint="set CompileOptions.wavefront to 32 or 64, or pick a target with one of them")
    return wave


def trace_flags(compiler: toolchain.HostCompiler) -> list[str]:
    """Instrument every memory access but link no ThreadSanitizer runtime: trace.h defines its hooks."""
    if compiler.family == "clang":
        return ["-fsanitize=thread", "-fno-sanitize-link-runtime", "-mllvm", "-tsan-instrument-func-entry-exit=0"]
    # g++ always links libtsan with -fsanitize=thread; leave out the default libraries and name the
    # ones a unit needs after the source (trace_link_tail).
    return ["-fsanitize=thread", "--param=tsan-instrument-func-entry-exit=0", "-nodefaultlibs"]


def trace_link_tail(compiler: toolchain.HostCompiler, options: CompileOptions) -> list[str]:
    """Libraries that go after the source on a g++ trace build's command line."""
    if TRACE_DEFINE not in options.defines or compiler.family == "clang":
        return []
    return ["-lstdc++", "-lm", "-lgcc_s", "-lgcc", "-lc"]


def is_trace_build(compiled: CompileResult) -> bool:
    return TRACE_DEFINE in compiled.options.defines
def constant_warp_size(target: Target | None, options: CompileOptions, wave: int) -> bool:
    """Whether ``warpSize`` is a constant expression in this build, as under the target's own compiler.

    HIP's headers (through ROCm 6) make it ``constexpr``; CUDA's is a run-time value. With no target,
    a 64-lane build can only be HIP. ``PORTKERN_EMU_CONSTANT_WARPSIZE`` in ``options.defines`` decides
    instead when given.
    """
    if CONSTANT_WARPSIZE_MACRO in options.defines:
        return str(options.defines[CONSTANT_WARPSIZE_MACRO]) not in ("0", "")
    if target is not None:
        return target.dialect == "hip"
    return wave == 64


class EmuBackend(Backend):
    name = "emu"

    def runner(self) -> Runner:
        from portkern.backends.emu.runner import EmuRunner

        return EmuRunner(self)

    def available(self) -> Availability:
        found = toolchain.find_compiler()
        if found is None:
            return Availability(backend=self.name, ok=False,
                                reason="no host C++ compiler (g++ or clang++) on PATH",
                                details={"tried": list(toolchain.CANDIDATES)})
        asan = toolchain.asan_runtime(found.path, found.family)
        return Availability(backend=self.name, ok=True, compiler=found.identity,
                            devices=[f"cpu-emulator ({os.cpu_count()} CPUs)"],
                            details={"compiler_family": found.family, "asan_runtime": asan,
                                     "include_dir": str(INCLUDE_DIR)})

    # ------------------------------------------------------------------ compile

    def command(self, compiler: toolchain.HostCompiler, options: CompileOptions, wave: int,
                constant_warp: bool = False) -> tuple[list[str], list[str]]:
        """Compiler arguments (without input/output paths) and notes about dropped flags."""
        opt = "-O0" if options.debug else f"-O{min(max(options.opt_level, 0), 2)}"
        if options.sanitize and not options.debug:
            # AddressSanitizer builds at -O1 with line tables: the reports still name file and line, and
            # the build takes about half the time of -O2 with full debug information (validation
            # builds one per candidate; the kernels it runs are small).
            opt = "-O1" if options.opt_level > 0 else "-O0"
        cmd = [compiler.path, "-std=c++17", opt, "-fPIC", "-shared", "-pthread", "-fvisibility=hidden",
               "-fno-strict-aliasing", "-Wno-attributes", "-Wno-unknown-pragmas", f"-I{INCLUDE_DIR}",
               f"-DPORTKERN_EMU_WAVE={wave}", f"-D{CONSTANT_WARPSIZE_MACRO}={int(constant_warp)}"]
        if options.debug:
            cmd.append("-g")
        if options.sanitize:
            cmd += ["-fsanitize=address", "-fno-omit-frame-pointer", "-g" if options.debug else "-g1"]
        if TRACE_DEFINE in options.defines:
            cmd += trace_flags(compiler)
        for key, value in sorted(options.defines.items()):
            if key == CONSTANT_WARPSIZE_MACRO:
                continue
            cmd.append(f"-D{key}" if value in ("", None) else f"-D{key}={value}")
        cmd += [f"-I{d}" for d in options.include_dirs]
        notes = []
        for flag in options.flags:
            if flag.startswith(_PORTABLE_FLAG_PREFIXES):
                cmd.append(flag)
            else:
                notes.append(f"flag {flag!r} is for a GPU compiler; the emulator build leaves it out")
        return cmd, notes

    def compile(self, source_text: str, target: Target | None, options: CompileOptions | None = None,
                *, name: str = "kernel") -> CompileResult:
        options = options or CompileOptions()
        compiler = toolchain.require_compiler()
        wave = wavefront_for(target, options)
        unit, entry_map = source.build_unit(source_text, list(options.entries), name)
        cmd, notes = self.command(compiler, options, wave, constant_warp_size(target, options, wave))
        runtime_hash = _runtime_hash()
        key = hashlib.sha256("\0".join([unit, *cmd[1:], compiler.identity, runtime_hash]).encode()).hexdigest()[:40]
        target_name = target.name if target else f"cpu-wave{wave}"
        base = dict(backend=self.name, target=target_name, arch=f"cpu-wave{wave}", code_type="so",
                    entry_symbols=sorted(entry_map.values()), entry_map=entry_map, resources={},
                    compiler=compiler.identity, options=options, cache_key=key)
        hit = cache.lookup(key)
        if hit is not None:
            binary, meta = hit
            return CompileResult(binary=binary, log=meta.get("log", ""), cached=True,
                                 compile_seconds=0.0, notes=meta.get("notes", notes), **base)
        start = time.perf_counter()
        pch = precompiled_runtime(compiler, cmd, runtime_hash)
        if pch:
            # Found before the runtime's own folder: the compiler takes the precompiled header where its
            # flags match and otherwise reads the header from INCLUDE_DIR as before.
            proc, log, binary, full = self._build(compiler, [cmd[0], f"-I{pch}", *cmd[1:]], unit, name, options)
            if proc.returncode != 0 and _pch_trouble(log):
                # A damaged precompiled header: drop it and build from the header itself.
                forget_precompiled_runtime(pch)
                proc, log, binary, full = self._build(compiler, cmd, unit, name, options)
        else:
            proc, log, binary, full = self._build(compiler, cmd, unit, name, options)
        if proc.returncode != 0:
            raise CompileError(f"{name}: the emulator build failed ({Path(compiler.path).name}, wave {wave})",
                               log=log, command=full,
                               hint="read the compiler log above; device code must be valid CUDA/HIP C++")
        seconds = time.perf_counter() - start
        if options.sanitize:
            notes.append("AddressSanitizer build: run it in a worker started with BACKEND.worker_env(result)")
        cache.store(key, binary, {"log": log, "notes": notes})
        return CompileResult(binary=binary, log=log, cached=False, compile_seconds=seconds, notes=notes, **base)

    def _build(self, compiler: toolchain.HostCompiler, cmd: list[str], unit: str, name: str,
               options: CompileOptions) -> tuple[subprocess.CompletedProcess, str, bytes, list[str]]:
        """One compiler run on ``unit``: (process, log, the built library or b"", command)."""
        with tempfile.TemporaryDirectory(prefix="portkern-emu-") as tmp:
            src = Path(tmp) / f"{_safe(name)}.cpp"
            out = Path(tmp) / f"{_safe(name)}.so"
            src.write_text(unit, errors="replace")
            full = [*cmd, "-x", "c++", str(src), "-o", str(out), *trace_link_tail(compiler, options)]
            try:
                # Candidate source: the compiler gets CPU, memory and file-size limits (a macro bomb
                # fails with a compile error instead of exhausting the machine).
                limited, preexec = sandbox.compiler_limits(COMPILE_TIMEOUT_S).wrap(full)
                proc = subprocess.run(limited, capture_output=True, text=True, errors="replace",
                                      timeout=COMPILE_TIMEOUT_S, cwd=tmp, preexec_fn=preexec)
            except subprocess.TimeoutExpired as exc:
                raise CompileError(f"{name}: host compiler ran past {COMPILE_TIMEOUT_S} s", command=full) from exc
            log = (proc.stdout + proc.stderr).replace(str(src), f"{name}.cpp")
            if proc.returncode < 0 or "virtual memory exhausted" in log or "out of memory" in log.lower():
                log += ("\n(the compiler runs under limits: PORTKERN_COMPILE_MEMORY_BYTES of address space, "
                        f"{COMPILE_TIMEOUT_S} s of CPU)")
            binary = out.read_bytes() if proc.returncode == 0 else b""
        return proc, log, binary, full

    # ------------------------------------------------------------------ load

    def worker_env(self, compiled: CompileResult) -> dict[str, str]:
        """Environment a worker process needs to load ``compiled`` (sanitizer runtime first)."""
        if not compiled.options.sanitize:
            return {}
        compiler = toolchain.require_compiler()
        runtime = toolchain.asan_runtime(compiler.path, compiler.family)
        if not runtime:
            raise LoadError(f"AddressSanitizer runtime of {compiler.identity} not found",
                            hint="install the compiler's sanitizer runtime (Debian: libasan8 for g++ 12)")
        return {"LD_PRELOAD": runtime,
                "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:halt_on_error=1:exitcode=86"}

    def load(self, compiled: CompileResult, entry: str) -> EmuProgram:
        if compiled.backend != self.name:
            raise LoadError(f"a '{compiled.backend}' binary cannot be loaded by the emulator",
                            hint="compile the source with portkern.backends.get('emu')")
        symbol = compiled.entry_map.get(entry) or (entry if entry in compiled.entry_symbols else "")
        if not symbol:
            raise LoadError(f"entry '{entry}' is not in this build",
                            hint=f"entries built: {', '.join(compiled.entry_map) or '(none)'}; "
                                 "list it in CompileOptions.entries")
        if compiled.options.sanitize and not _asan_loaded():
            raise LoadError(f"entry '{entry}' comes from an AddressSanitizer build, which this process cannot load",
                            hint="run it through portkern.worker.run_in_worker(..., env=BACKEND.worker_env(result))")
        library = _open(compiled.cache_key, compiled.binary)
        index = symbol[len(source.STUB_PREFIX):]
        return EmuProgram(library, symbol, f"{source.SIGNATURE_PREFIX}{index}", entry)


_LOADED: dict[str, ctypes.CDLL] = {}


def _open(key: str, binary: bytes) -> ctypes.CDLL:
    if key not in _LOADED:
        path = cache.binary_path(key, binary)
        try:
            _LOADED[key] = ctypes.CDLL(str(path), mode=os.RTLD_NOW | os.RTLD_LOCAL)
        except OSError as exc:
            raise LoadError(f"cannot load emulator build {path.name}: {exc}") from exc
    return _LOADED[key]


def _asan_loaded() -> bool:
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    return "libasan" in maps or "clang_rt.asan" in maps


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:80] or "kernel"
