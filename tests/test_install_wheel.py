"""The built wheel, installed outside the checkout, runs the user-facing commands.

The wheel is built from a copy of this checkout (no build isolation: setuptools and wheel are test
dependencies) and installed with ``--no-deps`` into a fresh virtual environment in a temporary
folder. Its third-party dependencies are taken from the test environment's site-packages through a
``.pth`` file, which adds that folder to the path without running its ``.pth`` files, so the
checkout's editable install of portkern is not visible: every portkern module, data file and emulator
header has to come from the wheel.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from wheelbuild import build_wheel

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]

HIP_KERNEL = """#include <hip/hip_runtime.h>
__global__ void axpy_kernel(int n, float a, const float* x, float* y)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += a * x[i];
}
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(work)

    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                           text=True).strip())
    deps = [p for p in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
            if Path(p).is_dir()]
    (purelib / "_test_deps.pth").write_text("\n".join(deps) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                              "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    cwd = work / "elsewhere"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTKERN_") and k != "PYTHONPATH"}
    env["PORTKERN_CACHE_DIR"] = str(work / "cache")
    env["PORTKERN_RUNS_DIR"] = str(work / "runs")
    env["PORTKERN_LLM_PROVIDER"] = "none"
    return python, cwd, env


def _run(installed, *args, timeout=600):
    python, cwd, env = installed
    return subprocess.run([str(python), "-m", "portkern", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


def test_the_wheel_not_the_checkout_is_imported(installed):
    python, cwd, env = installed
    where = subprocess.check_output([str(python), "-c", "import portkern, portkern.backends.emu as e;"
                                     "print(portkern.__file__); print(e.__file__)"], text=True, cwd=cwd, env=env)
    assert str(REPO) not in where
    assert where.count("site-packages") == 2


def test_doctor_runs(installed):
    result = _run(installed, "doctor")
    assert result.returncode in (0, 1), result.stderr
    assert "nvcc" in result.stdout and "clang" in result.stdout


def test_translate_and_compile(installed):
    _, cwd, _ = installed
    (cwd / "axpy.hip").write_text(HIP_KERNEL)
    result = _run(installed, "translate", "axpy.hip", "--to", "cuda")
    assert result.returncode == 0, result.stderr
    assert "cuda_runtime.h" in result.stdout and "hip/" not in result.stdout
    if not shutil.which("clang++-19") and not shutil.which("clang-19"):
        pytest.skip("clang-19 is not installed")
    compiled = _run(installed, "compile", "axpy.hip", "--target", "mi300x")
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    assert "axpy_kernel" in compiled.stdout


def test_port_a_library_given_by_path(installed):
    _, cwd, env = installed
    lib = cwd / "tunelib"
    shutil.copytree(REPO / "tests" / "fixtures" / "libs" / "tunelib", lib)
    result = _run(installed, "port", "--lib", str(lib / "library.yaml"), "--target", "mi300x", "--budget", "1",
                  "--run-id", "wheel-port")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = Path(env["PORTKERN_RUNS_DIR"]) / "wheel-port"
    assert (run / "emit" / "report.md").is_file()
