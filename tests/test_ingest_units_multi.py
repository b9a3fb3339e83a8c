"""Units for kernels launched together (a reduction and its finalize kernel): one translation unit
holding every launched kernel with the union of what they need, each piece once, no host code, that
compiles alone with the real compiler and instantiates every launch the manifest describes."""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

from portkern.errors import ConfigError
from portkern.ingest import KernelCatalog, ingest_library, ingest_tree
from portkern.library import instantiate, kernel_env, library_names, load_library

CLANG = shutil.which("clang-19") or shutil.which("clang")
NVCC = shutil.which("nvcc")
FIXTURE = Path(__file__).parent / "fixtures" / "rocblas_like"
HOST_LAUNCH = ("hipLaunchKernelGGL", "cudaLaunchKernel", "hipLaunchKernel(", "<<<")


@lru_cache(maxsize=4)
def _catalog(lib: str) -> KernelCatalog:
    return ingest_library(load_library(lib))


def _symbols(kernel) -> list[str]:
    return list(dict.fromkeys(launch.symbol for launch in kernel.launches))


def _template_names(kernel) -> list[str]:
    """Identifiers the launches pass as template arguments (as the ingest stage hands them over)."""
    placeholders = {"T", *kernel.tunables, *kernel.defaults}
    names = [n for launch in kernel.launches for t in launch.template_args
             for n in re.findall(r"[A-Za-z_]\w*", str(t)) if n not in placeholders]
    return list(dict.fromkeys(names))


def _multi_launch_cases(libs: tuple[str, ...]) -> list[tuple[str, str]]:
    present = set(library_names())
    return [(lib, k.name) for lib in libs if lib in present
            for k in load_library(lib).kernels if len(_symbols(k)) > 1]


HIP_CASES = _multi_launch_cases(("blas", "solver"))
CUDA_CASES = _multi_launch_cases(("nn",))


def _unit(lib: str, name: str):
    kernel = next(k for k in load_library(lib).kernels if k.name == name)
    return kernel, _catalog(lib).unit_for(_symbols(kernel), extra_names=_template_names(kernel))


def _entries(kernel) -> list[str]:
    """The launches' kernel name expressions for every dtype at the default tunables (contract 1)."""
    sizes = kernel.sizes_validate[0] if kernel.sizes_validate else {}
    env = kernel_env(kernel, sizes, dict(kernel.defaults))
    out: list[str] = []
    for dtype in kernel.dtypes:
        for launch in kernel.launches:
            targs = instantiate(launch.template_args, dtype, env)
            expr = f"{launch.symbol}<{', '.join(targs)}>" if targs else launch.symbol
            if expr not in out:
                out.append(expr)
    return out


def _with_entries(source: str, entries: list[str]) -> str:
    # the way the compile backends force instantiation: a host-side reference per entry
    refs = [f"static void* const unit_test_entry_{i} = (void*)&{e};" for i, e in enumerate(entries)]
    return source + "\n" + "\n".join(refs) + "\n"


