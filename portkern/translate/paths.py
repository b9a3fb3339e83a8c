"""translate_tree: files or folders, the project headers they include, their build files, the rest copied."""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from portkern import fsio
from portkern.errors import TranslateError
from portkern.model import Record
from portkern.textfiles import not_source_code
from portkern.translate.buildfiles import BuildTranslation, build_file_kind, translate_build_file
from portkern.translate.compat import rule_overridable_names
from portkern.translate.engine import translate_with_definitions
from portkern.translate.names import local_definitions
from portkern.translate.records import Hazard, TranslationResult
from portkern.translate.source import SourceEdit
from portkern.translate.syntax import first_syntax_error
from portkern.translate.tokens import quoted_includes, without_cyclic_gc

SOURCE_SUFFIXES = frozenset({".cu", ".cuh", ".hip", ".h", ".hpp", ".hh", ".cpp", ".cc", ".cxx", ".inl", ".inc"})


@dataclass
class Skipped(Record):
    """An input that was not translated, and why (binary, empty, unreadable)."""

    file: str
    reason: str


@dataclass
class TreeTranslation(Record):
    results: list[TranslationResult] = field(default_factory=list)
    build_files: list[BuildTranslation] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)          # files written unchanged (folder inputs, -o)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def translated_count(self) -> int:
        return len(self.results) + len(self.build_files)


def _walk(folder: Path) -> list[Path]:
    """Every file under ``folder``, hidden folders (.git) left out."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in sorted(filenames))
    return found


def _expand(paths: list[str | Path]) -> tuple[list[Path], list[Path], list[Path]]:
    """(sources, build files, other files under folders)."""
    sources: list[Path] = []
    builds: list[Path] = []
    others: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in _walk(p):
                if f.suffix in SOURCE_SUFFIXES:
                    sources.append(f)
                elif build_file_kind(f):
                    builds.append(f)
                else:
                    others.append(f)
        elif p.is_file():
            (builds if build_file_kind(p) and p.suffix not in SOURCE_SUFFIXES else sources).append(p)
        else:
            raise TranslateError(f"{p}: no such file or folder", hint="pass existing source files or folders")
    return sources, builds, others


def _local_includes(path: Path, text: str, include_dirs: list[Path],
                    real_dirs: dict[Path, Path] | None = None) -> list[Path]:
    found = []
    for name in quoted_includes(text):
        for base in [path.parent, *include_dirs]:
            candidate = (base / name)
            if candidate.is_file():
                found.append(_resolve(candidate, {} if real_dirs is None else real_dirs))
                break
    return found


def _resolve(path: Path, real_dirs: dict[Path, Path]) -> Path:
    """``path.resolve()`` with the folder part resolved once per folder (``real_dirs`` remembers them): the
    real folder joined with the name, unless the name itself is a link."""
    folder = path.parent
    real = real_dirs.get(folder)
    if real is None:
        real = real_dirs[folder] = folder.resolve()
    resolved = real / path.name
    return resolved.resolve() if resolved.is_symlink() else resolved


def _read_source(path: Path) -> tuple[str | None, str]:
    """(text, "") or (None, why it is not translated)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, f"cannot read the file ({exc.strerror or exc})"
    problem = not_source_code(data)
    if problem:
        return None, problem
    if not data.strip():
        return None, "empty file: nothing to translate"
    return data.decode("utf-8", errors="surrogateescape"), ""


def discover(paths: list[str | Path], include_dirs: list[str | Path] = ()) -> list[Path]:
    """The given source files plus every project header they include ("..."), transitively."""
    return _discover(_expand(paths)[0], [Path(d) for d in include_dirs])


def _discover(files: list[Path], dirs: list[Path]) -> list[Path]:
    real_dirs: dict[Path, Path] = {}
    queue = deque(_resolve(p, real_dirs) if p.name not in ("", ".", "..") else p.resolve() for p in files)
    seen: dict[Path, None] = {}
    while queue:
        p = queue.popleft()
        if p in seen:
            continue
        seen[p] = None
        try:
            queue.extend(_local_includes(p, p.read_text(errors="replace"), dirs, real_dirs))
        except OSError:
            pass  # reported when the file itself is read
    return list(seen)


def translate_tree(paths: list[str | Path], to: str, *, out_dir: str | Path | None = None,
                   in_place: bool = False, launch_syntax: str = "chevron", roc: bool = False,
                   include_dirs: list[str | Path] = (), analyze: bool = True,
                   arch: str | None = None, cuda_version: str = "13.0",
                   rocm_version: str | None = None) -> TreeTranslation:
    """Translate sources and the project headers they include, Makefiles and CMake files; with
    ``out_dir``, the other files under folder inputs are copied so the output is a whole tree.
    Written files keep the mode of their input. With neither ``out_dir`` nor ``in_place`` nothing is
    written and the results are only returned."""
    if out_dir is not None and in_place:
        raise TranslateError("both an output folder and in-place were asked for", hint="choose one")
    with without_cyclic_gc():
        return _translate_tree(paths, to, out_dir=out_dir, in_place=in_place, launch_syntax=launch_syntax,
                               roc=roc, include_dirs=include_dirs, analyze=analyze, arch=arch,
                               cuda_version=cuda_version, rocm_version=rocm_version)


