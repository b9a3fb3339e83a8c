from __future__ import annotations

import contextlib
import os

import click

from portkern.cli.output import console, emit_json
from portkern.pipeline.run import PortOptions, port
from portkern.search import STRATEGIES, strategy_names


def _kernel_list(value: str | None) -> list[str]:
    names = [k.strip() for k in (value or "").split(",") if k.strip()]
    if value and value.strip() and not names:
        raise click.BadParameter(f"{value!r} names no kernel; give comma-separated names or leave it out",
                                 param_hint="--kernels")
    return names


@click.command("port")
@click.option("--lib", "library", required=True, help="Library name (libraries/<name>) or path to a library.yaml.")
@click.option("--target", required=True, help="Target GPU name (see `portkern targets`).")
@click.option("--kernels", default="", help="Comma-separated kernel names (default: every kernel).")
@click.option("--budget", default=8, show_default=True, type=click.IntRange(0, 10_000),
              help="Candidates to try per kernel beyond the ported original.")
@click.option("--strategy", default="sweep", show_default=True, type=click.Choice(strategy_names()),
              help="Search strategy: " + ", ".join(f"{n} (uses the model server)" if STRATEGIES[n].needs_model else n
                                                   for n in strategy_names()) + ".")
@click.option("--executor", default="local", show_default=True, type=click.Choice(["local", "ray"]))
@click.option("--ray-address", default="", help="Address of a running Ray cluster (default: start a local one).")
@click.option("--run-id", default="", help="Name of the run folder; reuse one to resume a killed run.")
@click.option("--runs-dir", default="", help="Where run folders and index.sqlite go (default: config runs_dir).")
@click.option("--cache-dir", default="", help="Cache folder for stages and compilers (default: config cache_dir).")
@click.option("--jobs", "max_workers", default=0, type=click.IntRange(0, 1024),
              help="Parallel CPU stages for the local executor (default: number of cores).")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
def command(library, target, kernels, budget, strategy, executor, ray_address, run_id, runs_dir, cache_dir,
            max_workers, as_json):
    """Port and tune a library's kernels for a target: ingest, translate, compile, validate, time,
    sweep the tunables, select, and write the run folder, store rows, patch, report and dataset."""
    from portkern.pipeline.progress import NullProgress, RichProgress

    if cache_dir:
        # Flags outrank the environment in portkern's configuration; the compilers read it from there.
        os.environ["PORTKERN_CACHE_DIR"] = cache_dir

    options = PortOptions(library=library, target=target, kernels=_kernel_list(kernels), budget=budget,
                          strategy=strategy, executor=executor, ray_address=ray_address, run_id=run_id,
                          runs_dir=runs_dir, cache_dir=cache_dir, max_workers=max_workers)
    progress = NullProgress() if as_json else RichProgress(f"port {library} -> {target}")
    from portkern.config import load_config
    from portkern.runlock import run_lock

    if run_id and len(run_id) > 128:
        raise click.BadParameter(f"is {len(run_id)} characters; at most 128", param_hint="--run-id")
    if run_id and (any(c in run_id for c in "/\\\0") or run_id.startswith(".")):
        raise click.BadParameter(f"{run_id!r} is not a plain folder name", param_hint="--run-id")
    with run_lock(runs_dir or load_config()["runs_dir"], run_id) if run_id else contextlib.nullcontext():
        summary = port(options, progress=progress)
    if as_json:
        emit_json(summary)
        return
    print_summary(summary)


def print_summary(s: dict) -> None:
    from portkern.emit.summary_text import summary_lines

    for line in summary_lines(s):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
