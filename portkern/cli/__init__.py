"""The ``portkern`` command line.

Commands live one per module, ``portkern/cli/cmd_<name>.py``, each exporting ``command`` (a click
command or group); the list comes from the files, so adding a command touches nothing here.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import pkgutil
import sys

import click

from portkern import __version__
from portkern.errors import PortkernError


class _Group(click.Group):
    def list_commands(self, ctx):
        return sorted(self._discover())

    def get_command(self, ctx, name):
        # import only the module the command lives in (cmd_<name>.py), so `portkern translate` does not
        # pay for the imports of every other command; fall back to discovering them all
        module_name = "cmd_" + name.replace("-", "_")
        if module_name.isidentifier() and importlib.util.find_spec(f"portkern.cli.{module_name}") is not None:
            cmd = getattr(importlib.import_module(f"portkern.cli.{module_name}"), "command", None)
            if cmd is not None and cmd.name == name:
                return cmd
        return self._discover().get(name)

    def _discover(self):
        if not hasattr(self, "_found"):
            found = {}
            pkg = importlib.import_module("portkern.cli")
            for mod in pkgutil.iter_modules(pkg.__path__):
                if mod.name.startswith("cmd_"):
                    module = importlib.import_module(f"portkern.cli.{mod.name}")
                    cmd = getattr(module, "command", None)
                    if cmd is not None:
                        found[cmd.name] = cmd
            self._found = found
        return self._found


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="portkern")
def cli():
    """portkern: port HIP/CUDA library kernels across vendors, prove them correct, tune them,
    and emit the evidence (patch, report) and fine-tuning data.

    \b
    Typical use:
      portkern targets                      # the GPUs portkern knows
      portkern doctor                       # what this machine can do, stage by stage
      portkern port --lib blas --target mi300x
    """


def _json_error(exc: Exception, kind: str) -> None:
    """With --json, an error is JSON on stdout too, so a program reading it gets one format."""
    click.echo(json.dumps({"error": {"kind": kind, "cause": getattr(exc, "cause", "usage"),
                                     "message": exc.format_message() if isinstance(exc, click.ClickException)
                                     else (getattr(exc, "message", None) or str(exc)),
                                     "hint": getattr(exc, "hint", None)}}, indent=2, sort_keys=True))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    try:
        rc = cli.main(args=argv, prog_name="portkern", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        if as_json:
            _json_error(exc, "usage")
        else:
            exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except PortkernError as exc:
        if as_json:
            _json_error(exc, type(exc).__name__)
        else:
            click.echo(f"error: {exc}", err=True)
        return 2
    # with standalone_mode off, click returns the code of a `click.exceptions.Exit` raised by a command
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
