"""Candidates launched with fewer blocks (grid-stride and vectorize shrink the grid's x): the patch
finds every host launch of the kernel, in each form a library writes it, and divides its grid there and
in the manifest; the patched library then builds (host code too) and validates on the emulator.

Helpers an operator put before the kernel (vectorize's vector loads) travel with the kernel, and a
helper two source files each define reaches a kernel's unit once.
"""

from __future__ import annotations

import shutil

import pytest
from test_emit_patch import _build, _validate
from test_operators import blas_unit

from portkern.emit.patch import (
    PatchPlan,
    _constant_sites,
    _param_constants,
    _tune_kernel,
    launch_grid_span,
    scale_launch_counts,
    scale_manifest_counts,
    shrink_launch_sites,
    shrink_manifest_grids,
)
from portkern.ingest import ingest_library, ingest_tree
from portkern.ingest.model import LaunchSite
from portkern.library import load_library
from portkern.search.operators import apply_sequence
from portkern.targets import get_target

MI300X = get_target("mi300x")


def _site(kernel: str, line: int) -> LaunchSite:
    return LaunchSite(kernel=kernel, file="f.cpp", line=line, style="", grid="")


@pytest.mark.parametrize("call,grid", [
    ("BLAS_LAUNCH_KERNEL((copy_kernel<int, NB, Tx, Ty>), dim3(blas_ceil_div(n, NB), 1, batch), dim3(NB), 0, s, n);",
     "dim3(blas_ceil_div(n, NB), 1, batch)"),
    ("hipLaunchKernelGGL(copy_kernel<int, NB>, grid, threads, 0, stream, n, x);", "grid"),
    ("hipLaunchKernelGGL(HIP_KERNEL_NAME(copy_kernel<T, 256>), dim3(blocks), dim3(256), 0, 0, n);", "dim3(blocks)"),
    ("copy_kernel<T, NB><<<dim3((n - 1) / NB + 1, 1, batch), NB, 0, stream>>>(n, x);",
     "dim3((n - 1) / NB + 1, 1, batch)"),
    ("copy_kernel<<<blocks, 256>>>(n, x);", "blocks"),
    ("ROCBLAS_LAUNCH_KERNEL(copy_kernel<API_INT, NB>,\n        grid,\n        threads, 0, handle->get_stream(), n);",
     "grid"),
])
def test_the_grid_of_each_launch_form_is_found(call, grid):
    text = "void launch()\n{\n    " + call + "\n}\n"
    span = launch_grid_span(text, text.index("    " + call[:4]), "copy_kernel")
    assert span is not None and text[span[0]:span[1]].strip() == grid
    new, missed = shrink_launch_sites(text, [_site("copy_kernel", 3)], 4)
    assert missed == []
    assert f"[](dim3 g) {{ g.x = (g.x + 3u) / 4u; return g; }}({grid})" in new
    assert new.replace(f"[](dim3 g) {{ g.x = (g.x + 3u) / 4u; return g; }}({grid})", grid) == text


def test_a_launch_in_another_form_is_reported_and_left_alone():
    text = "void launch()\n{\n    void* args[] = {&n};\n    hipLaunchKernel(reinterpret_cast<void*>(&other), g, b, args, 0, s);\n}\n"
    new, missed = shrink_launch_sites(text, [_site("copy_kernel", 4)], 2)
    assert new == text and missed == [4]


def test_manifest_grids_of_every_launch_of_the_kernel_are_divided():
    lines = """kernels:
  - name: copy
    symbol: copy_kernel
    launches:
      - symbol: copy_kernel
        template_args: [int, NB]
        grid: ["ceil_div(n, NB)", 1, batch_count]   # one block per NB elements
        block: [NB, 1, 1]
  - name: dot
    launches:
      - symbol: dot_kernel
        grid: [n_blocks, 1, 1]
      - {symbol: copy_kernel, grid: [blocks, 1, 1], block: [NB, 1, 1]}
""".splitlines(keepends=True)
    assert shrink_manifest_grids(lines, "copy_kernel", 4) == 2
    text = "".join(lines)
    assert 'grid: ["ceil_div(ceil_div(n, NB), 4)", 1, batch_count]   # one block per NB elements\n' in text
    assert "grid: [n_blocks, 1, 1]" in text
    assert '{symbol: copy_kernel, grid: ["ceil_div(blocks, 4)", 1, 1], block: [NB, 1, 1]}' in text


def _iamax_sites(text: str) -> list:
    return [_site("iamax_kernel_part1", i + 1) for i, line in enumerate(text.splitlines())
            if "iamax_kernel_part1<" in line and "LAUNCH" in line]


