"""Build portkern's wheel from a private copy of the source tree.

setuptools writes ``build/`` inside the tree it builds, so two builds of the checkout at once (two test
workers) delete each other's files. Each build here copies the files a wheel is made of into its own
folder first; the checkout is never written to.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_TOP_FILES = ("pyproject.toml", "setup.py", "README.md")
_TOP_DIRS = ("portkern", "backends")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


def build_wheel(work: Path) -> Path:
    """Copy the sources under ``work/src``, build the wheel into ``work/dist`` and return its path."""
    src = work / "src"
    src.mkdir(parents=True)
    for name in _TOP_FILES:
        shutil.copy2(REPO / name, src / name)
    for name in _TOP_DIRS:
        shutil.copytree(REPO / name, src / name, ignore=_ignore)
    dist = work / "dist"
    build = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(src)],
                           capture_output=True, text=True, cwd=work, timeout=600)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    wheels = list(dist.glob("portkern-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _ignore(folder: str, names: list[str]) -> set[str]:
    """Caches, metadata, and a checkout's optional ``portkern/backends`` link (setup.py maps the real folder)."""
    skipped = set(_IGNORE(folder, names))
    return skipped | {n for n in names if (Path(folder) / n).is_symlink()}
