"""Ingest on the project's libraries: every kernel in each library.yaml is found with its template
parameters and launch sites, and each extracted unit compiles alone with the real compiler."""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache

import pytest

from portkern.ingest import KernelCatalog, ingest_library
from portkern.library import library_names, load_library

CLANG = shutil.which("clang-19") or shutil.which("clang")
NVCC = shutil.which("nvcc")
LIBRARIES = library_names()


@lru_cache(maxsize=8)
def _catalog(name: str) -> KernelCatalog:
    return ingest_library(load_library(name))


def _symbols(name: str) -> list[str]:
    return sorted({k.symbol for k in load_library(name).kernels})


@pytest.mark.skipif(not LIBRARIES, reason="no libraries/*/library.yaml present yet")
@pytest.mark.parametrize("lib", LIBRARIES)
def test_every_listed_kernel_is_found(lib):
    spec = load_library(lib)
    cat = _catalog(lib)
    assert cat.dialect == spec.dialect
    assert not [s for s in cat.skipped if s.file.startswith("src/")], cat.skipped
    for ks in spec.kernels:
        k = cat.kernel(ks.symbol)
        assert k.dialect == spec.dialect
        assert k.launch_sites, f"{lib}: no launch site found for {ks.symbol}"
        n_params = len(k.template_params)
        for launch in ks.launches:
            if launch.symbol != ks.symbol:
                continue
            # the manifest's template arguments fit the kernel's template (trailing ones may default/deduce)
            assert len(launch.template_args) <= n_params, (ks.name, launch.template_args, k.template_param_names)
            if n_params:
                assert launch.template_args, ks.name
        for site in k.launch_sites:
            assert len(site.template_args) <= n_params or not n_params
            assert site.grid and site.block and site.line > 0
            assert site.args, (ks.symbol, site)
        # every kernel argument the manifest names is a parameter of the kernel
        names = [p.name for p in k.params]
        launch_args = next(launch.args for launch in ks.launches if launch.symbol == ks.symbol)
        assert len(launch_args) == len(names), (ks.name, launch_args, names)


def _compile(lib: str, symbol: str, tmp_path) -> subprocess.CompletedProcess:
    spec = load_library(lib)
    unit = _catalog(lib).unit(symbol)
    if spec.dialect == "hip":
        path = tmp_path / f"{symbol}.hip"
        path.write_text(unit.source)
        cmd = [CLANG, "-x", "hip", "--offload-arch=gfx942", "--offload-device-only", "-nogpulib", "-S",
               "-o", str(tmp_path / "out.s"), str(path)]
    else:
        path = tmp_path / f"{symbol}.cu"
        path.write_text(unit.source)
        cmd = [NVCC, "-arch=sm_90", "-c", "-o", str(tmp_path / "out.o"), str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


_CASES = [(lib, sym) for lib in LIBRARIES for sym in _symbols(lib)]


@pytest.mark.slow
@pytest.mark.skipif(not _CASES, reason="no libraries/*/library.yaml present yet")
@pytest.mark.parametrize("lib,symbol", _CASES)
def test_unit_compiles_alone(lib, symbol, tmp_path):
    spec = load_library(lib)
    if spec.dialect == "hip" and CLANG is None:
        pytest.skip("clang with the AMDGPU backend is not installed")
    if spec.dialect == "cuda" and NVCC is None:
        pytest.skip("nvcc is not installed")
    unit = _catalog(lib).unit(symbol)
    assert "hipLaunchKernelGGL" not in unit.source and "<<<" not in unit.source
    r = _compile(lib, symbol, tmp_path)
    assert r.returncode == 0, f"{lib}/{symbol}:\n{r.stderr}\n--- unit ---\n{unit.source}"
