"""Emit stages and dataset export on real port runs (real compilers, the emulator, real SQLite)."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from portkern.cli import main
from portkern.dataset.export import Guard, assign_splits, dedup, export, normalize_source
from portkern.dataset.records import build_run_records
from portkern.dataset.schema import RecordSchemaError, validate_record
from portkern.emit.patch import plan_patch, render
from portkern.emit.review import review_run
from portkern.pipeline.run import PortOptions, port

pytestmark = pytest.mark.xdist_group("port-runs")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two real runs: same-dialect tuning (blas -> mi300x) and a port (nn -> mi300x)."""
    root = tmp_path_factory.mktemp("runs")
    runs_dir, cache = root / "runs", root / "cache"
    port(PortOptions(library="blas", target="mi300x", kernels=["axpy", "dot"], budget=2, run_id="tune",
                     runs_dir=str(runs_dir), cache_dir=str(cache)))
    port(PortOptions(library="nn", target="mi300x", kernels=["gelu_forward", "reduce_sum_count"], budget=1, run_id="port",
                     runs_dir=str(runs_dir), cache_dir=str(cache)))
    return runs_dir


def _records(run_dir: Path) -> list[dict]:
    path = run_dir / "emit" / "records.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_port_run_leaves_schema_valid_records(runs):
    for name in ("tune", "port"):
        recs = _records(runs / name)
        assert recs, f"run {name} wrote no records"
        for r in recs:
            validate_record(r)
            assert r["run_id"] == name and r["provenance"]["license"] == "MIT"
            assert r["versions"]["portkern"] and r["versions"]["git_revision"]
    kinds = {r["record_type"] for r in _records(runs / "port")}
    assert "translation" in kinds and "performance" in kinds
    trans = [r for r in _records(runs / "port") if r["record_type"] == "translation"]
    for t in trans:
        assert t["source_dialect"] == "cuda" and t["target_dialect"] == "hip"
        assert "__global__" in t["source_code"] and t["verdict"]["compiled"]
        assert t["verdict"]["correct"] == all(c["passed"] for c in t["verdict"]["cases"])
        assert t["verdict"]["cases"], "a translation record carries its validation cases"
    perf = [r for r in _records(runs / "tune") if r["record_type"] == "performance"]
    assert perf and all(p["estimated"] and p["timing"]["method"] == "estimate" for p in perf)


def test_schema_rejects_bad_record(runs):
    rec = dict(_records(runs / "tune")[0])
    rec.pop("provenance")
    with pytest.raises(RecordSchemaError) as exc:
        validate_record(rec)
    assert "provenance" in str(exc.value)
    rec2 = dict(_records(runs / "tune")[0], record_type="bogus")
    with pytest.raises(RecordSchemaError):
        validate_record(rec2)


def test_report_has_every_section_with_numbers(runs):
    text = (runs / "tune" / "emit" / "report.md").read_text()
    for section in ("## Kernels", "### Correctness evidence", "### Timing", "### Resources", "### Hazards",
                    "## axpy", "## dot"):
        assert section in text, section
    assert "cpu-emulator (wave64; validated on the emulator only" in text and "estimate" in text
    # real numbers from the run: the recorded base time of axpy appears in the kernels table
    con = sqlite3.connect(runs / "index.sqlite")
    base_ms = con.execute("SELECT base_ms FROM kernels WHERE run_id='tune' AND kernel='axpy'").fetchone()[0]
    assert f"{base_ms:.4g}" in text
    assert (runs / "tune" / "emit" / "plots" / "roofline.png").stat().st_size > 1000
    port_text = (runs / "port" / "emit" / "report.md").read_text()
    assert "| line | kind |" in port_text, "the port's report lists the translator's hazards"


