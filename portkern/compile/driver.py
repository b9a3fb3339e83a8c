"""The compile flow both real-compiler backends share: find the compiler, key, look up the
cache, build in a scratch folder, map entries, fill occupancy, store.

A vendor supplies only what differs: which compiler, the command line, and how to read its
output (``CompilerBackend.build``).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from portkern.backends.base import Backend
from portkern.compile.cache import CompileCache, compile_key
from portkern.compile.entries import instantiation_block, match_entries
from portkern.compile.occupancy import Occupancy, apply_occupancy
from portkern.compile.process import compiler_identity
from portkern.errors import CompileError, ConfigError
from portkern.model import CompileOptions, CompileResult, ResourceReport, Target


@dataclass
class BuildOutput:
    """What one vendor build produced."""

    binary: bytes
    code_type: str
    kernels: list[str]                          # mangled kernel symbols in the binary
    resources: dict[str, ResourceReport]
    log: str
    command: list[str]
    notes: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)  # headers read, for cache validation


class CompilerBackend(Backend):
    """Base of the nvcc and clang-HIP backends."""

    dialect_suffix = ".cu"

    def __init__(self, *, cache: CompileCache | None = None, cache_dir: str | Path | None = None,
                 use_cache: bool = True):
        self._cache = cache or (CompileCache(cache_dir) if cache_dir is not None else None)
        self.use_cache = use_cache

    # ----------------------------------------------------------------- vendor hooks
    def compiler_path(self, target: Target | None = None) -> str:
        """Path of the compiler; raises ToolMissingError naming the package that provides it."""
        raise NotImplementedError

    def build(self, source_file: Path, workdir: Path, target: Target, options: CompileOptions,
              compiler: str) -> BuildOutput:
        raise NotImplementedError

    def key_extra(self, target: Target, options: CompileOptions, compiler: str) -> dict:
        """Inputs besides source/options/compiler that decide the bytes (e.g. device-library set)."""
        return {}

    def occupancy(self, target: Target, *, threads_per_block: int, registers: int, shared_bytes: int,
                  agprs: int = 0, sgprs: int = 0) -> Occupancy:
        """The vendor's occupancy rule for one block size and resource use on ``target``."""
        raise NotImplementedError

    def check_target(self, target: Target) -> None:
        if target.backend != self.name:
            raise ConfigError(f"backend '{self.name}' does not build for target '{target.name}' "
                              f"({target.vendor} {target.arch}), whose backend is '{target.backend}'",
                              hint="use the target's own backend (portkern.backends.for_target)")

    # ----------------------------------------------------------------- the shared flow
    @property
    def cache(self) -> CompileCache:
        if self._cache is None:
            self._cache = CompileCache()
        return self._cache

    def compile(self, source: str, target: Target, options: CompileOptions | None = None,
                *, name: str = "kernel") -> CompileResult:
        options = options or CompileOptions()
        self.check_target(target)
        compiler = self.compiler_path(target)
        identity = compiler_identity(compiler)
        full_source = source + instantiation_block(options.entries)
        notes: list[str] = []
        key = ""
        if identity is None:
            notes.append(f"not cached: the identity of {compiler} could not be determined "
                         "(`--version` failed)")
        else:
            key = compile_key(backend=self.name, source=full_source, options=options.to_dict(),
                              arch=target.arch, compiler=identity,
                              extra=self.key_extra(target, options, compiler))
            if self.use_cache:
                hit = self.cache.get(key)
                if hit is not None:
                    return self._finish(hit, target)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="portkern-compile-") as tmp:
            workdir = Path(tmp)
            source_file = workdir / (_safe_stem(name) + self.dialect_suffix)
            source_file.write_text(full_source)
            out = self.build(source_file, workdir, target, options, compiler)
            deps = [d for d in out.dependencies if not d.startswith(str(workdir))]
        entry_map = match_entries(options.entries, out.kernels, log=out.log, command=out.command)
        result = CompileResult(
            backend=self.name, target=target.name, arch=target.arch, code_type=out.code_type,
            binary=out.binary, entry_symbols=sorted(out.kernels), entry_map=entry_map,
            resources=out.resources, log=out.log, compiler=identity or compiler, options=options,
            cache_key=key, cached=False, compile_seconds=round(time.perf_counter() - start, 4),
            notes=notes + out.notes)
        if key and self.use_cache:
            self.cache.put(key, result, deps)
        return self._finish(result, target)

    def _finish(self, result: CompileResult, target: Target) -> CompileResult:
        # Occupancy depends on the target's figures, not only its arch (h100 and h200 share sm_90),
        # so it is computed after the cache, for the target asked for.
        result.target = target.name
        for report in result.resources.values():
            apply_occupancy(report, target, self.occupancy)
        return result


def _safe_stem(name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:80]
    return stem or "kernel"


def raise_compile_error(run, what: str, hint: str | None = None) -> None:
    first = next((ln for ln in run.log.splitlines() if "error" in ln.lower()), "")
    raise CompileError(f"{what} failed (exit {run.returncode})" + (f": {first.strip()}" if first else ""),
                       log=run.log, command=run.command, hint=hint)
