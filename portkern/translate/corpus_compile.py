"""Real code through the translator and the other vendor's compiler: rocBLAS to CUDA (nvcc, sm_90) and the
CUDA samples to HIP (clang, gfx942 device code).

Each port is built the way the project's own build would: rocBLAS gets the headers its CMake generates
and the definitions it always sets (both read from its CMake files by ``buildfiles``); the samples get
their ``Common`` folder. Used by tests/test_translate_real_code.py and benchmarks/bench_real_code.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from portkern.model import Record
from portkern.translate.buildfiles import cmake_compile_definitions, cmake_generated_headers, nvcc_needs
from portkern.translate.paths import translate_tree

ROCBLAS_KERNEL_DIRS = ("library/src/blas1", "library/src/blas2")


@dataclass
class CompileOutcome(Record):
    file: str
    ok: bool
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)   # first error lines, without the folder prefix


@dataclass
class PortedTree:
    root: Path                              # translated tree
    files: list[Path]                       # translated files to compile
    command: list[str]                      # compiler and flags; the file and output are appended
    translate_seconds: float = 0.0


def rocblas_kernel_files(corpus: Path) -> list[Path]:
    return sorted(p for d in ROCBLAS_KERNEL_DIRS for p in (corpus / d).glob("*_kernels.cpp"))


def port_rocblas(corpus: Path, work: Path, nvcc: str = "nvcc", arch: str = "sm_90",
                 host_compiler: str | None = "clang++-19") -> PortedTree:
    """Translate rocBLAS's library folder to CUDA under ``work/src`` and generate its build headers under
    ``work/build``; the nvcc command compiles one kernels file for ``arch``."""
    import time

    start = time.perf_counter()
    library = corpus / "library"
    src, build = work / "src", work / "build"
    if src.exists():
        shutil.rmtree(src)
    translate_tree([library], "cuda", out_dir=src)
    for path, text in cmake_generated_headers(library, build).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    defines = cmake_compile_definitions(sorted(library.rglob("CMakeLists.txt")))
    includes = [src / "include", src / "include" / "internal", build / "include", build / "include" / "rocblas",
                build / "include" / "rocblas" / "internal", src / "src" / "include", src / "src"]
    cmd = [nvcc, "-std=c++17", "-x", "cu", f"-arch={arch}", "-c", *nvcc_needs(),
           *[f"-D{d}" for d in defines], *[f"-I{i}" for i in includes]]
    # rocBLAS's host code is written for clang (friend declarations gcc rejects, for one): nvcc is told to
    # use clang as its host compiler, which it supports, as the library's own build uses clang.
    if host_compiler and shutil.which(host_compiler):
        cmd += ["-ccbin", host_compiler]
    files = [src / p.relative_to(library) for p in rocblas_kernel_files(corpus)]
    return PortedTree(src, files, cmd, time.perf_counter() - start)


def cuda_sample_files(corpus: Path) -> list[Path]:
    """Every .cu file of the samples (each sample is a small program)."""
    return sorted((corpus / "Samples").rglob("*.cu"))


def port_cuda_samples(corpus: Path, work: Path, clang: str = "clang-19", arch: str = "gfx942",
                      hip_include: str | None = None, only: list[str] | None = None) -> PortedTree:
    """Translate the samples (or the sample folders named in ``only``, e.g. "0_Introduction/vectorAdd") and
    their Common folder to HIP under ``work/src``; the clang command compiles one file's device code."""
    import time

    from portkern.backends.hip.clang import (
        HipBackend,
        _compiler_include_dirs,
        find_hip_include_dir,
        plan_device_libs,
    )
    from portkern.model import CompileOptions

    start = time.perf_counter()
    src = work / "src"
    if src.exists():
        shutil.rmtree(src)
    samples = [corpus / "Samples" / o for o in only] if only else [corpus / "Samples"]
    translate_tree([*samples, corpus / "Common"], "hip", out_dir=src)
    include = hip_include or find_hip_include_dir(clang)
    # device libraries as the HIP backend links them (ocml/ockl for math and work-item queries)
    libs = HipBackend()._device_lib_flags(clang, arch, plan_device_libs(arch), CompileOptions())
    cmd = [clang, "-x", "hip", "-std=c++17", f"--offload-arch={arch}", "--cuda-device-only", *libs, "-c",
           "-Wno-unused-command-line-argument", f"-I{src / 'Common'}"]
    if include and include not in _compiler_include_dirs(clang):
        cmd += ["-isystem", include]
    files = [src / p.relative_to(corpus) for p in cuda_sample_files(corpus)
             if not only or any(p.is_relative_to(s) for s in samples)]
    return PortedTree(src, files, cmd, time.perf_counter() - start)


_ERROR = re.compile(r"(?im)^.*\berror\b.*$")


def compile_all(tree: PortedTree, jobs: int = 2, timeout_s: int = 600) -> list[CompileOutcome]:
    """Compile every file of ``tree`` (each in its own folder, as its build would), ``jobs`` at a time."""
    import time

    def one(path: Path) -> CompileOutcome:
        rel = str(path.relative_to(tree.root))
        t0 = time.perf_counter()
        try:
            run = subprocess.run([*tree.command, f"-I{path.parent}", str(path), "-o", os.devnull],
                                 capture_output=True, text=True, timeout=timeout_s, cwd=path.parent)
        except subprocess.TimeoutExpired:
            return CompileOutcome(rel, False, time.perf_counter() - t0, [f"timed out after {timeout_s} s"])
        log = (run.stdout + run.stderr).replace(str(tree.root) + "/", "")
        errors = list(dict.fromkeys(m.group(0).strip() for m in _ERROR.finditer(log)))[:8]
        return CompileOutcome(rel, run.returncode == 0, round(time.perf_counter() - t0, 2),
                              errors if run.returncode else [])

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, tree.files))
