"""The nightly dataset job: config errors, a real small run, incremental re-run."""

from __future__ import annotations

import json

import pytest

from portkern.dataset.nightly import NightlyConfig, run_nightly
from portkern.errors import ConfigError


@pytest.mark.parametrize("text,needle", [
    ("libraries: [blas]\n", "'targets' is required"),
    ("libraries: [blas]\ntargets: [mi300x]\nbudget: lots\n", "'budget' must be int"),
    ("libraries: [blas]\ntargets: [mi300x]\nexecutor: slurm\n", "'executor' must be 'local' or 'ray'"),
    ("libraries: [blas]\ntargets: [mi300x]\nfrequency: daily\n", "unknown field 'frequency'"),
    ("libraries: [blas\n", "not valid YAML"),
    ("libraries: [blas]\ntargets: [mi300x]\nshard_size: 0\n", "'shard_size' must be at least 1"),
])
def test_bad_nightly_config(tmp_path, text, needle):
    f = tmp_path / "nightly.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as exc:
        NightlyConfig.load(f)
    assert needle in str(exc.value) and str(f) in str(exc.value)


def test_shipped_nightly_config_loads(repo_root):
    cfg = NightlyConfig.load(repo_root / "datasets" / "nightly.yaml")
    assert cfg.combos() and all(len(c) == 3 for c in cfg.combos())


@pytest.mark.xdist_group("port-runs")
def test_nightly_runs_and_is_incremental(tmp_path, monkeypatch, capsys):
    """A real small nightly: one CUDA library ported to an AMD target, then the same night again."""
    monkeypatch.setenv("PORTKERN_CACHE_DIR", str(tmp_path / "cache"))
    cfg = NightlyConfig(libraries=["nn"], targets=["mi300x"], strategies=["sweep"], budget=1,
                        runs_dir=str(tmp_path / "runs"), out_dir=str(tmp_path / "out"),
                        kernels={"nn": ["residual_forward"]})
    lines: list[str] = []
    summary = run_nightly(cfg, date="2026-01-02", progress=lines.append)
    assert summary["failures"] == [] and summary["runs"][0]["status"] == "ran"
    out = tmp_path / "out" / "2026-01-02"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["records_out"] == summary["records_out"] > 0
    written = json.loads((out / "summary.json").read_text())
    assert written["candidates"] >= 1 and written == json.loads(json.dumps(summary, sort_keys=True))
    assert summary["pass_rate"] is not None and 0 <= summary["pass_rate"] <= 1
    # what the night reports about the data, each figure from the export
    assert summary["records"]["translation"] == 1 and summary["identity_pairs"] == 0
    # a verified translation is a conversation, an unverified one a hard case; never both, never neither
    assert summary["configs"]["sft"] + summary["configs"]["hard_cases"] == 1 == summary["records"]["translation"]
    assert summary["configs"]["performance"] == 0
    assert summary["performance"] == {"measured": 0, "predicted": summary["records"]["performance"]}
    assert summary["duplicates"] == {"exact": 0, "near": 0} and summary["contamination_hits"] == 0
    assert summary["families"] == {"residual": summary["records"]}
    again = run_nightly(cfg, date="2026-01-02", progress=lines.append)
    assert again["runs"][0]["status"] == "reused", "a finished run is not redone"
    assert any("already done" in line for line in lines)
    assert again["records_out"] == summary["records_out"] and again["configs"] == summary["configs"]
    # the command prints the same figures (the run is reused, so this is quick)
    from portkern.cli import main

    conf = tmp_path / "nightly.yaml"
    conf.write_text(f"libraries: [nn]\ntargets: [mi300x]\nbudget: 1\nruns_dir: {cfg.runs_dir}\n"
                    f"out_dir: {cfg.out_dir}\nkernels: {{nn: [residual_forward]}}\n")
    capsys.readouterr()
    assert main(["dataset", "nightly", "--config", str(conf), "--date", "2026-01-02"]) == 0
    text = capsys.readouterr().out
    for needle in ("config sft", "performance measured / predicted", "contamination hits", "identity pairs",
                   "records per family", "residual"):
        assert needle in text, needle
