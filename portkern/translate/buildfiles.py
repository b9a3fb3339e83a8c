"""Build files translated with the sources: Makefiles and CMake, CUDA <-> HIP.

The spellings (compilers, flags, architectures, CMake languages, packages and imported targets) come
from ``portkern/data/build_flags.yaml``; this module knows only where they sit in each kind of file.
Going to CUDA, host-compiler flags move behind ``-Xcompiler`` and nvcc gets the flags it needs for
what clang accepts by default (``--extended-lambda``, ``--expt-relaxed-constexpr``); GPU sources whose
suffix the target compiler does not treat as device code get ``-x cu`` / ``-x hip`` in Makefiles and
``LANGUAGE CUDA`` / ``LANGUAGE HIP`` in CMake.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from portkern.model import Record

MAKEFILE_NAMES = frozenset({"Makefile", "makefile", "GNUmakefile"})
MAKEFILE_SUFFIXES = frozenset({".mk", ".mak"})
CMAKE_NAMES = frozenset({"CMakeLists.txt"})
CMAKE_SUFFIXES = frozenset({".cmake"})
# Suffixes each compiler treats as device code without being told.
DEVICE_SUFFIXES = {"cuda": frozenset({".cu"}), "hip": frozenset({".hip"})}
GPU_SOURCE_SUFFIXES = frozenset({".cu", ".hip", ".cpp", ".cc", ".cxx"})


@dataclass
class BuildTranslation(Record):
    filename: str
    kind: str                        # "make" | "cmake"
    to: str
    text: str
    changes: list[str] = field(default_factory=list)   # one line per kind of edit, for the report


def build_file_kind(path: str | Path) -> str | None:
    p = Path(path)
    if p.name in MAKEFILE_NAMES or p.suffix in MAKEFILE_SUFFIXES:
        return "make"
    if p.name in CMAKE_NAMES or p.suffix in CMAKE_SUFFIXES:
        return "cmake"
    return None


@dataclass(frozen=True)
class _Table:
    compiler: dict[str, str]
    flags: dict[str, dict[str, str]]          # direction -> source spelling -> target spelling ("" drops)
    host_prefixes: tuple[str, ...]
    nvcc_own: frozenset[str]
    nvcc_needs: tuple[str, ...]
    default_arch: dict[str, str]
    arch: dict[str, dict[str, str]]           # direction -> source arch -> target arch
    languages: dict[str, str]
    packages: dict[str, str]
    package_names: dict[str, list[str]]
    targets: dict[str, dict[str, str]]


@functools.lru_cache(maxsize=1)
def _table() -> _Table:
    import yaml  # only when a build file is translated

    data = yaml.load((Path(__file__).resolve().parents[1] / "data" / "build_flags.yaml").read_text(),
                     Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))   # the C loader where built
    flags: dict[str, dict[str, str]] = {"hip": {}, "cuda": {}}
    for row in data["flags"]:
        if row["cuda"]:
            flags["hip"].setdefault(row["cuda"], row["hip"])
        if row["hip"] and row.get("reverse", True):
            flags["cuda"].setdefault(row["hip"], row.get("to_cuda", row["cuda"]))
    arch = {"hip": {p["cuda"]: p["hip"] for p in data["arch_pairs"]},
            "cuda": {p["hip"]: p["cuda"] for p in data["arch_pairs"]}}
    cm = data["cmake"]
    targets: dict[str, dict[str, str]] = {"hip": {}, "cuda": {}}
    for row in cm["targets"]:
        targets["hip"].setdefault(row["cuda"], row["hip"])      # first row of a name wins
        targets["cuda"].setdefault(row["hip"], row["cuda"])
    return _Table(compiler=data["compiler"], flags=flags, host_prefixes=tuple(data["host_flag_prefixes"]),
                  nvcc_own=frozenset(data["nvcc_own_flags"]), nvcc_needs=tuple(data["nvcc_needs"]),
                  default_arch=data["default_arch"], arch=arch, languages=cm["languages"],
                  packages=cm["packages"], package_names=cm["package_names"], targets=targets)


def nvcc_needs() -> tuple[str, ...]:
    """Flags nvcc needs for what clang accepts by default (lambdas in kernels, constexpr host calls)."""
    return _table().nvcc_needs


def _source_side(to: str) -> str:
    return "hip" if to == "cuda" else "cuda"


def target_arch(to: str, arch: str | None, source_arch: str | None = None) -> str:
    """The architecture to build for: the one asked for, the counterpart of the source's, or the default."""
    t = _table()
    if arch:
        return arch
    if source_arch and source_arch in t.arch[to]:
        return t.arch[to][source_arch]
    return t.default_arch[to]