def test_port_patch_applies_to_pristine_copy(runs, tmp_path, repo_root):
    plan = plan_patch(runs / "port")
    assert plan.mode == "port" and plan.new_files
    assert all(p.startswith("hip/") and p.endswith(".hip") for p in plan.new_files)
    patch = render(plan)
    pristine = tmp_path / "nn"
    shutil.copytree(repo_root / "libraries" / "nn", pristine)
    subprocess.run(["git", "init", "-q"], cwd=pristine, check=True)
    (tmp_path / "p.patch").write_text(patch)
    out = subprocess.run(["git", "apply", "--check", str(tmp_path / "p.patch")], cwd=pristine, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    subprocess.run(["git", "apply", str(tmp_path / "p.patch")], cwd=pristine, check=True)
    for rel, text in plan.new_files.items():
        assert (pristine / rel).read_text() == text


def test_pr_git_commits_on_branch(runs, tmp_path, repo_root, capsys):
    checkout = tmp_path / "nn"
    shutil.copytree(repo_root / "libraries" / "nn", checkout)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "pristine"]):
        subprocess.run(cmd, cwd=checkout, check=True)
    rc = main(["pr", str(runs / "port"), "--git", "--checkout", str(checkout), "--json"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert data["branch"] == "portkern/port"
    log = subprocess.run(["git", "log", "-1", "--format=%B"], cwd=checkout, capture_output=True, text=True).stdout
    assert "portkern: port nn kernels to mi300x" in log and "Evidence" in log and "validated on" in log


def test_review_passes_on_honest_run(runs):
    report = review_run(runs / "tune")
    assert report.passed, [c.to_dict() for c in report.failures()]
    claims = {c.claim for c in report.checks}
    assert {"source", "compile", "correct", "time"} <= claims


def test_review_fails_on_tampered_candidate(runs, tmp_path):
    tampered = tmp_path / "runs"
    shutil.copytree(runs, tampered)
    run = tampered / "tune"
    src = run / "candidates" / "axpy" / "original-0.src"
    text = src.read_text()
    assert "+= alpha *" in text
    # Compute only part of the output, then make the store agree with the file (a thorough tamperer).
    bad = text.replace("+= alpha *", "+= (tid < 64 ? alpha : alpha - alpha) *", 1)
    assert bad != text
    src.write_text(bad)
    con = sqlite3.connect(tampered / "index.sqlite")
    con.execute("UPDATE candidates SET source_sha256=? WHERE run_id='tune' AND candidate_id='axpy/original-0'",
                (hashlib.sha256(bad.encode()).hexdigest(),))
    con.commit()
    con.close()
    report = review_run(run)
    assert not report.passed
    failed = {(c.candidate, c.claim) for c in report.failures()}
    assert ("axpy/original-0", "correct") in failed
    # an untouched kernel still holds
    assert all(c.holds for c in report.checks if c.kernel == "dot")
    # and the CLI exits non-zero naming the claim
    rc = main(["review", str(run)])
    assert rc == 1


def test_review_flags_changed_source_hash(runs, tmp_path):
    tampered = tmp_path / "runs"
    shutil.copytree(runs, tampered)
    src = tampered / "tune" / "candidates" / "dot" / "original-0.src"
    src.write_text(src.read_text() + "\n// edited after the run\n")
    report = review_run(tampered / "tune")
    assert ("dot/original-0", "source") in {(c.candidate, c.claim) for c in report.failures()}


def test_export_manifest_dedup_split_guard(runs, tmp_path):
    out = tmp_path / "ds"
    manifest = export([runs / "tune", runs / "port", runs / "tune"], out)  # "tune" twice: exact duplicates
    assert manifest["records_out"] > 0
    assert manifest["dedup"]["exact_duplicates"] >= len(_records(runs / "tune"))
    for rel, info in manifest["shards"].items():
        data = (out / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"]
        rows = [json.loads(line) for line in gzip.decompress(data).decode().splitlines()]
        assert len(rows) == info["records"]
    # no family in two splits
    fams = manifest["families"]
    seen: dict[str, str] = {}
    for split, names in fams.items():
        for f in names:
            assert f not in seen, f"family {f} in {seen.get(f)} and {split}"
            seen[f] = split
    raw = [json.loads(line) for rel in manifest["shards"] if rel.startswith("raw/")
           for line in gzip.decompress((out / rel).read_bytes()).decode().splitlines()]
    for r in raw:
        assert r["split"] == next(s for s, names in fams.items() if r["provenance"]["family"] in names)
    assert sum(manifest["counts"]["by_type"].values()) == manifest["records_out"]
    assert set(manifest["counts"]["by_library"]) <= {"blas", "nn"}


def test_contamination_guard_drops_benchmark_kernels(runs, tmp_path):
    recs = build_run_records(runs / "port")
    kernel_names = {r["provenance"]["kernel"] for r in recs}
    guard_file = tmp_path / "guard.yaml"
    bench_copy = tmp_path / "public_bench.cu"
    # a "public benchmark file" that holds the very source of one record
    victim = next(r for r in recs if r["record_type"] == "performance")
    bench_copy.write_text("// reformatted copy\n" + victim["code"].replace("\n", "\n\n"))
    guard_file.write_text(f"benchmarks:\n  - name: test-bench\n    sources: [{bench_copy.name}]\n")
    guard = Guard.load(guard_file)
    assert guard.hit(victim), "a reformatted copy of a benchmark source must be caught"
    manifest = export([runs / "port"], tmp_path / "ds", guard_path=guard_file)
    dropped = {d["record_id"] for d in manifest["contamination"]["dropped"]}
    assert victim["record_id"] in dropped
    assert kernel_names


def test_near_duplicates_removed():
    base = {"record_type": "translation", "target": "mi300x", "provenance": {"family": "f"}}
    code = "__global__ void k(float* x, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; " + \
           " ".join(f"if (i < n) x[i] = x[i] * {k}.0f + 1.0f;" for k in range(40)) + " }"
    a = dict(base, source_code=code, target_code=code, record_id="a")
    b = dict(base, source_code=code.replace("39.0f", "77.0f") + " // tweak", target_code=code, record_id="b")
    c = dict(base, source_code="__global__ void other(int* y) { y[threadIdx.x] = 7; }", target_code="x", record_id="c")
    kept, stats = dedup([a, b, c])
    assert [r["record_id"] for r in kept] == ["a", "c"]
    assert stats["near_duplicates"] == 1
    assert normalize_source("int  a; // c\n/* x */ int b;") == normalize_source("int a;\nint b;")


def test_family_splits_cover_all_three():
    fams = [f"fam{i}" for i in range(20)]
    split = assign_splits(fams)
    assert set(split.values()) == {"train", "validation", "test"}
    assert split == assign_splits(list(reversed(fams))), "splits are stable"


def test_hf_datasets_loads_shards(runs, tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "ds"
    manifest = export([runs / "tune", runs / "port"], out)
    sft = sorted(str(out / rel) for rel in manifest["shards"] if rel.startswith("sft/"))
    raw = sorted(str(out / rel) for rel in manifest["shards"] if rel.startswith("raw/performance/"))
    assert raw
    ds = datasets.load_dataset("json", data_files=raw, split="train", cache_dir=str(tmp_path / "hf"))
    assert len(ds) == sum(manifest["shards"][Path(p).relative_to(out).as_posix()]["records"] for p in raw)
    assert "code" in ds.column_names
    if sft:
        chat = datasets.load_dataset("json", data_files=sft, split="train", cache_dir=str(tmp_path / "hf2"))
        assert chat[0]["messages"][-1]["role"] == "assistant"


def test_dataset_export_cli(runs, tmp_path, capsys):
    rc = main(["dataset", "export", "--runs-dir", str(runs), "--out", str(tmp_path / "o"), "--json"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert data["records_out"] > 0 and (tmp_path / "o" / "manifest.json").exists()
    rc = main(["dataset", "export", "--runs-dir", str(tmp_path / "none"), "--out", str(tmp_path / "o2")])
    assert rc == 3  # an input error


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, repo_root):
    """A run whose sweep beats the library's default (tests/fixtures/libs/tunelib: LDS-bound occupancy)."""
    import os

    libs = repo_root / "tests" / "fixtures" / "libs"
    old = os.environ.get("PORTKERN_LIBRARIES")
    os.environ["PORTKERN_LIBRARIES"] = str(libs)
    root = tmp_path_factory.mktemp("tuned")
    try:
        port(PortOptions(library="tunelib", target="mi300x", budget=2, run_id="tuned",
                         runs_dir=str(root / "runs"), cache_dir=str(root / "cache")))
        yield root / "runs" / "tuned", libs / "tunelib"
    finally:
        if old is None:
            os.environ.pop("PORTKERN_LIBRARIES", None)
        else:
            os.environ["PORTKERN_LIBRARIES"] = old


def test_tuning_patch_touches_only_the_constant(tuned, tmp_path):
    run_dir, lib_root = tuned
    con = sqlite3.connect(run_dir.parent / "index.sqlite")
    status, sel = con.execute("SELECT status, selected_candidate FROM kernels WHERE run_id='tuned'").fetchone()
    assert status == "improved" and sel != "scale/original-0"
    patch = (run_dir / "emit" / "port.patch").read_text()
    assert "-constexpr int TUNE_SCALE_NB = 64;" in patch and "+constexpr int TUNE_SCALE_NB = 256;" in patch
    changed = [ln for ln in patch.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert changed == ["-constexpr int TUNE_SCALE_NB = 64;", "+constexpr int TUNE_SCALE_NB = 256;"]
    pristine = tmp_path / "tunelib"
    shutil.copytree(lib_root, pristine)
    (tmp_path / "p.patch").write_text(patch)
    out = subprocess.run(["git", "apply", str(tmp_path / "p.patch")], cwd=pristine, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "TUNE_SCALE_NB = 256;" in (pristine / "include" / "tune_sizes.hpp").read_text()
    assert (pristine / "src" / "scale.cpp").read_text() == (lib_root / "src" / "scale.cpp").read_text()
    msg = (run_dir / "emit" / "COMMIT_MSG").read_text()
    assert "tune tunelib kernels for mi300x" in msg and "estimate" in msg


def test_tuning_run_records_and_review(tuned):
    run_dir, _ = tuned
    recs = _records(run_dir)
    opt = [r for r in recs if r["record_type"] == "optimization"]
    assert len(opt) == 1 and opt[0]["speedup"] > 1 and opt[0]["method"] == "estimate"
    assert opt[0]["before_params"] == {"NB": 64} and opt[0]["after_params"] == {"NB": 256}
    report = review_run(run_dir)
    assert report.passed, [c.to_dict() for c in report.failures()]
    assert any(c.claim == "improvement" and c.holds for c in report.checks)
