"""One run id, one process: an exclusive lock on ``<runs_dir>/.locks/<run id>.lock``.

Two ``port`` commands given the same ``--run-id`` would both append timing rows to the same run;
the second one now stops at once and says which process holds the run. The lock is an advisory
``flock`` on a file, so it is released when the holder exits, even when it is killed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from portkern.errors import ConfigError


class RunLockedError(ConfigError):
    cause = "run-locked"


@contextlib.contextmanager
def run_lock(runs_dir: str | Path, run_id: str) -> Iterator[Path]:
    """Hold the lock of ``run_id`` for the ``with`` block; RunLockedError when another process has it."""
    folder = Path(runs_dir) / ".locks"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the lock folder {folder}: {exc.strerror or exc}",
                          hint="--runs-dir must be a folder you can write (not a file)") from None
    path = folder / f"{run_id}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise ConfigError(f"cannot open the lock file {path}: {exc.strerror or exc}",
                          hint="pick a shorter --run-id or a writable --runs-dir") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise RunLockedError(f"run '{run_id}' is already running (held by pid {holder})",
                                 hint="wait for it to finish, or pick another --run-id") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock
