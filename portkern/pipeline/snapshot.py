"""The run folder's own copy of the library inputs (``inputs/library/``).

The patch is made against this copy, so it applies to the tree the run read, wherever the library
lives and whatever happens to it after the run. Only what the library's manifest names is copied:
the manifest, its source globs, its include folders and the headers anywhere in it, each kernel's
file and its reference modules, and the licence. Paths that climb out of the library (``../blas/include``) keep their place
relative to the copy, as long as they stay inside ``inputs/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from portkern.library import LibrarySpec

SNAPSHOT_DIR = "inputs/library"
LICENSE_NAMES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING")
HEADER_EXTS = (".h", ".hpp", ".cuh", ".hxx", ".inl")


def library_input_files(library: LibrarySpec) -> list[str]:
    """Paths (relative to the library root, '/'-separated, may start with '../') of the inputs."""
    root = Path(library.root).resolve()
    found: set[Path] = {root / "library.yaml"}
    for pattern in library.sources:
        found.update(p for p in root.glob(pattern) if p.is_file())
    for inc in library.include_dirs:
        folder = (root / inc).resolve()
        if folder.is_dir():
            found.update(p for p in folder.rglob("*") if p.is_file() and not _hidden(p, folder))
    # headers anywhere in the library may hold what the sources include (ingest reads them too)
    for ext in HEADER_EXTS:
        found.update(p for p in root.rglob(f"*{ext}") if p.is_file() and not _hidden(p, root))
    for kernel in library.kernels:
        found.add(root / kernel.file)
        if kernel.reference:
            found.add(root / kernel.reference.partition(":")[0])
    found.update(root / n for n in LICENSE_NAMES)
    return sorted({os.path.relpath(p, root).replace(os.sep, "/") for p in found if p.is_file()})


def _hidden(path: Path, under: Path) -> bool:
    return any(part.startswith(".") or part == "__pycache__" for part in path.relative_to(under).parts)


def snapshot_library(library: LibrarySpec, run_dir: str | Path) -> Path:
    """Copy the library inputs into ``<run_dir>/inputs/library``; returns that folder."""
    dest = Path(run_dir) / SNAPSHOT_DIR
    inputs = dest.parent.resolve()
    root = Path(library.root)
    for rel in library_input_files(library):
        target = Path(os.path.normpath(dest / rel))
        if not target.resolve().is_relative_to(inputs):
            continue  # climbs out of inputs/: the run cannot hold it
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, target)  # copyfile: new files get the user's umask
    return dest
