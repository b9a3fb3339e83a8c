"""Running compilers as subprocesses, finding them, and naming them for the cache."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass
class ToolRun:
    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def log(self) -> str:
        return (self.stdout + ("\n" if self.stdout and self.stderr else "") + self.stderr).strip()


def run_tool(command: list[str], *, cwd: str | Path | None = None, timeout_s: float = 600.0,
             stdin_text: str | None = None, env: dict[str, str] | None = None) -> ToolRun:
    """Run one tool to completion; never raises on a non-zero exit (callers decide)."""
    from portkern.sandbox import compiler_limits

    # Compilers build candidate source: CPU time, memory and file size are limited.
    limited, preexec = compiler_limits(timeout_s).wrap(command)
    start = time.perf_counter()
    proc = subprocess.run(limited, cwd=cwd, input=stdin_text, capture_output=True, text=True,
                          timeout=timeout_s, env=env, errors="replace", preexec_fn=preexec)
    return ToolRun(command, proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start)


def find_tool(names: list[str], override: str = "") -> str | None:
    """The first of ``names`` found on PATH, or ``override`` (a path or a name) when given."""
    if override:
        if os.sep in override:
            return override if os.access(override, os.X_OK) else None
        return shutil.which(override)
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def compiler_identity(path: str) -> str | None:
    """``path`` plus a hash of its ``--version`` output, or None when it cannot be determined.

    A compiler that will not say its version cannot key a cache entry, so None means "do not cache".
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _identity(os.path.realpath(path), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=32)
def _identity(real_path: str, mtime_ns: int, size: int) -> str | None:
    try:
        run = run_tool([real_path, "--version"], timeout_s=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (run.stdout + run.stderr).strip()
    if run.returncode != 0 or not text:
        return None
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    first = next((line for line in text.splitlines() if "version" in line.lower() or "release" in line.lower()),
                 text.splitlines()[0])
    return f"{real_path} ({first.strip()}; sha256:{digest})"
