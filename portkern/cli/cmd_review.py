from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from portkern.cli.cmd_pr import resolve_run
from portkern.cli.output import console, emit_json, json_option, table


@click.command("review")
@click.argument("run")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(path_type=Path))
@json_option
def command(run, runs_dir, as_json) -> None:
    """Re-check RUN's claims: rebuild every claimed candidate, re-validate it on fresh seeds and
    sizes, re-time it (on a device where present, else re-estimate), and exit 1 naming every claim
    that does not hold."""
    from portkern.emit.review import review_run

    run_dir = resolve_run(run, runs_dir)
    report = review_run(run_dir, progress=None if as_json else (lambda m: console.print(f"[dim]{escape(m)}[/]")))
    if as_json:
        emit_json({**report.to_dict(), "passed": report.passed})
    else:
        table(f"review of {report.run_id} (timing: {report.retimed_on})", ["kernel", "candidate", "claim", "holds", "detail"],
              [[c.kernel, c.candidate, c.claim, "[green]yes[/]" if c.holds else "[red]NO[/]", escape(c.detail)]
               for c in report.checks])
        if report.passed:
            console.print(f"[green]every claim of {report.run_id} holds ({len(report.checks)} checked)[/]")
        else:
            for c in report.failures() or []:
                console.print(f"[red]claim does not hold:[/] {c.kernel} {c.candidate} {c.claim}: {escape(c.detail)}")
            if not report.checks:
                console.print("[red]the run claims nothing that could be checked[/]")
    if not report.passed:
        raise click.exceptions.Exit(1)
