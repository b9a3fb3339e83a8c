"""Emit stages and dataset export on real port runs (real compilers, the emulator, real SQLite)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from portkern.cli import main
from portkern.dataset.export import Guard, assign_splits, dedup, export, identity_pairs, normalize_source
from portkern.dataset.records import build_run_records
from portkern.dataset.schema import RecordSchemaError, validate_record
from portkern.emit.patch import plan_patch, render
from portkern.emit.review import review_run
from portkern.fsio import current_umask
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


PROVENANCE = ("run_id", "library", "kernel", "family", "file", "file_sha256", "license", "source_dialect",
              "target_dialect", "target", "toolchain", "device", "date")


def test_port_run_leaves_schema_valid_records(runs):
    for name in ("tune", "port"):
        recs = _records(runs / name)
        assert recs, f"run {name} wrote no records"
        for r in recs:
            validate_record(r)
            prov = r["provenance"]
            assert r["run_id"] == name == prov["run_id"] and prov["license"] == "MIT"
            assert all(prov[k] for k in PROVENANCE), prov
            assert len(prov["file_sha256"]) == 64 and prov["target"] == "mi300x" and prov["date"].startswith("20")
            assert r["versions"]["portkern"] and r["versions"]["git_revision"]
    kinds = {r["record_type"] for r in _records(runs / "port")}
    assert "translation" in kinds and "performance" in kinds
    trans = [r for r in _records(runs / "port") if r["record_type"] == "translation"]
    for t in trans:
        assert t["source_dialect"] == "cuda" and t["target_dialect"] == "hip"
        assert "__global__" in t["source_code"] and t["verdict"]["compiled"]
        assert t["verdict"]["correct"] == all(c["passed"] for c in t["verdict"]["cases"])
        assert t["verdict"]["cases"], "a translation record carries its validation cases"
        # original dialect -> the translated unit, never the same text twice
        assert "cuda_runtime.h" in t["source_code"] and "hip/hip_runtime.h" in t["target_code"]
        assert normalize_source(t["source_code"]) != normalize_source(t["target_code"])
        assert t["verified"] == (t["verdict"]["correct"] and t["hard_case_reason"] == "")
        assert t["provenance"]["device"] == t["verdict"]["validation_device"]
    perf = [r for r in _records(runs / "tune") if r["record_type"] == "performance"]
    assert perf and all(p["timing_kind"] == "predicted" and p["timing"]["method"] == "estimate" for p in perf)
    assert identity_pairs(_records(runs / "tune") + _records(runs / "port")) == 0


def test_translation_source_is_the_library_original(runs):
    """The source side of a translation is what ingest read from the library file, before translation."""
    for t in (r for r in _records(runs / "port") if r["record_type"] == "translation"):
        ingest = json.loads((runs / "port" / "results" / t["provenance"]["kernel"] / "ingest.json").read_text())
        assert t["source_code"] == ingest["payload"]["source"]
        lib_file = Path(__file__).resolve().parents[1] / "libraries" / "nn" / t["provenance"]["file"]
        assert t["provenance"]["file_sha256"] == hashlib.sha256(lib_file.read_bytes()).hexdigest()


def test_unverified_translation_is_a_hard_case(runs):
    """A translation whose validation failed is kept as a hard case, out of the SFT conversations."""
    from portkern.dataset.configs import CONFIGS, config_rows
    from portkern.dataset.records import RecordBuilder, open_run

    run_dir = runs / "port"
    kernel = "gelu_forward"
    evals = json.loads((run_dir / "results" / kernel / "evaluations.json").read_text())
    ingest = json.loads((run_dir / "results" / kernel / "ingest.json").read_text())["payload"]
    failed = json.loads(json.dumps(evals[0]))
    failed["validation"]["passed"] = False
    failed["validation"]["detail"] = "case 0: mismatch at index 3"
    builder = RecordBuilder(open_run(run_dir))
    recs = builder.for_kernel(kernel, [failed], {"original": ingest["source"], "translated": "",
                                                 "hazards": [{"kind": "warp-size", "message": "32 assumed"}]})
    trans = [r for r in recs if r["record_type"] == "translation"]
    assert len(trans) == 1 and not trans[0]["verified"]
    assert "fails validation" in trans[0]["hard_case_reason"] and "warp-size" in trans[0]["hard_case_reason"]
    for rec in trans:
        rec["split"] = "train"
    by_name = {c.name: c for c in CONFIGS}
    assert config_rows(by_name["sft"], trans) == []
    hard = config_rows(by_name["hard_cases"], trans)
    assert len(hard) == 1 and hard[0]["reason"] == trans[0]["hard_case_reason"]
    # an identical pair is no record at all
    same = builder.for_kernel(kernel, [evals[0]], {"original": evals[0]["candidate"]["source"] + "\n// c\n",
                                                   "translated": "", "hazards": []})
    assert not [r for r in same if r["record_type"] == "translation"]
    assert builder.skipped["translation identical to its source"] == 1


def _variant(ev: dict, cid: str, *, source: str | None = None, passed: bool = True, ms: float | None = None,
             spread: float = 0.0, method: str = "device-events", **cand) -> dict:
    """A copy of a real evaluation with another candidate id, source, verdict or timing."""
    out = json.loads(json.dumps(ev))
    out["candidate"].update(id=cid, **cand)
    if source is not None:
        out["candidate"]["source"] = source
    out["validation"]["passed"] = passed
    if not passed:
        out["validation"]["detail"] = "case 2: 17 of 257 elements outside tolerance"
    if ms is not None:
        out["score_ms"], out["spread_ms"] = ms, spread
        out["bench"][0].update(method=method, median_ms=ms, spread_ms=spread, device="NVIDIA H100 80GB HBM3")
    return out


def test_repairs_preferences_and_measured_optimizations(runs):
    """The model paths (no model server here): records built from variants of a real evaluation."""
    from portkern.dataset.configs import CONFIGS, config_rows
    from portkern.dataset.records import RecordBuilder, open_run

    run_dir = runs / "tune"
    base = json.loads((run_dir / "results" / "axpy" / "evaluations.json").read_text())[0]
    src = base["candidate"]["source"]
    faster = src.replace("if(tid < n)", "if(tid < n) [[likely]]")
    broken = _variant(base, "axpy/model-optimize-1", source=src.replace("+= alpha *", "= alpha *"), passed=False,
                      origin="model-optimize", prompt="Make it faster", model="m")
    fixed = _variant(base, "axpy/model-repair-2", source=faster, origin="model-repair", parent=broken["candidate"]["id"],
                     prompt="Fix it", model="m", ms=0.040, spread=0.001)
    slow = _variant(base, "axpy/original-0", ms=0.050, spread=0.001)
    close = _variant(base, "axpy/model-optimize-3", source=faster + "// x\n", prompt="Make it faster", model="m",
                     origin="model-optimize", ms=0.0495, spread=0.001)
    est = _variant(base, "axpy/model-optimize-4", source=faster.replace("tid", "t"), prompt="Make it faster", model="m",
                   origin="model-optimize", ms=0.030, spread=0.0, method="estimate")
    builder = RecordBuilder(open_run(run_dir))
    builder.run.kernels["axpy"].update(base_candidate=slow["candidate"]["id"], selected_candidate=fixed["candidate"]["id"])
    recs = builder.for_kernel("axpy", [slow, broken, fixed, close, est], None)
    by_type: dict[str, list[dict]] = {}
    for r in recs:
        validate_record(r)
        r["split"] = "train"
        by_type.setdefault(r["record_type"], []).append(r)
    (rep,) = by_type["repair"]
    assert rep["broken_code"] == broken["candidate"]["source"] and rep["fixed_code"] == faster
    assert rep["error_kind"] == "validation" and "outside tolerance" in rep["error"]
    (opt,) = by_type["optimization"]
    assert opt["timing_kind"] == "measured" and opt["speedup"] == pytest.approx(0.050 / 0.040)
    assert opt["change"]["kind"] == "model-rewrite" and opt["provenance"]["device"] == "NVIDIA H100 80GB HBM3"
    # same prompt: the correct answers beat the broken one (validation is a measurement); between
    # correct ones only device timings further apart than their spreads rank, never an estimate
    prefs = {(p["ranking_basis"], p["chosen"] == faster, p["rejected"]) for p in by_type.get("preference", [])}
    assert ("correctness", False, broken["candidate"]["source"]) in prefs  # close beats broken
    assert all(p["ranking_basis"] == "correctness" for p in by_type["preference"]), prefs
    assert builder.skipped["preference pair without a measured difference"] >= 1
    sft = config_rows(next(c for c in CONFIGS if c.name == "sft"), recs)
    tasks = {row["task"]: row for row in sft}
    assert set(tasks) == {"repair", "optimization"}
    assert "outside tolerance" in tasks["repair"]["messages"][1]["content"]
    assert faster.strip() in tasks["repair"]["messages"][2]["content"]
    assert tasks["optimization"]["timing_kind"] == "measured" and "1.25x" in tasks["optimization"]["evidence"]
    # device timings beyond the noise do rank two correct answers
    quick = _variant(base, "axpy/model-optimize-5", source=faster.replace("tid", "i"), prompt="Make it faster",
                     model="m", origin="model-optimize", ms=0.020, spread=0.001)
    (speed,) = [r for r in builder.for_kernel("axpy", [close, quick], None) if r["record_type"] == "preference"]
    assert speed["ranking_basis"] == "speed" and speed["chosen"] == quick["candidate"]["source"]
    assert speed["margin"] == pytest.approx(0.0495 / 0.020 - 1)


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
    for section in ("## How correctness was judged", "### Candidates", "### Correctness", "### Timing",
                    "### Resources", "## Stages", "## Toolchain", "## axpy", "## dot"):
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
    assert all(p.startswith("hip/") for p in plan.new_files)
    assert {"hip/library.yaml", "hip/Makefile", "hip/src/gelu.hip"} <= set(plan.new_files)
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


def test_pr_git_commits_on_branch(runs, tmp_path, repo_root, capsys, monkeypatch):
    monkeypatch.setenv("GIT_AUTHOR_NAME", "t")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "t@t")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "t")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "t@t")
    checkout = tmp_path / "nn"
    shutil.copytree(repo_root / "libraries" / "nn", checkout)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "pristine"]):
        subprocess.run(cmd, cwd=checkout, check=True)
    rc = main(["pr", str(runs / "port"), "--git", "--checkout", str(checkout), "--json"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert data["branch"] == "portkern/port"
    log = subprocess.run(["git", "log", "-1", "--format=%B"], cwd=data["worktree"], capture_output=True,
                         text=True).stdout
    assert "portkern: port nn kernels to mi300x" in log and "Evidence" in log and "validated on" in log


def test_review_passes_on_honest_run(runs):
    report = review_run(runs / "tune")
    assert report.passed, [c.to_dict() for c in report.failures()]
    claims = {c.claim for c in report.checks}
    assert {"source", "compile", "correct", "time"} <= claims


def test_review_device_needs_the_targets_gpu(runs, capsys):
    """--device asks for measurements; where the target's GPU is absent it says so and exits 3."""
    rc = main(["review", "tune", "--runs-dir", str(runs), "--device"])
    assert rc == 3
    assert "--device: no AMD GPU for mi300x here" in capsys.readouterr().err


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
    for rel, info in manifest["files"].items():
        data = (out / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"]
        if rel.endswith(".jsonl.gz"):
            rows = [json.loads(line) for line in gzip.decompress(data).decode().splitlines()]
            assert len(rows) == info["records"]
    # no family in two splits
    fams = manifest["families"]
    seen: dict[str, str] = {}
    for split, names in fams.items():
        for f in names:
            assert f not in seen, f"family {f} in {seen.get(f)} and {split}"
            seen[f] = split
    raw = [json.loads(line) for rel in manifest["files"] if rel.startswith("raw/")
           for line in gzip.decompress((out / rel).read_bytes()).decode().splitlines()]
    assert len(raw) == manifest["records_out"]
    for r in raw:
        assert r["split"] == next(s for s, names in fams.items() if r["provenance"]["family"] in names)
    assert sum(manifest["counts"]["by_type"].values()) == manifest["records_out"]
    assert set(manifest["counts"]["by_library"]) <= {"blas", "nn"}
    perf = manifest["counts"]["performance"]
    assert perf["predicted"] == manifest["counts"]["by_type"]["performance"] and perf["measured"] == 0
    assert manifest["counts"]["by_config"]["performance"] == 0, "predicted times stay out of the default config"
    assert manifest["counts"]["by_config"]["performance_predicted"] == perf["predicted"]
    assert manifest["counts"]["identity_pairs"] == 0


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


def test_every_config_loads_with_one_call_and_matches_the_card(runs, tmp_path):
    datasets = pytest.importorskip("datasets", reason="Hugging Face datasets is in the dev extra")
    import yaml

    out = tmp_path / "ds"
    manifest = export([runs / "tune", runs / "port"], out)
    card = (out / "README.md").read_text()
    assert card.startswith("---\n")
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["license"] == "mit"
    declared = [c["config_name"] for c in header["configs"]]
    assert "sft" in declared and "performance_predicted" in declared
    assert declared == [n for n, c in manifest["configs"].items() if c["rows"]]
    counts = {i["config_name"]: {s["name"]: s["num_examples"] for s in i["splits"]} for i in header["dataset_info"]}
    total_rows = 0
    for name in declared:
        ds = datasets.load_dataset(str(out), name, cache_dir=str(tmp_path / "hf"))
        assert {split: len(part) for split, part in ds.items()} == counts[name], name
        for part in ds.values():
            for row in part:
                assert all(row["provenance"][k] for k in PROVENANCE), (name, row["provenance"])
                total_rows += 1
    assert total_rows == sum(c["rows"] for c in manifest["configs"].values())
    sft = datasets.load_dataset(str(out), "sft", cache_dir=str(tmp_path / "hf"))
    rows = [r for part in sft.values() for r in part]
    assert rows and all([m["role"] for m in r["messages"]] == ["system", "user", "assistant"] for r in rows)
    for r in rows:
        user, answer = r["messages"][1]["content"], r["messages"][2]["content"]
        assert answer.strip() not in user, "the answer must not be part of the prompt"
    # the card's table of counts says what the data holds
    for name, info in manifest["configs"].items():
        line = next(ln for ln in card.splitlines() if ln.startswith(f"| `{name}`"))
        cells = [c.strip() for c in line.split("|")[2:5]]
        assert cells == [str(info["splits"].get(s, 0)) for s in ("train", "validation", "test")], line


def test_dataset_files_follow_the_umask(runs, tmp_path):
    out = tmp_path / "ds"
    old = os.umask(0o027)
    try:
        import portkern.fsio as fsio

        fsio._UMASK = None  # read the umask afresh
        export([runs / "port"], out)
        modes = {p.relative_to(out).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()}
    finally:
        os.umask(old)
        fsio._UMASK = None
    assert modes and set(modes.values()) == {0o640}, modes
    assert "manifest.json" in modes and "README.md" in modes
    assert stat.S_IMODE((runs / "port" / "emit" / "records.jsonl").stat().st_mode) == 0o666 & ~current_umask()


def test_features_do_not_depend_on_cache_state(runs, tmp_path):
    """A warm-cache run reads compile results back with sorted keys; the features must not change."""
    cache = runs.parent / "cache"
    port(PortOptions(library="blas", target="mi300x", kernels=["dot"], budget=2, run_id="tune-warm",
                     runs_dir=str(tmp_path / "runs"), cache_dir=str(cache)))

    def features(run_dir):
        return sorted((r["provenance"]["kernel"], json.dumps(r["params"], sort_keys=True),
                       json.dumps(r["features"], sort_keys=True))
                      for r in build_run_records(run_dir) if r["record_type"] == "performance")

    cold = [f for f in features(runs / "tune") if f[0] == "dot"]
    warm = features(tmp_path / "runs" / "tune-warm")
    assert cold and warm == cold


def test_primary_report_follows_the_entry_order_not_the_mapping_order():
    from portkern.pipeline.stages import _primary_report

    # the first launch sorts after the second one, as dot_kernel_part1 after blas_reduction_kernel_part2
    entries = ["dot_part1<float>", "blas_part2<float>"]
    resources = {"_Z9blas_part2f": {"registers": 13, "shared_bytes": 256},
                 "_Z9dot_part1f": {"registers": 10, "shared_bytes": 64}}
    cold = {"options": {"entries": entries},
            "entry_map": {"dot_part1<float>": "_Z9dot_part1f", "blas_part2<float>": "_Z9blas_part2f"}}
    warm = json.loads(json.dumps(cold, sort_keys=True))  # what the stage cache hands back
    assert next(iter(warm["entry_map"])) == "blas_part2<float>"
    assert _primary_report(cold, resources) == _primary_report(warm, resources) == resources["_Z9dot_part1f"]


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
    header_diff = patch.split("diff --git a/include/tune_sizes.hpp")[1].split("diff --git")[0]
    changed = [ln for ln in header_diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
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
    assert len(opt) == 1 and opt[0]["speedup"] - opt[0]["speedup_spread"] > 1 and opt[0]["method"] == "estimate"
    assert opt[0]["timing_kind"] == "predicted"
    assert opt[0]["before_params"] == {"NB": 64} and opt[0]["after_params"] == {"NB": 256}
    assert opt[0]["change"]["kind"] == "parameters" and opt[0]["change"]["description"] == "NB 64 -> 256"
    # a predicted speedup is data, but no conversation teaches it as a fact
    from portkern.dataset.configs import CONFIGS, config_rows

    opt[0]["split"] = "train"
    assert config_rows(next(c for c in CONFIGS if c.name == "sft"), opt) == []
    assert len(config_rows(next(c for c in CONFIGS if c.name == "optimization"), opt)) == 1
    report = review_run(run_dir)
    assert report.passed, [c.to_dict() for c in report.failures()]
    assert any(c.claim == "improvement" and c.holds for c in report.checks)