# --------------------------------------------------------------------------- flags (shared by both kinds)

_ARCH_FLAG = re.compile(r"^(?:--offload-arch=|--amdgpu-target=|-arch=|--gpu-architecture=|-gencode=|--generate-code=)(.*)$")
_GENCODE_ARCH = re.compile(r"(?:code|arch)=\[?(?:sm|compute)_(\d+)")


def _arch_of(value: str) -> str:
    """``gfx942``, ``sm_90``, ``arch=compute_90,code=sm_90`` -> the architecture name."""
    m = _GENCODE_ARCH.search(value)
    if m:
        return f"sm_{m.group(1)}"
    return value.split(",")[0].split(":")[0]


def map_flags(words: list[str], to: str, arch: str | None, changes: set[str]) -> list[str]:
    """Map one command's (or flag variable's) words to the other compiler."""
    t = _table()
    out: list[str] = []
    arch_done = False
    i = 0
    while i < len(words):
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        # two-word spellings first: "-x cu", "-arch sm_90", "-gencode arch=..."
        pair = f"{w} {nxt}"
        if pair in t.flags[to]:
            new = t.flags[to][pair]
            out.extend(new.split() if new else [])
            changes.add(f"{pair} -> {new or '(dropped)'}")
            i += 2
            continue
        m = _ARCH_FLAG.match(w)
        if w in ("-arch", "--offload-arch", "-gencode", "--gpu-architecture") and nxt:
            m = re.match(r"(.*)", nxt)
            i += 1
        if m and not w.startswith("-march"):
            if not arch_done:
                new_arch = target_arch(to, arch, _arch_of(m.group(1)))
                out.append(f"--offload-arch={new_arch}" if to == "hip" else f"-arch={new_arch}")
                changes.add(f"architecture -> {new_arch}")
                arch_done = True
            i += 1
            continue
        if to == "hip" and w.startswith(("-Xcompiler", "--compiler-options")):
            value = w.split("=", 1)[1] if "=" in w else nxt
            if "=" not in w:
                i += 1
            out.extend(v for v in value.strip("\"'").split(",") if v)
            changes.add("-Xcompiler flags -> plain clang flags")
            i += 1
            continue
        if to == "hip" and w == "-dc":
            out.extend(["-fgpu-rdc", "-c"])
            changes.add("-dc -> -fgpu-rdc -c")
            i += 1
            continue
        if w in t.flags[to]:
            new = t.flags[to][w]
            out.extend(new.split() if new else [])
            changes.add(f"{w} -> {new or '(dropped)'}")
            i += 1
            continue
        if to == "cuda" and w.startswith(t.host_prefixes) and w not in t.nvcc_own and not w.startswith("-Xcompiler"):
            out.extend(["-Xcompiler", w])
            changes.add("host-compiler flags -> -Xcompiler")
            i += 1
            continue
        out.append(w)
        i += 1
    return out


def _swap_compiler_word(word: str, to: str) -> str | None:
    t = _table()
    src = t.compiler[_source_side(to)]
    if word == src or word.endswith("/" + src):
        return t.compiler[to]
    return None


# --------------------------------------------------------------------------- Makefiles

# VAR = value, and a target-specific one (``prog: LDLIBS += -lhiprtc``)
_ASSIGN = re.compile(r"^(\s*(?:[^:#=\s$][^:#=$]*:\s+)?(?:export\s+|override\s+)?)([A-Za-z_][A-Za-z0-9_.]*)"
                     r"(\s*(?::=|::=|\?=|\+=|!=|=)\s*)(.*)$")
_VAR_REF = re.compile(r"\$[({]([A-Za-z_][A-Za-z0-9_.]*)[)}]")


def _split_words(text: str) -> list[str]:
    return text.split()


