"""Output helpers shared by commands: a rich table for people, JSON for programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table

# When piped (CI logs, files) rich would wrap to 80 columns and cut cells; use a wide page instead.
_WIDTH = None if sys.stdout.isatty() else 180
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of a table.")


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title, header_style="bold")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    console.print(t)
