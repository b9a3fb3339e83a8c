"""A vendor is one folder: a backend that lives outside the tree, found through PORTKERN_BACKEND_PATH,
with its target rows in the folder's targets.yaml, compiles and validates a library kernel through
the pipeline's own stage functions. Nothing outside the folder names it.

The extra vendor ("toycpu") is CUDA-like but its device is the host CPU: it builds with the real host
compiler (the emulator's toolchain) and its runner launches in a real worker process.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
import yaml

from portkern import backends
from portkern.errors import ConfigError
from portkern.library import load_library
from portkern.pipeline import harness_adapter
from portkern.pipeline.run import PortOptions, port
from portkern.pipeline.stages import compile_stage
from portkern.targets import get_target, load_targets

TOY_INIT = '''"""toycpu: a CUDA-like vendor whose device is the host CPU."""

from portkern.backends.emu.backend import EmuBackend
from portkern.backends.emu.runner import EmuRunner
from portkern.model import Availability


class ToyRunner(EmuRunner):
    name = "toycpu"

    def device_label(self, compiled, target) -> str:
        return f"{target.display_name} (host CPU)"

    def available(self) -> Availability:
        host = self.backend.available()
        return Availability(backend="toycpu-device", ok=host.ok, reason=host.reason,
                            devices=["toycpu (host CPU)"] if host.ok else [])


class ToyBackend(EmuBackend):
    name = "toycpu"

    def runner(self) -> ToyRunner:
        return ToyRunner(self)


BACKEND = ToyBackend()
'''


def toy_target_rows() -> str:
    """One target row: an NVIDIA-like part whose backend is the toy folder."""
    row = yaml.safe_load(get_target("h100").to_json())
    row.pop("name")
    row.update(vendor="toy", backend="toycpu", arch="toy1", display_name="Toy CPU vendor",
               accelerator_type="toycpu", sources={"all": "figures copied from h100 for a test vendor"})
    return yaml.safe_dump({"targets": {"toy32": row}}, sort_keys=False)


@pytest.fixture
def toy_vendor(tmp_path, monkeypatch):
    folder = tmp_path / "vendors" / "toycpu"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(TOY_INIT)
    (folder / "targets.yaml").write_text(toy_target_rows())
    monkeypatch.setenv("PORTKERN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(backends.BACKEND_PATH_ENV, str(folder.parent))
    load_targets.cache_clear()
    yield folder
    load_targets.cache_clear()
    sys.modules.pop("portkern.backends.toycpu", None)


def test_an_extra_backend_folder_compiles_and_validates_a_library_kernel(toy_vendor):
    assert "toycpu" in backends.names()
    target = get_target("toy32")
    backend = backends.for_target(target)
    assert type(backend).__name__ == "ToyBackend" and backend.available().ok

    library = load_library("nn")
    kernel = library.kernel("gelu_forward")
    source = (Path(library.root) / kernel.file).read_text()
    params = dict(kernel.defaults)
    compiled = compile_stage(source, kernel, library, target, params, list(library.compile_flags))
    assert compiled["backend"] == "toycpu" and compiled["target"] == "toy32"
    assert compiled["options"]["wavefront"] == 32 and compiled["entry_map"]

    # The device runner of the target is the folder's own, found again inside the worker process.
    use_device, where = harness_adapter.device_available(target)
    assert (use_device, where) == (True, "toycpu (host CPU)")
    result = harness_adapter.validate(source, kernel, library, target, params, compiled, use_device)
    assert result.passed, result.detail
    assert result.device == "Toy CPU vendor (host CPU)" and len(result.cases) >= 3


def test_a_port_run_goes_through_the_extra_backend(toy_vendor, tmp_path):
    runs = tmp_path / "runs"
    summary = port(PortOptions(library="nn", target="toy32", kernels=["gelu_forward"], budget=1, run_id="toy",
                               runs_dir=str(runs), cache_dir=str(tmp_path / "stage-cache")))
    (kernel,) = summary["kernels"]
    assert kernel["status"] in ("ported", "improved"), kernel
    con = sqlite3.connect(f"file:{runs / 'index.sqlite'}?mode=ro", uri=True)
    try:
        stages = dict(con.execute("SELECT task, status FROM stage_results WHERE run_id = 'toy'").fetchall())
        (device,) = con.execute("SELECT validation_device FROM candidates WHERE run_id = 'toy' AND "
                                "candidate_id = 'gelu_forward/original-0'").fetchone()
    finally:
        con.close()
    assert stages["gelu_forward/original-0.compile"] == "ok"
    assert stages["gelu_forward/original-0.validate"] == "ok"
    # The toy runner validates but cannot time: the bench is the labelled estimate.
    assert stages["gelu_forward/original-0.bench"] == "estimated"
    compiled = json.loads((runs / "toy" / "results" / "gelu_forward" / "original-0.compile.json").read_text())
    assert compiled["payload"]["backend"] == "toycpu"
    assert device == "Toy CPU vendor (host CPU)"


def test_a_target_naming_a_missing_backend_says_which_row_to_fix(toy_vendor):
    rows = yaml.safe_load((toy_vendor / "targets.yaml").read_text())
    rows["targets"]["toy32"]["backend"] = "nosuchvendor"
    (toy_vendor / "targets.yaml").write_text(yaml.safe_dump(rows))
    load_targets.cache_clear()
    with pytest.raises(ConfigError, match="target 'toy32' names backend 'nosuchvendor'"):
        backends.for_target(get_target("toy32"))


def test_built_in_targets_name_built_in_backends():
    for target in load_targets().values():
        assert target.backend in ("cuda", "hip"), target.name
        assert backends.for_target(target).name == target.backend


def test_batched_vendor_baselines_do_the_whole_batch(monkeypatch):
    # numpy standing in for CuPy (same array API): the batched gemv baseline multiplies every matrix of
    # the batch in one call, and batched ger, which CuPy's cuBLAS API lacks, gives way to PyTorch's.
    import types

    import numpy as np
    from portkern.backends.cuda.baseline import cupy_op

    calls = []
    stand_in = types.ModuleType("cupy")
    stand_in.cublas = types.SimpleNamespace(gemv=lambda *a: calls.append(a), ger=lambda *a: None)
    monkeypatch.setitem(sys.modules, "cupy", stand_in)
    monkeypatch.setitem(sys.modules, "cupy.cublas", stand_in.cublas)
    name, op = cupy_op(np, "gemv_n", {"m": 8, "n": 4, "batch_count": 3}, "float32")
    assert name == "cuBLAS batched gemv N (CuPy matmul)" and op().shape == (3, 8, 1)
    name, op = cupy_op(np, "gemv_t", {"m": 8, "n": 4, "batch_count": 3}, "float32")
    assert name == "cuBLAS batched gemv T (CuPy matmul)" and op().shape == (3, 4, 1)
    assert cupy_op(np, "ger", {"m": 8, "n": 4, "batch_count": 3}, "float32") is None
    # one matrix: cuBLAS's gemv on column-major storage, the operation the kernel's name says
    for family, trans, xlen, ylen in (("gemv_n", "N", 4, 8), ("gemv_t", "T", 8, 4)):
        name, op = cupy_op(np, family, {"m": 8, "n": 4}, "float32")
        assert name == f"cuBLAS gemv {trans} (CuPy)"
        op()
        got_trans, _, a, x, _, y = calls[-1]
        assert got_trans == trans and a.shape == (8, 4) and a.flags.f_contiguous
        assert x.shape == (xlen,) and y.shape == (ylen,)


def test_triangular_solves_are_timed_beside_the_vendor_routine_of_their_triangle():
    import numpy as np

    from portkern.harness.baselines import BLAS_FAMILIES, baseline_family, triangular_system

    assert baseline_family("trsv", "trsv_upper") == "trsv_upper"
    assert baseline_family("trsv", "trsv_lower") == "trsv_lower"
    assert baseline_family("trsv", "trsv_batched") == "trsv_lower"
    assert baseline_family("gemv", "gemv_n") == "gemv_n" and baseline_family("gemv", "gemv_t") == "gemv_t"
    assert baseline_family("gemv", "gemv_t_strided_batched") == "gemv_t"
    assert baseline_family("gemv", "gemv_upper_bound") == "gemv_n"
    assert {"trsv_lower", "trsv_upper"} <= set(BLAS_FAMILIES)
    # the baseline's system: triangular with a unit diagonal, and solving in place trial after trial
    # keeps the right-hand side's size (its values neither grow nor vanish)
    for upper in (False, True):
        a = triangular_system(np, 64, np.float32, upper)
        assert a.dtype == np.float32 and np.all(np.diag(a) == 1.0)
        assert np.all((np.tril(a, -1) if upper else np.triu(a, 1)) == 0)
        assert np.any((np.triu(a, 1) if upper else np.tril(a, -1)) != 0)
        x = np.random.default_rng(0).standard_normal(64)
        start = np.linalg.norm(x)
        for _ in range(200):
            x = np.linalg.solve(a.astype(np.float64), x)
        assert 0.9 < np.linalg.norm(x) / start < 1.1
