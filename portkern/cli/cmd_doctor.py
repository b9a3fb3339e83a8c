from __future__ import annotations

import click
from rich.markup import escape

from portkern.cli.output import console, emit_json, json_option, table
from portkern.doctor import run_checks


@click.command("doctor")
@json_option
def command(as_json: bool) -> None:
    """Check what this machine has for each stage (compilers, HIP headers, GPUs, model servers, Ray)
    and say, for every missing piece, what it blocks and how to get it. Exits 0 once it could check."""
    checks = run_checks()
    if as_json:
        emit_json([c.to_dict() for c in checks])
        return
    table("portkern doctor", ["check", "status", "found"],
          [[escape(c.name), "[green]ok[/]" if c.ok else "[yellow]missing[/]", escape(c.detail)] for c in checks])
    for c in checks:
        if not c.ok:
            console.print(f"[yellow]•[/] {escape(c.name)}: blocks {escape(c.blocks or 'nothing essential')} — {escape(c.fix)}")