def _translate_tree(paths: list[str | Path], to: str, *, out_dir: str | Path | None, in_place: bool,
                    launch_syntax: str, roc: bool, include_dirs: list[str | Path], analyze: bool,
                    arch: str | None, cuda_version: str, rocm_version: str | None) -> TreeTranslation:
    sources, builds, others = _expand(paths)
    files = _discover(sources, [Path(d) for d in include_dirs])
    if not files and not builds:
        raise TranslateError(f"no source or build files under {', '.join(map(str, paths))}",
                             hint=f"expected files ending in {', '.join(sorted(SOURCE_SUFFIXES))}, "
                                  "Makefiles or CMakeLists.txt")
    all_files = files + [b.resolve() for b in builds] + [o.resolve() for o in others]
    root = Path(os.path.commonpath([str(f.parent) for f in all_files]))
    tree = TreeTranslation()
    texts: dict[Path, str] = {}
    for f in files:
        text, why = _read_source(f)
        if text is None:
            tree.skipped.append(Skipped(file=str(f.relative_to(root)), reason=why))
        else:
            texts[f] = text
    # Names the project defines anywhere are its own, not vendor API left unconverted: each file is
    # translated with its own definitions, then the reports are filtered by the whole project's. Only the
    # names a rule treats differently when the project overloads them are collected up front.
    special = rule_overridable_names()
    mentions = re.compile("|".join(sorted(map(re.escape, special))))
    project_special: set[str] = set()
    for f, text in texts.items():
        if mentions.search(text):
            project_special |= local_definitions(SourceEdit(text, str(f))) & special
    project_names: set[str] = set(project_special)
    gpu_sources: set[str] = set()
    pending: list[tuple[Path, Path, TranslationResult]] = []
    for f, text in texts.items():
        rel = f.relative_to(root)
        result, defined = translate_with_definitions(
            text, to, launch_syntax=launch_syntax, roc=roc, filename=str(rel), extra_local_names=project_special,
            analyze=analyze, cuda_version=cuda_version, rocm_version=rocm_version)
        project_names |= defined
        error = first_syntax_error(text)
        if error:
            line, near = error
            result.hazards.insert(0, Hazard(
                file=str(rel), line=line, col=1, kind="syntax-error", severity="warning",
                message=f"the C++ grammar could not parse this line (near '{near}'); names were translated, "
                        "but rules that need function boundaries may have missed code here"))
        if result.converted.get("launch") or "__global__" in text:
            gpu_sources.add(f.name)
        tree.results.append(result)
        pending.append((f, rel, result))
    for f, rel, result in pending:
        result.unconverted = [u for u in result.unconverted if u.name not in project_names]
        _write(f, rel, result.text, out_dir, in_place)
    for b in builds:
        b = b.resolve()
        rel = b.relative_to(root)
        text, why = _read_source(b)
        if text is None:
            tree.skipped.append(Skipped(file=str(rel), reason=why))
            continue
        result = translate_build_file(text, build_file_kind(b), to, arch=arch, filename=str(rel),
                                      gpu_sources=frozenset(gpu_sources))
        tree.build_files.append(result)
        _write(b, rel, result.text, out_dir, in_place)
    if out_dir is not None:
        for o in others:
            o = o.resolve()
            rel = o.relative_to(root)
            fsio.write_bytes(Path(out_dir) / rel, o.read_bytes(), mode=o.stat().st_mode & 0o7777)
            tree.copied.append(str(rel))
    return tree


def _write(src: Path, rel: Path, text: str, out_dir: str | Path | None, in_place: bool) -> None:
    data = text.encode("utf-8", errors="surrogateescape")
    if in_place:
        fsio.write_bytes(src, data)                                     # keeps the file's mode
    elif out_dir is not None:
        fsio.write_bytes(Path(out_dir) / rel, data, mode=src.stat().st_mode & 0o7777)


def translate_paths(paths: list[str | Path], to: str, *, out_dir: str | Path | None = None,
                    in_place: bool = False, launch_syntax: str = "chevron", roc: bool = False,
                    include_dirs: list[str | Path] = (), analyze: bool = True, cuda_version: str = "13.0",
                    rocm_version: str | None = None) -> list[TranslationResult]:
    """Source files only (see ``translate_tree`` for build files, copies and skipped inputs)."""
    return translate_tree(paths, to, out_dir=out_dir, in_place=in_place, launch_syntax=launch_syntax, roc=roc,
                          include_dirs=include_dirs, analyze=analyze, cuda_version=cuda_version,
                          rocm_version=rocm_version).results
