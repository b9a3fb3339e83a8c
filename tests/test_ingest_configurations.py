"""Ingest of trees that need a configuration to parse: #if chains whose braces balance per branch
only, scope-opening macros, attribute macros on classes, CMake build flags, external manifests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from portkern.errors import ManifestError
from portkern.ingest import ingest_tree
from portkern.ingest import macros as mac
from portkern.ingest.cmake import read_cmake
from portkern.ingest.conditions import Configuration, Unknown, select_branches
from portkern.library import load_library

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "rocblas"
REPO = Path(__file__).resolve().parents[1]

CONFIG_HEADER = """#pragma once
#define LIB_KERNEL(lb_) static __global__ __launch_bounds__((lb_)) void
#if defined(__HIP_DEVICE_COMPILE__) && defined(__GFX12__)
#define GRID_16BIT 1
#else
#define GRID_16BIT 0
#endif
static constexpr int grid_limit = 65535;
"""

BATCH_LOOP = """#include "config.hpp"
template <int NB, typename T>
LIB_KERNEL(NB) scale_kernel(int n, T alpha, T* x, long stride, int batch_count)
{
    int      tid   = blockIdx.x * NB + threadIdx.x;
    unsigned batch = blockIdx.z;
#if GRID_16BIT
    for(; batch < batch_count; batch += grid_limit)
    {
#endif
        T* xb = x + batch * stride;
        if(tid < n)
            xb[tid] *= alpha;
#if GRID_16BIT
    }
#endif
}

template <int NB, typename T>
LIB_KERNEL(NB) copy_kernel(int n, const T* x, T* y)
{
    int tid = blockIdx.x * NB + threadIdx.x;
    if(tid < n)
        y[tid] = x[tid];
}
"""


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_batch_loop_whose_braces_balance_per_configuration_parses(tmp_path):
    root = _tree(tmp_path, {"config.hpp": CONFIG_HEADER, "scale_kernels.hpp": BATCH_LOOP})
    catalog = ingest_tree(root, profile="rocblas")
    assert sorted(k.name for k in catalog.kernels) == ["copy_kernel", "scale_kernel"]
    assert not [s for s in catalog.skipped if s.file == "scale_kernels.hpp"]
    unit = catalog.unit("scale_kernel").source
    # the unit keeps both configurations as written, with the macro that picks between them
    assert unit.count("#if GRID_16BIT") == 2 and "#define GRID_16BIT 0" in unit


def test_configuration_given_picks_the_branch(tmp_path):
    text = (b"#if WIDE\nvoid f() {\n    for(;;) {\n#else\nvoid f() {\n    {\n#endif\n    }\n}\n")
    narrow, choices = select_branches(text, Configuration(values={"WIDE": "0"}))
    wide, _ = select_branches(text, Configuration(values={"WIDE": "1"}))
    assert len(narrow) == len(text) and narrow.count(b"\n") == text.count(b"\n")
    assert b"for" not in narrow and b"for(;;)" in wide
    assert choices[0].how == "configuration" and choices[0].chosen == 1


def test_chains_that_stand_alone_are_left_as_written():
    text = b"#ifdef A\nint f() { return 1; }\n#else\nint f() { return 2; }\n#endif\n"
    out, choices = select_branches(text, Configuration(values={}))
    assert out == text and choices == []


def test_split_declaration_is_reduced_to_one_branch():
    text = (b"struct S {\n#if defined(__gfx942__)\n    explicit __device__\n#else\n    explicit __host__ __device__\n"
            b"#endif\n    S(float v) {}\n};\n")
    out, choices = select_branches(text, Configuration(values={}))
    assert b"__host__ __device__" in out and b"explicit __device__\n" not in out
    assert [c.chosen for c in choices] == [1]


def test_condition_evaluation():
    table = mac.MacroTableIndex()
    table.add(mac.MacroDef("LEVEL", None, "3", "a.h", 1, 1))
    table.add(mac.MacroDef("ON", None, "1", "a.h", 2, 2, condition="defined(FEATURE)"))
    table.add(mac.MacroDef("ON", None, "0", "a.h", 4, 4, condition="!(defined(FEATURE))"))
    config = Configuration(values={"FEATURE": ""}, table=table)
    assert config.evaluate("defined(FEATURE) && LEVEL > 2 && ON")
    assert not config.evaluate("LEVEL * 2 == 7 || UNDEFINED_NAME")
    assert not Configuration(values={}, table=table).evaluate("ON")
    with pytest.raises(Unknown):
        config.evaluate("__has_include(<x.h>)")


def test_object_like_macros_that_open_a_namespace(tmp_path):
    root = _tree(tmp_path, {
        "common.hpp": "#pragma once\n#define LIB_BEGIN_NAMESPACE namespace lib {\n#define LIB_END_NAMESPACE }\n",
        "k.hpp": ('#include "common.hpp"\nLIB_BEGIN_NAMESPACE\n'
                  "__global__ void first(float* x) { x[threadIdx.x] = 1.0f; }\n"
                  "__global__ void second(float* x) { x[threadIdx.x] = 2.0f; }\nLIB_END_NAMESPACE\n"),
    })
    catalog = ingest_tree(root)
    assert sorted(k.qualified_name for k in catalog.kernels) == ["lib::first", "lib::second"]
    assert catalog.macros.get("LIB_BEGIN_NAMESPACE") == mac.KIND_SCOPE
    assert "namespace lib {" in catalog.unit("second").source


def test_attribute_macro_between_class_key_and_name(tmp_path):
    root = _tree(tmp_path, {
        "types.h": "#pragma once\n#define LIB_EXPORT __attribute__((visibility(\"default\")))\n"
                   "struct LIB_EXPORT half2_t\n{\n    float a, b;\n    __device__ float sum() const { return a + b; }\n};\n",
        "k.hpp": '#include "types.h"\n__global__ void k(const half2_t* p, float* out) { out[0] = p[0].sum(); }\n',
    })
    catalog = ingest_tree(root)
    unit = catalog.unit("k").source
    assert "struct LIB_EXPORT half2_t" in unit and "#define LIB_EXPORT" in unit


def test_cmake_definitions_and_include_folders(tmp_path):
    (tmp_path / "lib" / "include").mkdir(parents=True)
    (tmp_path / "lib" / "CMakeLists.txt").write_text(
        "target_compile_definitions( mylib PRIVATE USE_F16 LEVEL=2 ${EXTRA_DEFINES} )\n"
        "if( NOT BUILD_SHARED_LIBS )\n  target_compile_definitions( mylib PRIVATE STATIC_ONLY )\nendif()\n"
        "add_definitions(-DFROM_ADD -O2)  # a comment (with parentheses)\n"
        "target_include_directories( mylib PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>\n"
        "  $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include> $<INSTALL_INTERFACE:include> )\n")
    flags = read_cmake(tmp_path)
    assert flags.defines == {"USE_F16": "", "LEVEL": "2", "FROM_ADD": ""}
    assert flags.include_dirs == [(tmp_path / "lib" / "include").resolve()]


# --------------------------------------------------------------------------- external manifests


def _external_manifest(tmp_path: Path) -> Path:
    src = _tree(tmp_path / "checkout", {"src/config.hpp": CONFIG_HEADER, "src/scale_kernels.hpp": BATCH_LOOP,
                                        "CMakeLists.txt": "add_compile_definitions(FROM_CMAKE=3)\n"})
    lib = tmp_path / "manifests" / "ext"
    lib.mkdir(parents=True)
    (lib / "reference.py").write_text("def copy(args, dtype):\n    return {'y': args['x'].copy()}\n")
    (lib / "library.yaml").write_text(f"""
