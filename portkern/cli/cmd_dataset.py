from __future__ import annotations

from pathlib import Path

import click

from portkern.cli.output import console, emit_json, json_option, table
from portkern.errors import ConfigError


@click.group("dataset")
def command() -> None:
    """Fine-tuning data: export verified records from runs, run the nightly job."""


def _run_dirs(runs_dir: Path, runs: tuple[str, ...]) -> list[Path]:
    if runs:
        out = []
        for r in runs:
            p = Path(r) if Path(r).is_dir() else runs_dir / r
            if not p.is_dir():
                raise ConfigError(f"run '{r}' not found (looked in {runs_dir})", hint="see `portkern runs`")
            out.append(p)
        return out
    found = sorted(p for p in runs_dir.iterdir() if p.is_dir() and (p / "inputs").exists()) if runs_dir.exists() else []
    if not found:
        raise ConfigError(f"no runs in {runs_dir}", hint="run `portkern port --lib blas --target mi300x` first")
    return found


@command.command("export")
@click.option("--runs", "runs", multiple=True, help="Run ids or run folders (default: every run in --runs-dir).")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder for shards and manifest.")
@click.option("--guard", default=None, help="Contamination list (default: datasets/contamination.yaml).")
@click.option("--shard-size", default=2000, show_default=True, type=click.IntRange(min=1),
              help="Rows per parquet file.")
@json_option
def export_cmd(runs, runs_dir, out, guard, shard_size, as_json) -> None:
    """Export a Hugging Face dataset: parquet configs (sft, preference, performance, repair, ...) split by
    kernel family, a dataset card, raw records and a manifest (deduplicated, public benchmarks kept out)."""
    from portkern.dataset.export import export

    manifest = export(_run_dirs(runs_dir, runs), out, guard_path=guard, shard_size=shard_size)
    if as_json:
        emit_json(manifest)
        return
    c = manifest["counts"]
    table(f"dataset written to {out}", ["what", "count"],
          [["records in", manifest["records_in"]], ["records out", manifest["records_out"]],
           ["exact duplicates dropped", manifest["dedup"]["exact_duplicates"]],
           ["near duplicates dropped", manifest["dedup"]["near_duplicates"]],
           ["contamination dropped", len(manifest["contamination"]["dropped"])],
           ["identity pairs", c["identity_pairs"]],
           ["performance measured / predicted", f"{c['performance']['measured']} / {c['performance']['predicted']}"],
           *[[f"config {k}", v] for k, v in c["by_config"].items()],
           *[[f"split {k}", v] for k, v in sorted(c["by_split"].items())],
           ["files", len(manifest["files"])]])
    console.print(f"load with: datasets.load_dataset({str(out)!r}, \"sft\")")


@command.command("nightly")
@click.option("--config", "config_path", default="datasets/nightly.yaml", show_default=True)
@click.option("--date", default=None, help="Override the date of the run ids (YYYY-MM-DD).")
@json_option
def nightly_cmd(config_path, date, as_json) -> None:
    """Run every library x target x strategy of the nightly config through the pipeline (resumable,
    incremental), then export a dated dataset folder with a summary."""
    from portkern.dataset.nightly import NightlyConfig, run_nightly

    cfg = NightlyConfig.load(config_path)
    summary = run_nightly(cfg, date=date, progress=(lambda m: None) if as_json else console.print)
    if as_json:
        emit_json(summary)
        return
    table("nightly summary", ["what", "value"],
          [["runs", len(summary["runs"])], ["failed runs", len(summary["failures"])],
           *[[f"records {k}", v] for k, v in sorted(summary["records"].items())],
           *[[f"config {k}", v] for k, v in summary["configs"].items()],
           ["performance measured / predicted",
            f"{summary['performance']['measured']} / {summary['performance']['predicted']}"],
           ["duplicates removed (exact / near)",
            f"{summary['duplicates']['exact']} / {summary['duplicates']['near']}"],
           ["contamination hits", summary["contamination_hits"]], ["identity pairs", summary["identity_pairs"]],
           ["pass rate", f"{summary['pass_rate']:.2%}" if summary.get("pass_rate") is not None else "n/a"],
           ["model calls", summary.get("model_calls", 0)], ["GPU seconds", f"{summary.get('gpu_seconds', 0):.1f}"],
           ["written to", summary["out_dir"]]])
    if summary["families"]:
        types = sorted({t for counts in summary["families"].values() for t in counts})
        table("records per family", ["family", *types],
              [[fam, *[counts.get(t, 0) for t in types]] for fam, counts in summary["families"].items()])
