"""The real rocBLAS tree (../shared/corpus/rocblas), ported through the pipeline: ingested units of its own
kernels, built with clang for gfx942 and validated on the CPU emulator at wavefront 64."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from portkern.pipeline.run import PortOptions, port

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "rocblas"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (CORPUS / "library").is_dir(), reason=f"the rocBLAS corpus is not at {CORPUS}")]
MANIFEST = Path(__file__).resolve().parents[1] / "libraries" / "rocblas" / "library.yaml"


def test_real_rocblas_kernels_validate_on_the_emulator(tmp_path, monkeypatch):
    monkeypatch.setenv("ROCBLAS_SRC", str(CORPUS))
    summary = port(PortOptions(library=str(MANIFEST), target="mi300x", kernels=["scal", "axpy", "copy"], budget=0,
                               run_id="rocblas-real", runs_dir=str(tmp_path / "runs"), cache_dir=str(tmp_path / "cache")))
    status = {k["kernel"]: k["status"] for k in summary["kernels"]}
    assert set(status) == {"scal", "axpy", "copy"}
    assert all(s in ("ported", "improved") for s in status.values()), status
    con = sqlite3.connect(tmp_path / "runs" / "index.sqlite")
    try:
        validated = {r[0] for r in con.execute("SELECT kernel FROM stage_results WHERE run_id = 'rocblas-real' "
                                               "AND stage = 'validate' AND status = 'ok'")}
    finally:
        con.close()
    assert validated == {"scal", "axpy", "copy"}
    # the run's own copy loads alone (the manifest, kept outside the tree, copied beside it): what the
    # performance model reads its timings with
    from portkern.library import load_library
    from portkern.pipeline.snapshot import snapshot_manifest

    manifest, source_root = snapshot_manifest(tmp_path / "runs" / "rocblas-real")
    copy = load_library(manifest, source_root=str(source_root))
    assert copy.kernel("scal").symbol == "rocblas_scal_kernel" and copy.root.startswith(str(tmp_path))


def test_a_timing_worker_finds_the_tree_without_the_callers_environment(tmp_path, monkeypatch):
    # Device workers start with a scrubbed environment: the tree the caller resolved travels in the job.
    import shutil

    from portkern.harness.bench import BenchJob, _worker_library
    from portkern.library import load_library

    manifest = tmp_path / "manifests" / "rocblas" / "library.yaml"   # its default source_root is not there
    shutil.copytree(MANIFEST.parent, manifest.parent)
    copy = tmp_path / "rocblas-checkout"
    copy.symlink_to(CORPUS, target_is_directory=True)
    monkeypatch.setenv("ROCBLAS_SRC", str(copy))
    lib = load_library(str(manifest))
    monkeypatch.delenv("ROCBLAS_SRC")
    job = BenchJob("cuda", lib.manifest_path, "scal", None, None, {}, "f32",
                    source_root=lib.root if lib.manifest_dir else "")
    assert job.source_root == str(copy.resolve())
    assert _worker_library(job.library_root, job.source_root).kernel("scal").name == "scal"


def test_an_evolved_rocblas_reduction_patches_the_tree_that_then_ports_again(tmp_path, monkeypatch):
    """asum through evolve: the grid-stride sum launched with fewer blocks is selected on the model's
    prediction; the patch edits rocBLAS's own files (kernel and host block count, helpers inside an include
    guard), says what the manifest kept outside the tree needs, and the patched tree ports again."""
    import shutil
    import subprocess

    from portkern.emit.patch import plan_patch, render

    monkeypatch.setenv("ROCBLAS_SRC", str(CORPUS))
    summary = port(PortOptions(library=str(MANIFEST), target="mi300x", kernels=["asum"], budget=4, strategy="evolve",
                               run_id="asum-evolve", runs_dir=str(tmp_path / "runs"), cache_dir=str(tmp_path / "cache")))
    status = {k["kernel"]: k["status"] for k in summary["kernels"]}
    assert status == {"asum": "improved"}, summary["kernels"]
    plan = plan_patch(tmp_path / "runs" / "asum-evolve")
    patch = render(plan)
    assert "diff --git a/library/src/blas1/rocblas_asum_nrm2_kernels.hpp" in patch
    assert "diff --git a/library.yaml" not in patch          # the manifest lives outside rocBLAS's tree
    assert "#ifndef PORTKERN_HELPERS_" in patch and "accumulate:" in patch
    assert any("rocblas/library.yaml" in note and "n_blocks" in note for note in plan.notes)
    tree = tmp_path / "patched"
    shutil.copytree(CORPUS, tree)
    subprocess.run(["patch", "-p1", "-s"], input=patch, text=True, cwd=tree, check=True)
    monkeypatch.setenv("ROCBLAS_SRC", str(tree))
    again = port(PortOptions(library=str(MANIFEST), target="mi300x", kernels=["asum", "nrm2"], budget=0,
                             run_id="patched", runs_dir=str(tmp_path / "runs2"), cache_dir=str(tmp_path / "cache2")))
    assert {k["kernel"]: k["status"] for k in again["kernels"]} == {"asum": "ported", "nrm2": "ported"}