def translate_makefile(text: str, to: str, *, arch: str | None = None, filename: str = "Makefile",
                       gpu_sources: frozenset[str] = frozenset()) -> BuildTranslation:
    """Compiler, flags and libraries of a Makefile. Lines that run (or hold flags for) the GPU compiler
    are found first: lines naming it, and variables they use or that name it (``HIPCC = hipcc``)."""
    lines = text.split("\n")
    src_compiler = _table().compiler[_source_side(to)]
    compiler_vars: set[str] = set()
    gpu_lines: set[int] = set()
    for n, line in enumerate(lines):
        m = _ASSIGN.match(line)
        words = line.split()
        if any(_swap_compiler_word(w, to) for w in words):
            gpu_lines.add(n)
            if m:
                compiler_vars.add(m.group(2))
    for n, line in enumerate(lines):
        if any(v in compiler_vars for v in _VAR_REF.findall(line)):
            gpu_lines.add(n)
    # Flag variables used on GPU-compiler lines hold GPU-compiler flags.
    flag_vars = {v for n in gpu_lines for v in _VAR_REF.findall(lines[n])} - compiler_vars
    for n, line in enumerate(lines):
        m = _ASSIGN.match(line)
        if m and m.group(2) in flag_vars:
            gpu_lines.add(n)
    changes: set[str] = set()
    needs_x = bool(gpu_sources) and any(Path(s).suffix not in DEVICE_SUFFIXES[to] for s in gpu_sources)
    out = []
    for n, line in enumerate(lines):
        if n not in gpu_lines or line.lstrip().startswith("#"):
            out.append(line)
            continue
        out.append(_make_line(line, to, arch, changes, compiler_vars, needs_x, src_compiler))
    return BuildTranslation(filename=filename, kind="make", to=to, text="\n".join(out), changes=sorted(changes))


def _make_line(line: str, to: str, arch: str | None, changes: set[str], compiler_vars: set[str],
               needs_x: bool, src_compiler: str) -> str:
    m = _ASSIGN.match(line)
    prefix, body = (m.group(1) + m.group(2) + m.group(3), m.group(4)) if m else ("", line)
    lead = re.match(r"^\s*", body).group(0) if not m else ""
    comment = ""
    if "#" in body:
        body, comment = body.split("#", 1)
        comment = " #" + comment
    words = _split_words(body)
    words = map_flags(words, to, arch, changes)
    new_words = []
    # A compile step: -c/-dc, or a one-step build whose inputs are sources ($< of a pattern rule, or named
    # files with a source suffix) and no objects (-x would apply to the objects too).
    inputs = [w for w in words if w == "$<" or Path(w).suffix in GPU_SOURCE_SUFFIXES]
    objects = [w for w in words if w.endswith((".o", ".a", ".so")) or w in ("$^", "$+")]
    is_compile = "-x" not in words and ("-c" in words or "-dc" in words or (bool(inputs) and not objects))
    for w in words:
        swapped = _swap_compiler_word(w, to)
        if swapped:
            changes.add(f"{src_compiler} -> {swapped}")
            new_words.append(swapped)
            if to == "cuda":
                new_words.extend(_table().nvcc_needs)
                changes.add("nvcc gets " + " ".join(_table().nvcc_needs))
        else:
            new_words.append(w)
        if needs_x and is_compile and (swapped or _VAR_REF.fullmatch(w) and _VAR_REF.fullmatch(w).group(1)
                                       in compiler_vars):
            new_words.extend(["-x", "cu" if to == "cuda" else "hip"])
            changes.add("-x cu / -x hip for sources with a host-code suffix")
    return prefix + lead + " ".join(new_words) + comment


# --------------------------------------------------------------------------- CMake