def test_a_reduction_block_count_is_divided_where_it_is_declared(repo_root):
    """fewer-blocks divides a reduction's n_blocks: the host variable that is the first stage's grid
    and the second stage's count is divided once, at its declaration, so both launches follow."""
    text = (repo_root / "libraries" / "blas" / "src" / "iamax.cpp").read_text()
    sites = _iamax_sites(text)
    assert len(sites) == 1
    new, missed = scale_launch_counts(text, sites, 4)
    assert missed == []
    assert "const int     blocks = (blas_ceil_div(n, NB * BLAS_REDUCE_WIN) + 3) / 4;" in new
    # only the declaration changed: both launches still name the variable
    assert new.replace("(blas_ceil_div(n, NB * BLAS_REDUCE_WIN) + 3) / 4", "blas_ceil_div(n, NB * BLAS_REDUCE_WIN)") == text
    # a variable assigned again before the launch, or a grid that is not a variable: left alone, reported
    again = text.replace("    BLAS_LAUNCH_KERNEL((iamax_kernel_part1", "    blocks += 1;\n    BLAS_LAUNCH_KERNEL((iamax_kernel_part1", 1)
    assert scale_launch_counts(again, _iamax_sites(again), 4) == (again, [_iamax_sites(again)[0].line])
    inline = text.replace("dim3(blocks, 1, batch_count), dim3(NB), 0,", "dim3(blocks + 0, 1, batch_count), dim3(NB), 0,", 1)
    assert scale_launch_counts(inline, sites, 4)[1] == [sites[0].line]


def test_every_manifest_entry_launching_the_reduction_gets_the_smaller_count():
    lib = load_library("blas")
    lines = open(lib.manifest_path).read().splitlines(keepends=True)
    entries = [k.name for k in lib.kernels if any(launch.symbol == "dot_kernel_part1" for launch in k.launches)]
    assert len(entries) >= 2
    assert scale_manifest_counts(lines, lib, "dot_kernel_part1", "n_blocks", 4) == len(entries)
    text = "".join(lines)
    assert text.count('{name: n_blocks, role: size, value: "ceil_div(ceil_div(n, NB * WIN), 4)"}') == len(entries)
    # a block-style argument list too
    block = ["  - name: r\n", "    launches:\n", "      - {symbol: dot_kernel_part1, grid: [n_blocks, 1, 1]}\n",
             "    args:\n", "      - name: n_blocks\n", "        role: size\n", "        value: ceil_div(n, NB)   # count\n"]
    spec = type("S", (), {"name": "r", "launches": lib.kernel("dot").launches})()
    assert scale_manifest_counts(block, type("L", (), {"kernels": [spec]})(), "dot_kernel_part1", "n_blocks", 2) == 1
    assert block[-1] == '        value: "ceil_div(ceil_div(n, NB), 2)"   # count\n'


def test_a_helper_two_source_files_define_reaches_a_unit_once(tmp_path):
    helper = "template <typename T>\nstruct twin\n{\n    using type = T;\n};\n"
    for name in ("a", "b"):
        (tmp_path / f"{name}.cpp").write_text(
            "#include <hip/hip_runtime.h>\n" + helper +
            f"__global__ void k_{name}(float* x)\n{{\n    typename twin<float>::type v = x[threadIdx.x];\n"
            "    x[threadIdx.x] = v * 2.0f;\n}\n")
    catalog = ingest_tree(tmp_path, profile="rocblas")
    for name in ("a", "b"):
        source = catalog.unit(f"k_{name}").source
        assert source.count("struct twin") == 1, source


def _tuner(lib, run_id: str):
    """A tune-mode patch plan of ``lib`` and a function that patches one selected candidate into it."""
    plan = PatchPlan(run_id=run_id, library=lib, target="mi300x", mode="tune", target_dialect="hip")
    catalog = ingest_library(lib)
    constants = _constant_sites(lib)
    params = _param_constants(lib, catalog, constants)

    def tune(spec, base_source: str, candidate: dict) -> None:
        base = {"candidate": {"source": base_source, "params": dict(spec.defaults)}}
        sel = {"candidate": {"params": dict(spec.defaults), **candidate},
               "validation": {"device": "cpu-emulator", "cases": []}}
        _tune_kernel(plan, spec, {"status": "improved"}, base, sel, catalog, params, constants, {})

    return plan, tune


