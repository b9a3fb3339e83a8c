"""translate_paths: translate files (or folders) together with the project headers they include."""

from __future__ import annotations

import os
import re
from pathlib import Path

from portkern import fsio
from portkern.errors import TranslateError
from portkern.translate.compat import rule_overridable_names
from portkern.translate.engine import translate_with_definitions
from portkern.translate.names import local_definitions
from portkern.translate.records import TranslationResult
from portkern.translate.source import SourceEdit
from portkern.translate.tokens import quoted_includes

SOURCE_SUFFIXES = frozenset({".cu", ".cuh", ".hip", ".h", ".hpp", ".hh", ".cpp", ".cc", ".cxx", ".inl", ".inc"})


def _expand(paths: list[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in SOURCE_SUFFIXES))
        elif p.is_file():
            files.append(p)
        else:
            raise TranslateError(f"{p}: no such file or folder", hint="pass existing source files or folders")
    return files


def _local_includes(path: Path, text: str, include_dirs: list[Path]) -> list[Path]:
    found = []
    for name in quoted_includes(text):
        for base in [path.parent, *include_dirs]:
            candidate = (base / name)
            if candidate.is_file():
                found.append(candidate.resolve())
                break
    return found


def discover(paths: list[str | Path], include_dirs: list[str | Path] = ()) -> list[Path]:
    """The given files plus every project header they include ("..."), transitively."""
    dirs = [Path(d) for d in include_dirs]
    queue = [p.resolve() for p in _expand(paths)]
    seen: dict[Path, None] = {}
    while queue:
        p = queue.pop(0)
        if p in seen:
            continue
        seen[p] = None
        queue.extend(_local_includes(p, p.read_text(errors="replace"), dirs))
    return list(seen)


def translate_paths(paths: list[str | Path], to: str, *, out_dir: str | Path | None = None,
                    in_place: bool = False, launch_syntax: str = "chevron", roc: bool = False,
                    include_dirs: list[str | Path] = (), analyze: bool = True, cuda_version: str = "13.0",
                    rocm_version: str | None = None) -> list[TranslationResult]:
    """Translate files and the project headers they include; write them to ``out_dir`` (keeping their
    layout relative to the common folder of the inputs) or over the inputs with ``in_place``.
    With neither, nothing is written and the results are only returned."""
    if out_dir is not None and in_place:
        raise TranslateError("both an output folder and in-place were asked for", hint="choose one")
    files = discover(paths, include_dirs)
    if not files:
        raise TranslateError(f"no source files under {', '.join(map(str, paths))}",
                             hint=f"expected files ending in {', '.join(sorted(SOURCE_SUFFIXES))}")
    texts = {f: f.read_text(errors="replace") for f in files}
    # Names the project defines anywhere are its own, not vendor API left unconverted: each file is
    # translated with its own definitions, then the reports are filtered by the whole project's. Only the
    # names a rule treats differently when the project overloads them are collected up front.
    special = rule_overridable_names()
    mentions = re.compile("|".join(sorted(map(re.escape, special))))
    project_special: set[str] = set()
    for f, text in texts.items():
        if mentions.search(text):
            project_special |= local_definitions(SourceEdit(text, str(f))) & special
    root = Path(os.path.commonpath([str(f.parent) for f in files]))
    results = []
    project_names: set[str] = set(project_special)
    for f in files:
        rel = f.relative_to(root)
        result, defined = translate_with_definitions(
            texts[f], to, launch_syntax=launch_syntax, roc=roc, filename=str(rel), extra_local_names=project_special,
            analyze=analyze, cuda_version=cuda_version, rocm_version=rocm_version)
        project_names |= defined
        results.append(result)
    for result in results:
        result.unconverted = [u for u in result.unconverted if u.name not in project_names]
    for f, result in zip(files, results):
        if in_place:
            fsio.write_text(f, result.text)  # keeps the file's mode
        elif out_dir is not None:
            fsio.write_text(Path(out_dir) / f.relative_to(root), result.text)
    return results

