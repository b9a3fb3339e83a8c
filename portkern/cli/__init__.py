"""The ``portkern`` command line.

Commands live one per module, ``portkern/cli/cmd_<name>.py``, each exporting ``command`` (a click
command or group); the list comes from the files, so adding a command touches nothing here.

Exit codes: 0 success; 1 a command's own verdict (e.g. ``review`` found a failed claim); 2 usage
error (unknown option, bad value); 3 input error (config, manifest, target, files that cannot be
read or written); 4 a stage failed (compile, launch, translate, ...); 70 an internal error (a bug:
the message says how to get the traceback); 130 interrupted. No path prints a traceback unless
PORTKERN_DEBUG=1.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import pkgutil
import sys
import traceback

import click

from portkern import __version__
from portkern.errors import ConfigError, ParseError, PortkernError, ToolMissingError

EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_STAGE = 4
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
# Errors about what the user gave (or what this machine lacks), as opposed to a stage that failed.
INPUT_ERRORS = (ConfigError, ParseError, ToolMissingError)


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


def _json_error(exc: Exception, kind: str, exit_code: int) -> None:
    """With --json, an error is JSON on stdout too, so a program reading it gets one format."""
    message = exc.format_message() if isinstance(exc, click.ClickException) else (getattr(exc, "message", None)
                                                                                  or str(exc))
    try:
        click.echo(json.dumps({"error": {"kind": kind, "cause": getattr(exc, "cause", "usage"), "message": message,
                                         "hint": getattr(exc, "hint", None), "exit_code": exit_code}},
                              indent=2, sort_keys=True))
    except (OSError, ValueError):  # stdout closed or broken: the exit code still tells
        pass


def _say(text: str) -> None:
    try:
        click.echo(text.encode("utf-8", "replace").decode("utf-8"), err=True)
    except (OSError, ValueError):  # stderr closed or broken: the exit code still tells
        pass


def _fail(exc: Exception, as_json: bool, kind: str, text: str, exit_code: int) -> int:
    if as_json:
        _json_error(exc, kind, exit_code)
    else:
        _say(text)
    return exit_code


def _show(exc: click.ClickException, as_json: bool, kind: str, exit_code: int) -> int:
    if as_json:
        _json_error(exc, kind, exit_code)
        return exit_code
    try:
        exc.show()
    except (OSError, ValueError):
        pass
    return exit_code


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    try:
        rc = cli.main(args=argv, prog_name="portkern", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        return _show(exc, as_json, "usage", EXIT_USAGE)
    except click.ClickException as exc:
        return _show(exc, as_json, "usage", exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        return _fail(exc, as_json, "interrupted", "aborted", EXIT_INTERRUPTED)
    except INPUT_ERRORS as exc:
        return _fail(exc, as_json, type(exc).__name__, f"error: {exc}", EXIT_INPUT)
    except PortkernError as exc:
        return _fail(exc, as_json, type(exc).__name__, f"error: {exc}", EXIT_STAGE)
    except UnicodeError as exc:
        return _fail(exc, as_json, "input", f"error: an input is not valid text ({exc.__class__.__name__}: "
                     f"{str(exc)[:200]})\n  hint: save sources and manifests as UTF-8", EXIT_INPUT)
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        return _fail(exc, as_json, "input", f"error: cannot use{where}: {exc.strerror or exc}\n"
                     "  hint: check the path exists, is the right kind (file or folder), is writable, and its "
                     "name is not too long", EXIT_INPUT)
    except RecursionError as exc:
        return _fail(exc, as_json, "input", "error: an input is nested too deeply to process", EXIT_INPUT)
    except Exception as exc:  # a bug: say so without a traceback unless asked
        if os.environ.get("PORTKERN_DEBUG") == "1":
            traceback.print_exc()
        return _fail(exc, as_json, "internal", f"internal error: {type(exc).__name__}: {str(exc)[:300]}\n"
                     "  hint: this is a bug in portkern; run again with PORTKERN_DEBUG=1 for the traceback and "
                     "report it", EXIT_INTERNAL)
    # with standalone_mode off, click returns the code of a `click.exceptions.Exit` raised by a command
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
