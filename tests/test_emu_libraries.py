"""Every kernel in libraries/ runs on the emulator and matches its reference: HIP libraries at
wavefront width 64 (mi300x), the CUDA collection at warp width 32 (h100). One dtype per kernel
(its first) keeps the sweep within the CI budget; the harness tests cover the dtype matrix."""

from __future__ import annotations

import pytest
from portkern.backends import get

from portkern.library import library_names, load_library
from portkern.targets import get_target

emu = get("emu")


def _kernels() -> list[tuple[str, str]]:
    out = []
    for name in library_names():
        lib = load_library(name)
        if lib.manifest_dir:
            continue  # an external tree's kernels build as ingested units through `port` (tests/test_rocblas_port.py)
        out += [(name, k.name) for k in lib.kernels]
    return out


@pytest.mark.slow
@pytest.mark.skipif(not emu.available().ok, reason="no host C++ compiler for the emulator")
@pytest.mark.parametrize("library,kernel", _kernels(), ids=lambda v: v)
def test_library_kernel_matches_reference_on_the_emulator(library, kernel):
    from portkern.harness.validate import validate

    lib = load_library(library)
    spec = lib.kernel(kernel)
    target = get_target("mi300x" if lib.dialect == "hip" else "h100")
    result = validate(lib, spec, target, runner="emu", dtypes=[spec.dtypes[0]])
    assert result.wavefront == target.wavefront
    assert result.passed, f"{result.failure}: {result.detail}"


@pytest.mark.slow
@pytest.mark.skipif(not emu.available().ok, reason="no host C++ compiler for the emulator")
def test_false_rejection_sweep_passes_an_original_kernel_and_names_bad_arguments():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    script = [sys.executable, str(root / "benchmarks" / "false_rejections.py")]
    done = subprocess.run(script + ["--kernels", "blas:scal", "--seeds", "2", "--jobs", "1"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 seeds x 1 kernels" in done.stdout and ", 0 rejections" in done.stdout
    bad = subprocess.run(script + ["--kernels", "nosuchlib", "--seeds", "1"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "names no kernel" in bad.stderr and "Traceback" not in bad.stderr
