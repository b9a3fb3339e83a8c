from __future__ import annotations

import textwrap
from pathlib import Path

import click
from rich.markup import escape

from portkern.cli.cmd_pr import resolve_run
from portkern.cli.output import console, emit_json, err_console, json_option


@click.command("review")
@click.argument("run")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(path_type=Path))
@click.option("--device", "require_device", is_flag=True,
              help="Time on the target's GPU and fail if there is none (a predicted claim must then fall in "
                   "its predicted interval, and a predicted gain must hold when measured).")
@json_option
def command(run, runs_dir, require_device, as_json) -> None:
    """Re-check RUN's claims: rebuild every claimed candidate, re-validate it on fresh seeds and
    sizes, re-time it (on a device where present, else re-predict), and exit 1 naming every claim
    that does not hold."""
    from portkern.emit.review import review_run

    run_dir = resolve_run(run, runs_dir)
    report = review_run(run_dir, require_device=require_device, progress=None if as_json else
                        (lambda m: err_console.print(escape(m), style="dim", highlight=False)))
    if as_json:
        emit_json({**report.to_dict(), "passed": report.passed})
    else:
        console.print(f"review of {report.run_id} (timing: {report.retimed_on})", markup=False)
        for c in report.checks:
            mark = "[green]holds[/]" if c.holds else "[red]FAILS[/]"
            head = f"{c.kernel} {c.candidate.split('/', 1)[-1]} {c.claim}: "
            text = textwrap.fill(head + c.detail, width=72, subsequent_indent="        ", break_long_words=False,
                                 break_on_hyphens=False)
            console.print(f"  {mark} {escape(text)}", soft_wrap=True)
        held = sum(c.holds for c in report.checks)
        if not report.checks:
            console.print("[red]the run claims nothing that could be checked[/]")
        elif report.passed:
            console.print(f"[green]every claim of {report.run_id} holds ({held} checked)[/]")
        else:
            console.print(f"[red]{len(report.checks) - held} of {len(report.checks)} claims do not hold[/]")
    if not report.passed:
        raise click.exceptions.Exit(1)