_CMAKE_CALL = re.compile(r"(?is)\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def _cmake_calls(text: str) -> list[tuple[str, int, int]]:
    """(command name, start, end) of each call, ``end`` just past its closing parenthesis."""
    calls = []
    pos = 0
    while True:
        m = _CMAKE_CALL.search(text, pos)
        if not m:
            return calls
        line_start = text.rfind("\n", 0, m.start()) + 1
        if "#" in text[line_start:m.start()]:
            pos = m.end()
            continue
        depth, j = 0, m.end() - 1
        while j < len(text):
            ch = text[j]
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    break
            elif ch == '"':
                k = j + 1
                while k < len(text) and text[k] != '"':
                    k += 2 if text[k] == "\\" else 1
                j = k
            j += 1
        calls.append((m.group(1), m.start(), j + 1))
        pos = j + 1


def translate_cmake(text: str, to: str, *, arch: str | None = None, filename: str = "CMakeLists.txt",
                    gpu_sources: frozenset[str] = frozenset()) -> BuildTranslation:
    """Languages, architecture variables, flags, packages, imported targets; sources whose suffix the
    target language does not claim get the LANGUAGE property."""
    t = _table()
    frm = _source_side(to)
    src_lang, dst_lang = t.languages[frm], t.languages[to]
    changes: set[str] = set()
    edits: list[tuple[int, int, str]] = []
    for name, start, end in _cmake_calls(text):
        call = text[start:end]
        lname = name.lower()
        new = call
        if lname in ("project", "enable_language"):
            new = re.sub(rf"\b{src_lang}\b", dst_lang, call)
            if new != call:
                changes.add(f"language {src_lang} -> {dst_lang}")
                if to == "cuda":
                    needs = " ".join(t.nvcc_needs)
                    new += f'\nset(CMAKE_CUDA_FLAGS "${{CMAKE_CUDA_FLAGS}} {needs}")'
                    changes.add(f"CMAKE_CUDA_FLAGS gets {needs}")
        elif lname == "find_package":
            args = call[call.index("(") + 1:-1].split()
            if args and args[0] in t.package_names[frm]:
                new = t.packages[to]
                changes.add(f"package {args[0]} -> {new}")
        elif lname in ("add_executable", "add_library", "target_sources", "cuda_add_executable",
                       "cuda_add_library", "hip_add_executable", "hip_add_library"):
            srcs = [w for w in re.split(r"[\s()]+", call) if Path(w).suffix in GPU_SOURCE_SUFFIXES]
            relabel = [w for w in srcs if Path(w).suffix not in DEVICE_SUFFIXES[to] and
                       (not gpu_sources or Path(w).name in gpu_sources or Path(w).suffix in DEVICE_SUFFIXES[frm])]
            if lname.startswith(("cuda_add_", "hip_add_")):
                new = re.sub(r"^(cuda|hip)_", "", call)
                changes.add(f"{name} -> {new[:new.index('(')]}")
            if relabel:
                new += f"\nset_source_files_properties({' '.join(relabel)} PROPERTIES LANGUAGE {dst_lang})"
                changes.add(f"LANGUAGE {dst_lang} on sources with a host-code suffix")
        new = _cmake_words(new, to, arch, changes)
        if new != call:
            edits.append((start, end, new))
    out = text
    for start, end, new in reversed(edits):
        out = out[:start] + new + out[end:]
    return BuildTranslation(filename=filename, kind="cmake", to=to, text=out, changes=sorted(changes))


@functools.lru_cache(maxsize=2)
def _target_patterns(to: str) -> list[tuple[str, str, re.Pattern]]:
    """Imported targets to rename, longest first, each with its whole-word pattern (compiled once)."""
    return [(old, repl, re.compile(rf"(?<![\w:]){re.escape(old)}(?![\w:])"))
            for old, repl in sorted(_table().targets[to].items(), key=lambda kv: -len(kv[0]))]


def _cmake_words(call: str, to: str, arch: str | None, changes: set[str]) -> str:
    t = _table()
    frm = _source_side(to)
    src_lang, dst_lang = t.languages[frm], t.languages[to]
    new = re.sub(rf"\bCMAKE_{src_lang}_", f"CMAKE_{dst_lang}_", call)
    new = re.sub(rf"COMPILE_LANGUAGE:{src_lang}\b", f"COMPILE_LANGUAGE:{dst_lang}", new)
    new = re.sub(rf"\bLANGUAGE\s+{src_lang}\b", f"LANGUAGE {dst_lang}", new)
    new = re.sub(rf"\b{src_lang.lower()}_std_(\d+)", rf"{dst_lang.lower()}_std_\1", new)
    new = re.sub(rf"\b{src_lang}_(STANDARD|ARCHITECTURES|SEPARABLE_COMPILATION|EXTENSIONS)\b", rf"{dst_lang}_\1", new)
    if new != call:
        changes.add(f"{src_lang} variables and properties -> {dst_lang}")
    for old, repl, pattern in _target_patterns(to):
        if pattern.search(new):
            new = pattern.sub(repl, new)
            changes.add(f"{old} -> {repl}")
    m = re.match(rf"(?is)^set\s*\(\s*CMAKE_{dst_lang}_ARCHITECTURES\s+(.*?)\)$", new)
    if m:
        values = m.group(1).replace('"', " ").split()
        first = values[0] if values else ""
        source_arch = first if not first.isdigit() else f"sm_{first}"
        dst = target_arch(to, arch, source_arch)
        dst = dst[3:] if to == "cuda" and dst.startswith("sm_") else dst
        new = f"set(CMAKE_{dst_lang}_ARCHITECTURES {dst})"
        changes.add(f"CMAKE_{dst_lang}_ARCHITECTURES -> {dst}")
    # flags inside quoted strings of flag variables and target_compile_options
    if re.match(r"(?is)^(set\s*\(\s*CMAKE_\w+_FLAGS|target_compile_options|add_compile_options|target_link_libraries)",
                new):
        def repl_str(m: re.Match) -> str:
            words = m.group(1).split(" ")
            kept = [w for w in words if w.startswith("$")]
            rest = [w for w in words if w and not w.startswith("$")]
            return '"' + " ".join(kept + map_flags(rest, to, arch, changes)) + '"'
        new = re.sub(r'"([^"]*)"', repl_str, new)
        new = re.sub(rf"(\$<\$<COMPILE_LANGUAGE:{dst_lang}>:)([^>]*)(>)",
                     lambda m: m.group(1) + " ".join(map_flags(m.group(2).split(), to, arch, changes)) + m.group(3),
                     new)
    if re.match(r"(?is)^(target_compile_options|add_compile_options)\s*\(", new):
        new = _unquoted_options(new, to, arch, changes)
    return new


_OPTION_KEYWORDS = frozenset({"PRIVATE", "PUBLIC", "INTERFACE", "BEFORE"})


def _unquoted_options(call: str, to: str, arch: str | None, changes: set[str]) -> str:
    """Unquoted flags of ``target_compile_options(t PRIVATE -Wall --offload-arch=gfx942)`` mapped like a
    compiler line's. CMake de-duplicates a target's options word by word, so a flag that takes the next
    word (``-Xcompiler -Wall``) is written as one (``-Xcompiler=-Wall``)."""
    open_at, close_at = call.index("("), call.rindex(")")
    words = call[open_at + 1:close_at].split()
    if any(w.startswith(('"', "$", "SHELL:")) or "<" in w for w in words):
        return call                      # quoted or generator-expression options: handled above
    head = 1 if call.lower().startswith("target_compile_options") else 0
    lead = [w for w in words[:head]]
    rest = words[head:]
    flags, keywords = [], []
    for w in rest:
        (keywords if w in _OPTION_KEYWORDS and not flags else flags).append(w)
    mapped = map_flags(flags, to, arch, changes)
    joined: list[str] = []
    i = 0
    while i < len(mapped):
        if mapped[i] in ("-Xcompiler", "--compiler-options") and i + 1 < len(mapped):
            joined.append(f"{mapped[i]}={mapped[i + 1]}")
            i += 2
            continue
        joined.append(mapped[i])
        i += 1
    if joined == flags:
        return call
    return call[:open_at + 1] + " ".join(lead + keywords + joined) + call[close_at:]


def translate_build_file(text: str, kind: str, to: str, *, arch: str | None = None, filename: str = "",
                         gpu_sources: frozenset[str] = frozenset()) -> BuildTranslation:
    if kind == "make":
        return translate_makefile(text, to, arch=arch, filename=filename or "Makefile", gpu_sources=gpu_sources)
    return translate_cmake(text, to, arch=arch, filename=filename or "CMakeLists.txt", gpu_sources=gpu_sources)


# --------------------------------------------------------------------------- what a CMake build generates

_CMAKE_VAR = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)@|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _cmake_args(call: str) -> list[str]:
    return [a.strip('"') for a in re.findall(r'"[^"]*"|[^\s()"]+', call[call.index("(") + 1:-1])]