name: ext
dialect: hip
source_root: {{env: PORTKERN_TEST_EXT_SRC, default: {os.path.relpath(src, lib)}}}
cmake: true
defines: {{GRID_16BIT: 0}}
sources: ["src/*.hpp"]
kernels:
  - name: copy
    file: src/scale_kernels.hpp
    symbol: copy_kernel
    dtypes: [float32]
    args:
      - {{name: n, role: size, value: n}}
      - {{name: x, role: input, shape: n, const: true}}
      - {{name: y, role: output, shape: n}}
    launch: {{template_args: [256, T], grid: ["ceil_div(n, 256)", 1, 1], block: [256, 1, 1]}}
    reference: reference.py:copy
    sizes: {{validate: [{{n: 7}}], bench: [{{n: 1024}}]}}
    bytes: "2 * n * sizeof(T)"
    flops: "0"
""")
    return lib / "library.yaml"


def test_manifest_finds_an_external_tree_and_its_build_flags(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTKERN_TEST_EXT_SRC", raising=False)
    spec = load_library(_external_manifest(tmp_path))
    assert Path(spec.root) == (tmp_path / "checkout").resolve()
    assert spec.manifest_path == str((tmp_path / "manifests" / "ext" / "library.yaml").resolve())
    assert spec.defines == {"FROM_CMAKE": "3", "GRID_16BIT": "0"}
    assert "-DFROM_CMAKE=3" in spec.compile_flags
    assert callable(spec.reference(spec.kernel("copy")))


def test_manifest_source_root_from_the_environment_or_a_clear_error(tmp_path, monkeypatch):
    manifest = _external_manifest(tmp_path)
    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "checkout", moved)
    monkeypatch.setenv("PORTKERN_TEST_EXT_SRC", str(moved))
    assert Path(load_library(manifest).root) == moved.resolve()
    monkeypatch.setenv("PORTKERN_TEST_EXT_SRC", str(tmp_path / "missing"))
    with pytest.raises(ManifestError) as err:
        load_library(manifest)
    assert "PORTKERN_TEST_EXT_SRC" in str(err.value) + str(err.value.hint)


# --------------------------------------------------------------------------- the real rocBLAS tree

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"rocBLAS corpus not present at {CORPUS}")


@needs_corpus
def test_every_rocblas_kernel_in_blas1_blas2_and_utility_is_found():
    catalog = ingest_tree(CORPUS, profile="rocblas")
    found = [k for k in catalog.kernels
             if "/blas1/" in k.file or "/blas2/" in k.file or k.file.endswith("include/utility.hpp")]
    assert len(found) == 79
    names = {k.name for k in found}
    # the kernels whose batch loop balances only per configuration (missed before)
    assert {"rocblas_axpy_kernel", "rocblas_scal_kernel", "rocblas_dot_kernel", "rocblas_reduction_kernel_part1",
            "rocblas_iamax_iamin_kernel_part1", "rocblas_rotm_kernel_batched", "rocblas_sswap_2_kernel"} <= names


@needs_corpus
def test_rocblas_manifest_units_hold_what_the_kernel_needs_only(monkeypatch):
    monkeypatch.setenv("ROCBLAS_SRC", str(CORPUS))
    from portkern.ingest import ingest_library

    spec = load_library("rocblas")
    assert Path(spec.root) == CORPUS.resolve()
    catalog = ingest_library(spec)
    unit = catalog.unit("rocblas_scal_kernel").source
    assert "load_ptr_batch" in unit and "typedef int64_t rocblas_stride;" in unit
    # neither the library's host API nor types the kernel never touches
    for absent in ("rocblas_bfloat16", "rocblas_f8", "rocblas_handle", "#include \"rocblas.h\""):
        assert absent not in unit
    assert len(unit.splitlines()) < 200
