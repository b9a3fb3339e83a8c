"""Output helpers shared by commands: a rich table for people, JSON for programs."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from portkern.errors import CompileError

# When piped (CI logs, files) rich would wrap to 80 columns and cut cells; use a wide page instead.
_WIDTH = None if sys.stdout.isatty() else 180
# No automatic highlighting: it colours the digits inside names such as mi300x or gfx942.
console = Console(width=_WIDTH, highlight=False)
err_console = Console(stderr=True, width=_WIDTH, highlight=False)

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


_TEMP_UNIT = re.compile(r"\S*portkern-compile-[^/\s]+/[^:\s]+")
_MISSING_HEADER = re.compile(r"fatal error: '([^']+)' file not found")


def header_package(header: str) -> str:
    """Where a missing header comes from ("" when portkern does not know)."""
    from importlib import resources

    import yaml

    table = yaml.safe_load(resources.files("portkern.data").joinpath("header_packages.yaml").read_text()) or {}
    key = header if header in table else next((k for k in table if k.endswith("/") and header.startswith(k)), None)
    if key is None:
        return ""
    return " or ".join(f"{where} package {pkg}" if where != "cuda" else pkg for where, pkg in table[key].items())


def user_compile_error(exc: CompileError, user_file: str | Path) -> CompileError:
    """The compiler's error as the user should see it: their file named (not the temporary copy the
    compiler read), the first error said once, and the package that provides a missing header."""
    log = _TEMP_UNIT.sub(str(user_file), exc.log)
    head = exc.message.split("\n", 1)[0]
    head = re.sub(r"\): .*$", ")", head)  # the log that follows carries the error line itself
    missing = list(dict.fromkeys(_MISSING_HEADER.findall(log)))
    hints = []
    for header in missing:
        pkg = header_package(header)
        hints.append(f"'{header}' is not installed" + (f": install {pkg}" if pkg else "")
                     + ", or pass its folder with -I")
    hint = "; ".join(hints) or exc.hint
    return CompileError(f"{user_file}: {head}", log=log, command=exc.command, hint=hint)
