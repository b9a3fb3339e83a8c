"""Build flags a library's CMake sets for every configuration: definitions and include folders.

Not a CMake interpreter: it reads the commands that set definitions and include folders, takes
those outside any ``if()`` (what every build of the library uses), substitutes the source-folder
variables, and drops what it cannot resolve (other variables, the build folder, generator
expressions other than ``$<BUILD_INTERFACE:...>``). A manifest adds or overrides what it misses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_COMMENT = re.compile(r"#(?!\[\[)[^\n]*")
_COMMAND = re.compile(r"([A-Za-z_]\w*)\s*\(")
_KEYWORDS = {"PRIVATE", "PUBLIC", "INTERFACE", "SYSTEM", "BEFORE", "AFTER"}
_DEFINE_COMMANDS = ("target_compile_definitions", "add_compile_definitions", "add_definitions")
_INCLUDE_COMMANDS = ("target_include_directories", "include_directories")


@dataclass
class CMakeFlags:
    defines: dict[str, str] = field(default_factory=dict)     # NAME -> value ("" for a bare NAME)
    include_dirs: list[Path] = field(default_factory=list)    # existing folders, absolute
    files: list[str] = field(default_factory=list)            # CMake files read


def _commands(text: str) -> list[tuple[str, list[str]]]:
    """(command, arguments) in order; quoted arguments unquoted, no variable expansion."""
    text = _COMMENT.sub("", text)
    out = []
    pos = 0
    while True:
        m = _COMMAND.search(text, pos)
        if m is None:
            return out
        depth, i = 1, m.end()
        while i < len(text) and depth:
            if text[i] == "(":
                depth += 1
            elif text[i] == ")":
                depth -= 1
            i += 1
        args = re.findall(r'"(?:\\.|[^"\\])*"|[^\s"]+', text[m.end():i - 1])
        out.append((m.group(1).lower(), [a[1:-1] if a.startswith('"') else a for a in args]))
        pos = i


def _substitute(arg: str, variables: dict[str, str]) -> str | None:
    m = re.fullmatch(r"\$<BUILD_INTERFACE:(.*)>", arg)
    if m:
        arg = m.group(1)
    elif "$<" in arg:
        return None
    out = re.sub(r"\$\{(\w+)\}", lambda v: variables.get(v.group(1), "\0"), arg)
    return None if "\0" in out or "$" in out else out


def read_cmake(source_root: str | Path, files: list[str] | None = None) -> CMakeFlags:
    """Definitions and include folders from ``files`` (default: every CMakeLists.txt under the root)."""
    root = Path(source_root).resolve()
    paths = [root / f for f in files] if files else sorted(root.rglob("CMakeLists.txt"))
    flags = CMakeFlags()
    for path in paths:
        if not path.is_file():
            continue
        flags.files.append(path.relative_to(root).as_posix())
        variables = {"CMAKE_SOURCE_DIR": str(root), "PROJECT_SOURCE_DIR": str(root),
                     "CMAKE_CURRENT_SOURCE_DIR": str(path.parent), "CMAKE_CURRENT_LIST_DIR": str(path.parent)}
        depth = 0
        for name, args in _commands(path.read_text(encoding="utf-8", errors="replace")):
            if name == "if":
                depth += 1
            elif name == "endif":
                depth = max(0, depth - 1)
            elif depth:
                continue
            elif name in _DEFINE_COMMANDS:
                items = args[1:] if name == "target_compile_definitions" else args
                for item in items:
                    if item in _KEYWORDS or "$" in item:
                        continue
                    if name == "add_definitions":
                        if not item.startswith("-D"):
                            continue
                        item = item[2:]
                    key, _, value = item.partition("=")
                    if re.fullmatch(r"[A-Za-z_]\w*", key):
                        flags.defines.setdefault(key, value)
            elif name in _INCLUDE_COMMANDS:
                items = args[1:] if name == "target_include_directories" else args
                for item in items:
                    if item in _KEYWORDS:
                        continue
                    resolved = _substitute(item, variables)
                    if resolved is None:
                        continue
                    folder = Path(resolved) if Path(resolved).is_absolute() else path.parent / resolved
                    folder = folder.resolve()
                    if folder.is_dir() and folder.is_relative_to(root) and folder not in flags.include_dirs:
                        flags.include_dirs.append(folder)
    return flags
