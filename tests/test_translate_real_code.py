"""Real code nobody here wrote, through the translator and the other vendor's compiler: rocBLAS kernels to
CUDA (nvcc, sm_90) and CUDA samples to HIP (clang, gfx942 device code). A representative subset is
compiled here; benchmarks/bench_real_code.py counts the whole corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from portkern.translate.buildfiles import cmake_compile_definitions, cmake_generated_headers
from portkern.translate.corpus_compile import (
    compile_all,
    port_cuda_samples,
    port_rocblas,
    rocblas_kernel_files,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
ROCBLAS = CORPUS / "rocblas"
SAMPLES = CORPUS / "cuda-samples"
needs_rocblas = pytest.mark.skipif(not (ROCBLAS / "library").is_dir(), reason=f"rocBLAS corpus not at {ROCBLAS}")
needs_samples = pytest.mark.skipif(not (SAMPLES / "Samples").is_dir(), reason=f"CUDA samples not at {SAMPLES}")


@needs_rocblas
def test_rocblas_build_supplies_generated_headers_and_definitions(tmp_path):
    library = ROCBLAS / "library"
    assert cmake_compile_definitions(sorted(library.rglob("CMakeLists.txt"))) == [
        "ROCM_USE_FLOAT16", "ROCBLAS_INTERNAL_API", "ROCBLAS_BETA_FEATURES_API", "rocblas_EXPORTS"]
    headers = cmake_generated_headers(library, tmp_path)
    export = headers[tmp_path / "include/rocblas/internal/rocblas-export.h"]
    version = headers[tmp_path / "include/rocblas/internal/rocblas-version.h"]
    assert '#    define ROCBLAS_EXPORT __attribute__((visibility("default")))' in export
    assert "#  define ROCBLAS_DEPRECATED_EXPORT ROCBLAS_EXPORT ROCBLAS_DEPRECATED" in export
    assert "#define ROCBLAS_VERSION_MAJOR       0" in version and "@" not in version
    assert len(rocblas_kernel_files(ROCBLAS)) == 33


@pytest.fixture(scope="module")
def rocblas_cuda(tmp_path_factory):
    return port_rocblas(ROCBLAS, tmp_path_factory.mktemp("rocblas"))


@needs_rocblas
@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("nvcc"), reason="nvcc is not installed")
def test_rocblas_kernels_translated_to_cuda_compile_with_nvcc(rocblas_cuda):
    """rotg (complex types, launch macro, host code written for clang) and scal (rocblas_half, a _Float16,
    in device code) compile for sm_90."""
    tree = rocblas_cuda
    tree.files = [f for f in tree.files if f.name in ("rocblas_rotg_kernels.cpp", "rocblas_scal_kernels.cpp")]
    outcomes = compile_all(tree, jobs=2)
    assert len(outcomes) == 2
    for o in outcomes:
        assert o.ok, f"{o.file}: " + "\n".join(o.errors)


@needs_rocblas
def test_rocblas_translation_applies_the_clang_fixes(rocblas_cuda):
    src = rocblas_cuda.root
    utility = (src / "src/include/utility.hpp").read_text()
    assert "typedef portkern_ext_vector<rocblas_half, 2> rocblas_half2;" in utility
    assert "__asm(" not in utility
    types = (src / "include/internal/rocblas-types.h").read_text()
    assert "typedef portkern_half rocblas_half;" in types and "struct portkern_half" in types
    assert "PORTKERN_LAUNCH_KERNEL(__VA_ARGS__)" in (src / "src/include/macros.hpp").read_text()
    assert "rocblas_wavefront_reduce<32>(val)" in (src / "src/blas1/rocblas_reduction.hpp").read_text()


@needs_samples
@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("clang-19"), reason="clang-19 is not installed")
def test_cuda_samples_translated_to_hip_compile_for_gfx942(tmp_path):
    # kernels with and without a runtime include, cooperative groups, a driver-API sample; most other
    # samples stop on helper_cuda.h (see benchmarks/results/real-code-*.md)
    only = ["0_Introduction/simpleCooperativeGroups", "0_Introduction/vectorAddDrv", "0_Introduction/matrixMulDrv",
            "2_Concepts_and_Techniques/threadMigration"]
    tree = port_cuda_samples(SAMPLES, tmp_path, only=only)
    assert len(tree.files) == len(only)
    outcomes = compile_all(tree, jobs=2)
    for o in outcomes:
        assert o.ok, f"{o.file}: " + "\n".join(o.errors)
