"""What the compile, validate and bench stages derive from a kernel's spec alone."""

from __future__ import annotations

from pathlib import Path

from portkern.library import KernelSpec, LibrarySpec


def include_dirs(library: LibrarySpec, kernel: KernelSpec) -> list[str]:
    """The library's include folders, plus the kernel file's own folder for its quoted includes."""
    root = Path(library.root)
    dirs = [str((root / d).resolve()) for d in library.include_dirs]
    dirs += [str((root / kernel.file).parent.resolve()), str(root.resolve())]
    return list(dict.fromkeys(dirs))


def primary_dtype(kernel: KernelSpec) -> str:
    return "float32" if "float32" in kernel.dtypes else kernel.dtypes[0]