def _compile_hip(source: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, str]:
    path, out = tmp_path / "unit.hip", tmp_path / "unit.s"
    path.write_text(source)
    cmd = [CLANG, "-x", "hip", "--offload-arch=gfx942", "--offload-device-only", "-nogpulib", "-S",
           "-o", str(out), str(path)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return run, out.read_text() if out.exists() else ""


def _assert_pieces_once(unit) -> None:
    seen = [(p.kind, p.name, p.file, p.line) for p in unit.pieces]
    assert len(seen) == len(set(seen)), [s for s in seen if seen.count(s) > 1]


def _definition_offset(source: str, name: str) -> int:
    """Offset of the first definition line of function ``name`` (its name followed by '(' after a type)."""
    m = re.search(rf"^[^\n;]*\b{re.escape(name)}\s*\(", source, re.M)
    assert m, f"'{name}' is not defined in the unit"
    return m.start()


def test_blas_has_multi_launch_kernels():
    names = {name for lib, name in HIP_CASES if lib == "blas"}
    assert {"dot", "nrm2", "asum", "iamax"} <= names, names


@pytest.mark.parametrize("lib,name", HIP_CASES + CUDA_CASES)
def test_group_unit_holds_every_kernel_once_and_no_host_code(lib, name):
    kernel, unit = _unit(lib, name)
    cat = _catalog(lib)
    symbols = _symbols(kernel)
    assert unit.kernels == symbols and unit.kernel == symbols[0]
    _assert_pieces_once(unit)
    for sym in symbols:
        defined = [p for p in unit.pieces if p.kind == "kernel" and p.name == sym]
        assert len(defined) == len(cat.kernels_named(sym)), (sym, unit.pieces)
    for marker in HOST_LAUNCH:
        assert marker not in unit.source, marker
    launch_macros = [m for m, kind in cat.macros.items() if kind == "launch"]
    launchers = {site.function for sym in symbols for site in cat.launch_sites(sym) if site.function}
    assert launchers, "the library launches these kernels from host functions"
    for host in launch_macros + sorted(launchers):
        assert not re.search(rf"\b{re.escape(host)}\b", unit.source), f"host code '{host}' is in the unit"
    # dependency order: every library function a kernel calls is defined before the kernel
    for sym in symbols:
        at = _definition_offset(unit.source, sym)
        for helper in cat.kernel(sym).device_functions:
            assert _definition_offset(unit.source, helper) < at, (sym, helper)
    # template arguments of the launches that the library defines (a finalize functor) are in it
    for extra in _template_names(kernel):
        if any(p.name == extra for p in unit.pieces):
            assert re.search(rf"\b(struct|class)\s+{re.escape(extra)}\b", unit.source), extra


@pytest.mark.slow
@pytest.mark.parametrize("lib,name", HIP_CASES)
def test_group_unit_compiles_alone_with_every_launch_instantiated(lib, name, tmp_path):
    if CLANG is None:
        pytest.skip("clang with the AMDGPU backend is not installed")
    kernel, unit = _unit(lib, name)
    run, asm = _compile_hip(_with_entries(unit.source, _entries(kernel)), tmp_path)
    assert run.returncode == 0, f"{lib}/{name}:\n{run.stderr}\n--- unit ---\n{unit.source}"
    emitted = re.findall(r"^\s*\.amdhsa_kernel\s+(\S+)", asm, re.M)
    for sym in _symbols(kernel):
        assert any(sym in k for k in emitted), f"{sym} not emitted; kernels in the assembly: {emitted}"


@pytest.mark.slow
@pytest.mark.parametrize("lib,name", CUDA_CASES)
def test_cuda_group_unit_compiles_alone(lib, name, tmp_path):
    if NVCC is None:
        pytest.skip("nvcc is not installed")
    kernel, unit = _unit(lib, name)
    path = tmp_path / "unit.cu"
    path.write_text(_with_entries(unit.source, _entries(kernel)))
    run = subprocess.run([NVCC, "-arch=sm_90", "-c", "-o", str(tmp_path / "unit.o"), str(path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"{lib}/{name}:\n{run.stderr}\n--- unit ---\n{unit.source}"


def test_shared_instantiation_macro_is_emitted_once_per_call(tmp_path):
    """The fixture instantiates both dot kernels through one macro; each call appears once, as written."""
    cat = ingest_tree(FIXTURE, profile="rocblas")
    names = ["rocblas_dot_kernel_part1", "rocblas_dot_kernel_reduce"]
    unit = cat.unit_for(names)
    _assert_pieces_once(unit)
    assert unit.source.count("INSTANTIATE_DOT(float, const float*)") == 1
    assert unit.source.count("INSTANTIATE_DOT(double, const double* const*)") == 1
    assert unit.source.count("#define INSTANTIATE_DOT") == 1
    assert unit.source.count("wavefront_reduce_sum(T v)") == 1
    insts = {p.name for p in unit.pieces if p.kind == "instantiation"}
    assert insts == set(names)
    assert "rocblas_dot_launcher" not in unit.source and "hipLaunchKernelGGL" not in unit.source
    if CLANG is None:
        pytest.skip("clang with the AMDGPU backend is not installed")
    run, asm = _compile_hip(unit.source, tmp_path)
    assert run.returncode == 0, run.stderr
    emitted = re.findall(r"^\s*\.amdhsa_kernel\s+(\S+)", asm, re.M)
    for n in names:   # the unit's own instantiations emit both kernels, for both types
        assert len([k for k in emitted if n in k]) == 2, emitted


def test_unit_for_one_kernel_is_its_unit_and_bad_names_are_config_errors():
    cat = _catalog("blas")
    assert cat.unit_for(["axpy_kernel"]) is cat.unit("axpy_kernel")
    with pytest.raises(ConfigError, match="no_such_kernel"):
        cat.unit_for(["dot_kernel_part1", "no_such_kernel"])
    with pytest.raises(ConfigError, match="at least one"):
        cat.unit_for([])


def test_catalog_read_back_from_json_says_to_ingest_again():
    cat = KernelCatalog.from_dict(_catalog("blas").to_dict())
    assert cat.unit("dot_kernel_part1").source == _catalog("blas").unit("dot_kernel_part1").source
    with pytest.raises(ConfigError, match="ingest the library again"):
        cat.unit_for(["dot_kernel_part1", "blas_reduction_kernel_part2"])


def test_ingest_stage_gives_multi_launch_kernels_their_group_unit(monkeypatch):
    from portkern.pipeline import stages

    library = load_library("blas")
    kernel = next(k for k in library.kernels if k.name == "nrm2")
    digest = stages.library_digest(library)
    payload = stages.ingest_stage(library, kernel, digest)
    assert payload["unit"] == "kernel-unit"
    assert payload["symbols"] == ["nrm2_kernel_part1", "blas_reduction_kernel_part2"]
    assert "BLAS_LAUNCH_KERNEL" not in payload["source"] and "blas_nrm2_launcher" not in payload["source"]
    assert "struct blas_finalize_sqrt" in payload["source"]

    # when the extraction fails, the whole file stands in, and the payload says why
    def broken(self, names, extra_names=()):
        raise ConfigError("extraction failed on purpose")

    monkeypatch.setattr(KernelCatalog, "unit_for", broken)
    payload = stages.ingest_stage(library, kernel, digest)
    assert payload["unit"] == "whole-file"
    assert "extraction failed on purpose" in payload["notes"][0]
    assert "blas_nrm2_launcher" in payload["source"]