def _unconditional_calls(text: str) -> list[tuple[str, str]]:
    """(lower-case command, call text) for calls outside every if()/endif() block."""
    depth = 0
    found = []
    for name, start, end in _cmake_calls(text):
        lname = name.lower()
        if lname == "if":
            depth += 1
        elif lname == "endif":
            depth -= 1
        elif depth == 0:
            found.append((lname, text[start:end]))
    return found


def cmake_compile_definitions(cmake_files: list[Path]) -> list[str]:
    """Definitions the build always sets (``target_compile_definitions``/``add_definitions`` outside if-blocks)."""
    found: list[str] = []
    for f in cmake_files:
        for lname, call in _unconditional_calls(f.read_text(errors="replace")):
            if lname not in ("target_compile_definitions", "add_definitions", "add_compile_definitions"):
                continue
            args = _cmake_args(call)[1:] if lname == "target_compile_definitions" else _cmake_args(call)
            for a in args:
                a = a[2:] if a.startswith("-D") else a
                if a not in ("PRIVATE", "PUBLIC", "INTERFACE") and "$" not in a and a not in found:
                    found.append(a)
    return found


def export_header(target: str) -> str:
    """The header CMake's generate_export_header() writes for a shared library ``target``."""
    up = re.sub(r"\W", "_", target).upper()
    return (f"#ifndef {up}_EXPORT_H\n#define {up}_EXPORT_H\n\n"
            f"#ifdef {up}_STATIC_DEFINE\n#  define {up}_EXPORT\n#  define {up}_NO_EXPORT\n#else\n"
            f"#  ifndef {up}_EXPORT\n#    define {up}_EXPORT __attribute__((visibility(\"default\")))\n#  endif\n"
            f"#  ifndef {up}_NO_EXPORT\n#    define {up}_NO_EXPORT __attribute__((visibility(\"hidden\")))\n#  endif\n"
            f"#endif\n\n#ifndef {up}_DEPRECATED\n#  define {up}_DEPRECATED __attribute__ ((__deprecated__))\n#endif\n"
            f"#ifndef {up}_DEPRECATED_EXPORT\n#  define {up}_DEPRECATED_EXPORT {up}_EXPORT {up}_DEPRECATED\n#endif\n"
            f"#ifndef {up}_DEPRECATED_NO_EXPORT\n#  define {up}_DEPRECATED_NO_EXPORT {up}_NO_EXPORT {up}_DEPRECATED\n"
            f"#endif\n\n#endif /* {up}_EXPORT_H */\n")


