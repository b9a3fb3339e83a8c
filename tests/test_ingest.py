"""Ingest on the rocBLAS-like fixture tree: kernels, launch sites, instantiations, units, robustness."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from portkern.cli import cli
from portkern.ingest import KernelCatalog, ingest_tree
from portkern.ingest import macros as mac
from portkern.ingest.build import FileCache

FIXTURE = Path(__file__).parent / "fixtures" / "rocblas_like"
CLANG = shutil.which("clang-19") or shutil.which("clang")

# kernel -> (template parameter names, launch bounds, declaring macro)
EXPECTED = {
    "rocblas_axpy_kernel": (["NB", "T", "Ta", "U", "V"], ["NB"], "ROCBLAS_KERNEL"),
    "rocblas_dot_kernel_part1": (["NB", "T", "U"], ["NB"], "ROCBLAS_KERNEL"),
    "rocblas_dot_kernel_reduce": (["NB", "T"], [], "ROCBLAS_KERNEL_NO_BOUNDS"),
    "rocblas_scal_kernel": (["T", "NB"], ["NB"], ""),
    "rocblas_fill_s_kernel": ([], ["256"], "DEFINE_FILL_KERNEL"),
    "rocblas_gemvn_kernel": (["DIM_X", "T"], ["DIM_X"], "ROCBLAS_KERNEL"),
    "rocblas_gemvn_batched_kernel": (["DIM_X", "T"], ["DIM_X"], "ROCBLAS_KERNEL"),
}


@pytest.fixture(scope="module")
def catalog() -> KernelCatalog:
    return ingest_tree(FIXTURE, profile="rocblas")


def test_every_macro_declared_kernel_is_found(catalog):
    assert sorted(k.name for k in catalog.kernels) == sorted(EXPECTED)
    for name, (tparams, bounds, macro) in EXPECTED.items():
        k = catalog.kernel(name)
        assert k.template_param_names == tparams, name
        assert k.launch_bounds == bounds, name
        assert k.declared_by == macro, name
        assert k.dialect == "hip"
    assert catalog.skipped == []
    assert catalog.macros["ROCBLAS_KERNEL"] == "kernel"
    assert catalog.macros["ROCBLAS_LAUNCH_KERNEL"] == "launch"
    assert catalog.macros["INSTANTIATE_AXPY_KERNEL"] == "instantiation"


def test_kernel_details(catalog):
    axpy = catalog.kernel("rocblas_axpy_kernel")
    assert axpy.file == "library/src/blas1/rocblas_axpy_kernels.hpp"
    assert (axpy.line, axpy.end_line) == (6, 27)
    assert axpy.static
    assert [(p.type, p.name) for p in axpy.params][:3] == [("rocblas_int", "n"), ("Ta", "alpha_device_host"),
                                                          ("U", "x")]
    assert axpy.device_functions == ["load_ptr_batch", "load_scalar"]
    assert {"rocblas_int", "rocblas_stride"} <= set(axpy.types)
    assert "blocks_for" not in axpy.device_functions      # a host helper the launcher uses

    scal = catalog.kernel("rocblas_scal_kernel")
    assert [(t.kind, t.name, t.type, t.default) for t in scal.template_params] == [
        ("type", "T", "", ""), ("value", "NB", "rocblas_int", "256")]
    assert scal.params[2].type == "T* __restrict__"

    part1 = catalog.kernel("rocblas_dot_kernel_part1")
    assert [(s.name, s.type, s.dims, s.extern) for s in part1.shared] == [("partial", "T", ["NB / ROCBLAS_WARP"], False)]
    assert part1.intrinsics.used["shuffle"] == ["__shfl_down"]      # through the wavefront_reduce_sum helper
    assert part1.intrinsics.used["barrier"] == ["__syncthreads"]
    assert "ROCBLAS_WARP" in part1.macros

    reduce = catalog.kernel("rocblas_dot_kernel_reduce")
    assert [(s.name, s.extern) for s in reduce.shared] == [("lds", True)]
    assert reduce.intrinsics.has("atomic") and not reduce.intrinsics.has("shuffle")
    assert catalog.kernel("rocblas_scal_kernel").intrinsics.used["fence"] == ["__threadfence"]


def test_launch_sites(catalog):
    (axpy_site,) = catalog.launch_sites("rocblas_axpy_kernel")
    assert (axpy_site.file, axpy_site.line) == ("library/src/blas1/rocblas_axpy_kernels.hpp", 47)
    assert axpy_site.in_macro and axpy_site.macro == "ROCBLAS_LAUNCH_KERNEL"
    assert axpy_site.template_args == ["NB", "T"]
    assert (axpy_site.grid, axpy_site.block, axpy_site.shared_bytes, axpy_site.stream) == ("blocks", "threads", "0",
                                                                                            "stream")
    assert axpy_site.args[0] == "n" and len(axpy_site.args) == 10
    assert axpy_site.function == "rocblas_axpy_launcher"

    (reduce_site,) = catalog.launch_sites("rocblas_dot_kernel_reduce")
    assert reduce_site.style == "hipLaunchKernelGGL" and not reduce_site.in_macro
    assert reduce_site.shared_bytes == "NB * sizeof(T)"
    assert reduce_site.grid == "dim3(batch_count)"

    (scal_site,) = catalog.launch_sites("rocblas_scal_kernel")
    assert scal_site.style == "chevrons" and scal_site.template_args == ["float"]
    assert (scal_site.grid, scal_site.block) == ("blocks_for(n, 256)", "256")

    (batched_site,) = catalog.launch_sites("rocblas_gemvn_batched_kernel")
    assert batched_site.shared_bytes == "lds_bytes" and batched_site.grid == "grid"


def test_instantiations_from_separate_files(catalog):
    inst = catalog.kernel("rocblas_axpy_kernel").instantiations
    assert [(i.file, i.line) for i in inst] == [("library/src/blas1/rocblas_axpy_kernels_inst.cpp", n)
                                                for n in (17, 18, 20)]
    assert inst[2].template_args == ["256", "float", "float", "const float* const*", "float* const*"]
    assert all(i.macro == "INSTANTIATE_AXPY_KERNEL" for i in inst)
    # one macro call instantiating two kernels is attributed to each of them
    assert len(catalog.kernel("rocblas_dot_kernel_part1").instantiations) == 2
    assert len(catalog.kernel("rocblas_dot_kernel_reduce").instantiations) == 2


def test_units_are_self_contained_without_host_code(catalog):
    for name in EXPECTED:
        unit = catalog.unit(name)
        src = unit.source
        assert "hipLaunchKernelGGL" not in src and "<<<" not in src, name
        assert "launcher" not in src and "blocks_for" not in src and "rocblas_sscal" not in src, name
        assert '#include "' not in src, name                 # library headers are inlined
        assert unit.includes[0] == "#include <hip/hip_runtime.h>"
    axpy = catalog.unit("rocblas_axpy_kernel").source
    assert "#define ROCBLAS_KERNEL(lb_)" in axpy and "#define INSTANTIATE_AXPY_KERNEL" in axpy
    assert axpy.count("INSTANTIATE_AXPY_KERNEL(256") == 3
    assert "rocblas_dot" not in axpy and "gemvn" not in axpy
    # a macro call that instantiates two kernels is written out for the one the unit holds
    part1 = catalog.unit("rocblas_dot_kernel_part1").source
    assert "template __global__ void rocblas_dot_kernel_part1<ROCBLAS_DOT_NB, float, const float*>" in part1
    assert "\nINSTANTIATE_DOT(" not in part1
    # conditional macros keep their condition
    assert "#if (defined(__HIP_PLATFORM_AMD__)" in part1 and "#define ROCBLAS_WARP 64" in part1


@pytest.mark.skipif(CLANG is None, reason="clang with the AMDGPU backend is not installed")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_unit_compiles_alone(catalog, name, tmp_path):
    path = tmp_path / f"{name}.hip"
    path.write_text(catalog.unit(name).source)
    out = tmp_path / "out.s"
    cmd = [CLANG, "-x", "hip", "--offload-arch=gfx942", "--offload-device-only", "-nogpulib", "-S", "-o", str(out),
           str(path)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    asm = out.read_text()
    # the explicit instantiations really produced kernel code
    assert ".amdhsa_kernel" in asm


def test_unparsable_regions_are_reported_and_skipped(tmp_path):
    (tmp_path / "good.hip").write_text(
        "#include <hip/hip_runtime.h>\n__global__ void good_kernel(float* x) { x[threadIdx.x] = 1.0f; }\n")
    (tmp_path / "garbage.cpp").write_text("int ok(int a) { return a; }\n"
                                          "}}}} ((( template <<<< class ;;; @@@ \n"
                                          "__global__ void after_garbage(int* p) { p[0] = 1; }\n")
    (tmp_path / "binary.h").write_bytes(b"\x7fELF\x00\x01\x02" + bytes(range(256)) * 4)
    (tmp_path / "latin1.cu").write_bytes("// caf\xe9\n__global__ void latin(int* p) { p[0] = 2; }\n".encode("latin-1"))
    (tmp_path / "empty.cuh").write_text("")
    cat = ingest_tree(tmp_path)
    names = {k.name for k in cat.kernels}
    assert {"good_kernel", "latin"} <= names
    reasons = {(s.file, s.line): s.reason for s in cat.skipped}
    assert ("binary.h", 0) in reasons and "binary" in reasons[("binary.h", 0)]
    garbage = [s for s in cat.skipped if s.file == "garbage.cpp"]
    assert garbage and all(s.line >= 2 for s in garbage) and "syntax error" in garbage[0].reason
    assert cat.unit("good_kernel").source.count("good_kernel") >= 1


def test_a_helper_two_headers_define_alike_is_in_the_unit_once(tmp_path):
    # Two headers carry the same helper under one include guard (as a patch puts an operator's helpers
    # beside each kernel it rewrote); a translation unit including both sees it once.
    helper = ("#ifndef SHARED_HELPER\n#define SHARED_HELPER\n"
              "template <typename T>\nstruct pointee;\n"
              "template <typename T>\nstruct pointee<T*>\n{\n    using type = T;\n};\n#endif\n")
    for name, kernel in (("a.hpp", "ka"), ("b.hpp", "kb")):
        (tmp_path / name).write_text("#pragma once\n#include <hip/hip_runtime.h>\n" + helper +
                                     f"__global__ void {kernel}(float* x)\n{{\n    typename pointee<float*>::type v = x[0];\n"
                                     "    x[threadIdx.x] = v;\n}\n")
    (tmp_path / "both.hip").write_text('#include "a.hpp"\n#include "b.hpp"\n')
    unit = ingest_tree(tmp_path).unit("kb").source
    assert unit.count("struct pointee<T*>") == 1 and unit.count("__global__ void kb(") == 1


def test_catalog_json_round_trip(catalog):
    data = json.loads(json.dumps(catalog.to_dict()))
    again = KernelCatalog.from_dict(data)
    assert again.to_dict() == catalog.to_dict()
    assert again.kernel("rocblas_axpy_kernel").launch_sites[0].macro == "ROCBLAS_LAUNCH_KERNEL"


def test_file_cache_reuses_results(tmp_path):
    cache = FileCache(tmp_path / "cache")
    first = ingest_tree(FIXTURE, profile="rocblas", cache=cache)
    assert cache.hits == 0 and cache.misses > 0
    second = ingest_tree(FIXTURE, profile="rocblas", cache=FileCache(tmp_path / "cache"))
    first.seconds = second.seconds = 0.0
    assert second.to_dict() == first.to_dict()


def test_macro_expansion_keeps_lines_and_maps_positions():
    table = mac.MacroTableIndex()
    for name, params, body in [("KERNEL", ["lb"], "static __global__ __launch_bounds__(lb) void"),
                               ("CAT", ["a", "b"], "a ## b"),
                               ("INST", ["T", "..."], "template __global__ void k<T>(__VA_ARGS__);")]:
        m = mac.MacroDef(name, params, body, "m.h", 1, 1)
        m.kind = mac.classify(body)
        table.add(m)
    assert table.kind("KERNEL") == "kernel" and table.kind("INST") == "instantiation"
    assert mac.substitute(table.first("CAT"), ["x", "y"]) == "xy"
    assert mac.substitute(table.first("INST"), ["float", "int", "float*"]) == \
        "template __global__ void k<float>(int, float*);"
    text = "template <int NB>\nKERNEL(\n  NB) k(int n) {}\nint z;"
    start = text.index("KERNEL")
    out = mac.expand_declaration_macros(text, [(start, "KERNEL")], table)
    assert out.text.count("\n") == text.count("\n")
    assert "__launch_bounds__(NB)" in out.text
    after = out.text.index("k(int")
    assert out.orig_start(after) == text.index("k(int")
    assert out.orig_start(out.text.index("__launch")) == start
    assert out.orig_end(out.text.index(" k(int")) == text.index(" k(int")


def test_cli_table_and_json():
    runner = CliRunner()
    res = runner.invoke(cli, ["ingest", "--source", str(FIXTURE), "--profile", "rocblas", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert {k["name"] for k in data["kernels"]} == set(EXPECTED)
    assert "rocblas_axpy_kernel" in data["units"]
    res = runner.invoke(cli, ["ingest", "--source", str(FIXTURE), "--profile", "rocblas"])
    assert res.exit_code == 0 and "rocblas_gemvn_batched_ker" in res.output
    res = runner.invoke(cli, ["ingest", "--source", str(FIXTURE), "--unit", "rocblas_gemvn_kernel"])
    assert res.exit_code == 0 and "INSTANTIATE_GEMVN(128, float)" in res.output and "#define ROCBLAS_KERNEL" in res.output
    res = runner.invoke(cli, ["ingest"])
    assert res.exit_code != 0
