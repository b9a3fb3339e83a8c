"""The run folder's own copy of the library inputs (``inputs/library/``).

The patch is made against this copy, so it applies to the tree the run read, wherever the library
lives and whatever happens to it after the run. Only what the library's manifest names is copied:
the manifest, its source globs, its include folders and the headers anywhere in it, each kernel's
file and its reference modules, and the licence. Paths that climb out of the library (``../blas/include``) keep their place
relative to the copy, as long as they stay inside ``inputs/``.
"""

from __future__ import annotations

import json
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


MANIFEST_NOTE = "inputs/manifest.json"


def snapshot_library(library: LibrarySpec, run_dir: str | Path) -> Path:
    """Copy the library inputs into ``<run_dir>/inputs/library``; returns that folder. A manifest kept
    outside the tree it describes (``manifest_dir``) comes with its folder as ``inputs/manifest``, and
    ``inputs/manifest.json`` says so: the run's copy then loads alone."""
    dest = Path(run_dir) / SNAPSHOT_DIR
    inputs = dest.parent.resolve()
    root = Path(library.root)
    for rel in library_input_files(library):
        target = Path(os.path.normpath(dest / rel))
        if not target.resolve().is_relative_to(inputs):
            continue  # climbs out of inputs/: the run cannot hold it
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, target)  # copyfile: new files get the user's umask
    if library.manifest_dir:
        # the manifest's own folder (manifest, reference modules, generated headers) as inputs/manifest
        copy = inputs / "manifest"
        shutil.copytree(library.manifest_dir, copy, copy_function=shutil.copyfile, dirs_exist_ok=True,
                        ignore=lambda _d, names: [n for n in names if n.startswith(".") or n == "__pycache__"])
        (inputs / "manifest.json").write_text(json.dumps({"manifest": "manifest/library.yaml",
                                                          "source_root": SNAPSHOT_DIR.split("/", 1)[1]}) + "\n")
    return dest


def snapshot_manifest(run_dir: str | Path) -> tuple[Path, Path | None] | None:
    """(manifest, source root or None) of a run's own copy of the library; None when it has none."""
    run_dir = Path(run_dir)
    note = run_dir / MANIFEST_NOTE
    if note.is_file():
        data = json.loads(note.read_text())
        return run_dir / "inputs" / data["manifest"], run_dir / "inputs" / data["source_root"]
    own = run_dir / SNAPSHOT_DIR / "library.yaml"
    return (own, None) if own.is_file() else None