def cmake_generated_headers(source_dir: Path, binary_dir: Path,
                            variables: dict[str, str] | None = None) -> dict[Path, str]:
    """Headers the project's CMake files generate: ``configure_file()`` of ``*.in`` templates (``@VAR@`` and
    ``${VAR}`` from ``variables``; unknown version numbers become 0, other unknowns empty) and
    ``generate_export_header()``. Paths are under ``binary_dir`` where the build puts them."""
    values = dict(variables or {})
    out: dict[Path, str] = {}
    for f in sorted(source_dir.rglob("CMakeLists.txt")):
        text = f.read_text(errors="replace")
        dirs = {"CMAKE_CURRENT_SOURCE_DIR": str(f.parent), "PROJECT_BINARY_DIR": str(binary_dir),
                "CMAKE_BINARY_DIR": str(binary_dir), "CMAKE_CURRENT_BINARY_DIR": str(binary_dir)}

        def expand(s: str, known: dict[str, str]) -> str:
            return _CMAKE_VAR.sub(lambda m: known.get(m.group(1) or m.group(2),
                                                      "0" if re.search(r"VERSION_(MAJOR|MINOR|PATCH|TWEAK)$", m.group(1) or m.group(2)) else ""), s)
        for name, start, end in _cmake_calls(text):
            args = _cmake_args(text[start:end])
            if name.lower() == "configure_file" and len(args) >= 2:
                template = Path(expand(args[0], dirs))
                if template.is_file():
                    body = re.sub(r"(?m)^#cmakedefine\s+(\w+)(.*)$",
                                  lambda m: (f"#define {m.group(1)}{m.group(2)}" if values.get(m.group(1))
                                             else f"/* #undef {m.group(1)} */"), template.read_text())
                    out[Path(expand(args[1], dirs))] = expand(body, values)
            elif name.lower() == "generate_export_header" and args:
                path = args[args.index("EXPORT_FILE_NAME") + 1] if "EXPORT_FILE_NAME" in args else \
                    f"${{CMAKE_CURRENT_BINARY_DIR}}/{args[0].lower()}_export.h"
                out[Path(expand(path, dirs))] = export_header(args[0])
    return out
