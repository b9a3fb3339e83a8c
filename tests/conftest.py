from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Ports in the tests predict with a fixed model (the analytic part, no learned correction, fixed
# interval widths), not with whatever model ships with the package: what a test expects a run to
# select must not change when the shipped model is refitted. Tests of the model set their own.
os.environ["PORTKERN_PERFMODEL"] = str(REPO / "tests" / "fixtures" / "perfmodel" / "analytic-fixed-widths.json")


def _nvidia_gpu_present() -> bool:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def pytest_collection_modifyitems(config, items):
    has_gpu = _nvidia_gpu_present()
    skip_gpu = pytest.mark.skip(reason="no NVIDIA GPU on this machine (nvidia-smi finds none)")
    skip_amd = pytest.mark.skip(reason="no AMD GPU on this machine (needs ROCm and an Instinct GPU)")
    for item in items:
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(skip_gpu)
        if "amdgpu" in item.keywords and not Path("/dev/kfd").exists():
            item.add_marker(skip_amd)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
