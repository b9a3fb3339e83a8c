"""Atomic file writes that honour the user's umask (or keep an existing file's mode).

Every writer in portkern goes through here: the data lands in a temporary file beside the target and
is renamed over it, so a reader never sees a torn file and a killed process leaves the old content.
``tempfile.mkstemp`` creates files 0600 whatever the umask; these helpers set the mode a plain
``open()`` would have given (or the mode of the file being replaced).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_UMASK: int | None = None


def current_umask() -> int:
    """The process umask (read once; reading it means setting it, so do it only once)."""
    global _UMASK
    if _UMASK is None:
        mask = os.umask(0o022)
        os.umask(mask)
        _UMASK = mask
    return _UMASK


def default_mode(executable: bool = False) -> int:
    return (0o777 if executable else 0o666) & ~current_umask()


def write_bytes(path: str | Path, data: bytes, *, mode: int | None = None, keep_mode: bool = True,
                fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically.

    The file's mode is ``mode`` when given, else the existing file's mode when ``keep_mode`` and the
    file exists, else what the umask allows (0666 & ~umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = default_mode()
        if keep_mode:
            try:
                mode = path.stat().st_mode & 0o7777
            except FileNotFoundError:
                pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:64]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def write_text(path: str | Path, text: str, *, encoding: str = "utf-8", **kwargs) -> Path:
    return write_bytes(path, text.encode(encoding, errors="surrogatepass"), **kwargs)
