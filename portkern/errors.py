"""One typed error hierarchy. Every message names the input at fault and what to do."""

from __future__ import annotations


class PortkernError(Exception):
    """Base of every error portkern raises on purpose."""

    #: short machine-readable cause used in run summaries ("compile", "mismatch", ...)
    cause = "error"

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message}\n  hint: {hint}")


class ConfigError(PortkernError):
    """Malformed portkern.yaml, bad environment variable, unknown target or library."""

    cause = "config"


class ManifestError(ConfigError):
    """A library.yaml that does not follow the schema. Names file, kernel and field."""

    cause = "manifest"

    def __init__(self, file: str, message: str, *, kernel: str | None = None, field: str | None = None,
                 hint: str | None = None):
        self.file = file
        self.kernel = kernel
        self.field = field
        where = file
        if kernel:
            where += f": kernel '{kernel}'"
        if field:
            where += f": field '{field}'"
        super().__init__(f"{where}: {message}", hint=hint)


class ToolMissingError(PortkernError):
    """A compiler, runtime or service the stage needs is not present."""

    cause = "tool-missing"

    def __init__(self, tool: str, blocks: str, how_to_get: str):
        self.tool = tool
        self.blocks = blocks
        self.how_to_get = how_to_get
        super().__init__(f"{tool} not found: it is needed for {blocks}", hint=how_to_get)


class ParseError(PortkernError):
    cause = "parse"


class TranslateError(PortkernError):
    cause = "translate"


class CompileError(PortkernError):
    """The compiler rejected the source. Carries the compiler's full log."""

    cause = "compile"

    def __init__(self, message: str, *, log: str = "", command: list[str] | None = None,
                 hint: str | None = None):
        self.log = log
        self.command = command or []
        super().__init__(f"{message}\n{log.strip()}" if log else message, hint=hint)


class LoadError(PortkernError):
    cause = "load"


class LaunchError(PortkernError):
    cause = "launch"


class KernelTimeoutError(PortkernError):
    """A kernel (or the worker running it) ran past its time limit."""

    cause = "timeout"


class WorkerCrashError(PortkernError):
    """The worker process running device code died (segfault, sanitizer abort, ...)."""

    cause = "crash"


class ModelError(PortkernError):
    """The model server failed or its reply was rejected."""

    cause = "model"


class StoreError(PortkernError):
    cause = "store"
