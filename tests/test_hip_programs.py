"""The self-checking HIP programs (tests/programs/hip), translated to CUDA as a folder (sources and
Makefile) and built with the translated Makefile by nvcc. Running them needs an NVIDIA GPU: the `gpu`
test does that, and benchmarks/hip_programs.py records the full table."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROGRAMS = REPO / "tests" / "programs" / "hip"
# one per difficulty the rules must handle without a person: HIP-only macros, float atomics CUDA lacks,
# the two-argument host allocation, device lambdas (nvcc flags from the build file), HIP-only launches,
# copies and bit-field functions
SAMPLE = ["dynamic_shared", "float_atomics", "host_alloc", "device_lambda", "ext_launch_bits"]


@pytest.fixture(scope="module")
def translated(tmp_path_factory):
    out = tmp_path_factory.mktemp("hip-programs") / "cuda"
    run = subprocess.run([sys.executable, "-m", "portkern", "translate", str(PROGRAMS), "--to", "cuda", "-o", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return out


def test_the_folder_translates_whole(translated):
    names = {p.name for p in translated.iterdir()}
    assert {p.name for p in PROGRAMS.iterdir()} <= names
    makefile = (translated / "Makefile").read_text()
    assert "nvcc" in makefile and "hipcc" not in makefile and "-x cu" in makefile
    assert "--offload-arch" not in makefile and "-arch=sm_" in makefile
    for source in translated.glob("*.hip"):
        text = source.read_text()
        assert "hipMalloc" not in text and "hipMemcpy" not in text, source.name
    assert "extern __shared__" in (translated / "dynamic_shared.hip").read_text()
    assert "atomicMax(float* address, float val)" in (translated / "float_atomics.hip").read_text()
    rtc = (translated / "rtc_module.hip").read_text()
    assert "cudaLibraryLoadData(" in rtc and "cuModule" not in rtc and "nvrtcGetPTX(" in rtc
    assert "rtc_module: LDLIBS += -lnvrtc" in makefile


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("nvcc"), reason="nvcc is not installed")
@pytest.mark.parametrize("name", SAMPLE)
def test_translated_program_builds_with_its_makefile(translated, name):
    build = subprocess.run(["make", "-C", str(translated), name], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert (translated / name).is_file()


@pytest.mark.gpu
def test_translated_programs_pass_on_the_gpu(tmp_path):
    run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "hip_programs.py"), "--out", str(tmp_path / "b")],
                         capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