@pytest.mark.slow
def test_a_shrunk_launch_patch_builds_and_validates(tmp_path, repo_root):
    """Real operator output for three blas kernels, patched into a copy of the library: the host
    launchers (BLAS_LAUNCH_KERNEL, two sites in axpy.cpp and scal.cpp) and the manifest get the
    smaller grid, the helpers come along, and every entry launching those kernels validates."""
    blas = tmp_path / "blas"
    shutil.copytree(repo_root / "libraries" / "blas", blas)
    lib = load_library(blas / "library.yaml")
    plan, tune = _tuner(lib, "shrink")
    for kernel, steps in [("copy", [("vectorize", 4)]), ("scal", [("grid-stride", 4)]), ("axpy", [("vectorize", 2)])]:
        unit = blas_unit(kernel)
        applied = apply_sequence(unit, steps, MI300X)
        assert applied is not None and applied.grid_shrink
        tune(lib.kernel(kernel), unit.source, {"source": applied.unit.source, "grid_shrink": applied.grid_shrink})
    assert plan.notes == []
    assert sorted(plan.edits) == ["library.yaml", "src/axpy.cpp", "src/copy.cpp", "src/scal.cpp"]
    for rel, lines in plan.edits.items():
        (blas / rel).write_text("".join(lines))
    scal = (blas / "src" / "scal.cpp").read_text()
    assert scal.count("[](dim3 g) { g.x = (g.x + 3u) / 4u; return g; }(grid)") == 2
    assert (blas / "src" / "copy.cpp").read_text().count("portkern vectorize helpers") == 1
    patched = load_library(blas / "library.yaml")
    assert patched.kernel("scal_batched").launches[0].grid[0] == "ceil_div(ceil_div(n, NB), 4)"
    assert patched.kernel("axpy_unit_stride").launches[0].grid[0] == "ceil_div(n, 2 * NB)"   # another kernel
    _build([blas / "src" / f"{k}.cpp" for k in ("copy", "scal", "axpy")], [blas / "include"], patched.compile_flags)
    kernels = [k.name for k in patched.kernels if k.family in ("copy", "scal", "axpy")]
    _validate(blas / "library.yaml", kernels, tmp_path / "runs", tmp_path / "cache", "check-shrink")



@pytest.mark.slow
def test_a_reduction_launched_with_fewer_blocks_patches_builds_and_validates(tmp_path, repo_root):
    """fewer-blocks on two reductions (iamax, and dot, whose first stage four entries launch through one
    launcher): the host block count is divided once however many entries selected the candidate, every
    manifest entry follows, and the patched library builds and validates."""
    blas = tmp_path / "blas"
    shutil.copytree(repo_root / "libraries" / "blas", blas)
    lib = load_library(blas / "library.yaml")
    plan, tune = _tuner(lib, "fewer")
    dots = [k.name for k in lib.kernels if any(launch.symbol == "dot_kernel_part1" for launch in k.launches)]
    for kernel in ["iamax", *dots]:
        spec = lib.kernel(kernel)
        unit = blas_unit(spec.name)
        unit.sizes = {a.name: a.value for a in spec.args if a.role == "size" and a.value}
        applied = apply_sequence(unit, [("vectorize", 4), ("fewer-blocks", 4)], MI300X)
        assert applied is not None and applied.size_scale == {"n_blocks": 4}, kernel
        tune(spec, unit.source, {"source": applied.unit.source, "size_scale": applied.size_scale})
    assert sorted(plan.edits) == ["library.yaml", "src/dot.cpp", "src/iamax.cpp"], plan.notes
    for rel, lines in plan.edits.items():
        (blas / rel).write_text("".join(lines))
    dot = (blas / "src" / "dot.cpp").read_text()
    assert dot.count("+ 3) / 4") == 1 and "fewer-blocks" in dot
    patched = load_library(blas / "library.yaml")
    for name in ["iamax", *dots]:
        n_blocks = next(a for a in patched.kernel(name).args if a.name == "n_blocks")
        assert n_blocks.value == "ceil_div(ceil_div(n, NB * WIN), 4)", name
    _build([blas / "src" / f"{k}.cpp" for k in ("iamax", "dot")], [blas / "include"], patched.compile_flags)
    _validate(blas / "library.yaml", ["iamax", *dots], tmp_path / "runs", tmp_path / "cache", "check-fewer")


def test_a_shared_constant_says_where_the_run_validated_its_new_value():
    """gemm_batched tuned to BK=32 moves BLAS_GEMM_BK, which gemm and gemm_strided_batched launch with too:
    the note says for each whether this run validated it at that value (and with which candidate)."""
    lib = load_library("blas")
    plan, tune = _tuner(lib, "shared")
    spec = lib.kernel("gemm_batched")
    after = {**spec.defaults, "BK": 32}
    plan.validated_points = {"gemm": [("gemm/sweep-6", {**lib.kernel("gemm").defaults, "BK": 32})],
                             "gemm_strided_batched": [("gemm_strided_batched/sweep-1",
                                                       {**lib.kernel("gemm_strided_batched").defaults, "BM": 32})]}
    source = blas_unit("gemm_batched").source
    tune(spec, source, {"source": source, "params": after})
    notes = {n.split(":")[0]: n for n in plan.notes if "also launched" in n}
    assert "validated at that value in this run: gemm/sweep-6" in notes["gemm"]
    assert "this run did not validate it at that value" in notes["gemm_strided_batched"]
    assert any("BLAS_GEMM_BK = 32" in w for c in plan.changes for w in c.where)
