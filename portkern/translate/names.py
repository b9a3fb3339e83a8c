"""Identifier, namespace and #include renaming from the mapping tables, plus unconverted-name reports."""

from __future__ import annotations

import functools
import re

from portkern.translate.maps import MapTables, load_maps, parse_version
from portkern.translate.records import Hazard, SourceRegion, Unconverted
from portkern.translate.source import SourceEdit
from portkern.translate.tokens import include_target

# Names that belong to the source vendor's API family; one left in the output is reported.
CUDA_API_NAME = re.compile(
    r"^(?:cuda[A-Z_]|cu[A-Z][a-z]|CU_|CUDA_|CUB_|cublas|cusparse|cusolver|curand|cufft|CUBLAS_|CUSPARSE_|"
    r"CUSOLVER_|CURAND_|CUFFT_|nvrtc|NVRTC_|__nv_|nv_bfloat|nvcuda)")
HIP_API_NAME = re.compile(
    r"^(?:hip[A-Z]|HIP_|hipblas|hipsparse|hipsolver|hiprand|hipfft|hipcub|HIPBLAS_|HIPSPARSE_|HIPSOLVER_|"
    r"HIPRAND_|HIPFFT_|HIPCUB_|rocblas_|rocsolver_|rocprim|__hip_|__builtin_amdgcn_|__ockl_|__ocml_)")
# The same families as whole lines of a newline-joined list of names (one regex scan finds them all).
_FAMILY_LINES = {p: re.compile("^" + p.pattern.lstrip("^") + "[^\n]*", re.MULTILINE)
                 for p in (CUDA_API_NAME, HIP_API_NAME)}

# Vendor macros that are meant to stay: platform tests pick a branch, they are not API calls.
KEEP_AS_WRITTEN = frozenset({
    "__HIP_PLATFORM_AMD__", "__HIP_PLATFORM_HCC__", "__HIP_PLATFORM_NVIDIA__", "__HIP_PLATFORM_NVCC__",
    "__HIP__", "HIP_VERSION", "HIP_VERSION_MAJOR", "HIP_VERSION_MINOR", "HIP_VERSION_PATCH",
    "CUDA_VERSION", "CUDART_VERSION", "__CUDA_ARCH_LIST__", "__CUDACC_VER_MAJOR__", "__CUDACC_VER_MINOR__",
    "__CUDACC_RTC__", "HIP_KERNEL_NAME", "hipLaunchKernelGGL", "__AMDGCN_WAVEFRONT_SIZE",
    "HIP_DYNAMIC_SHARED",
})

HIP_RUNTIME_HEADER = "hip/hip_runtime.h"
NEED_RUNTIME_FIRST = frozenset({"hip/hip_cooperative_groups.h"})

_DECL_KEYWORDS = frozenset({"struct", "class", "enum", "union", "namespace"})


def _after_macro_call(src: SourceEdit, close_si: int) -> bool:
    """True when the ``)`` at ``close_si`` closes ``UPPER_CASE_MACRO(...)`` (an attribute-like macro)."""
    depth = 0
    for j in range(close_si, max(close_si - 200, -1), -1):
        text = src.stext(j)
        depth += text == ")"
        depth -= text == "("
        if depth == 0:
            name = src.stext(j - 1)
            return len(name) > 1 and name.isupper() and name.replace("_", "").isalnum()
    return False


class LocalNames:
    """The names a file defines plus those its project defines elsewhere, without copying the project's
    (large) set for every file: membership only."""

    __slots__ = ("own", "project")

    def __init__(self, own: set[str], project: set[str] | frozenset[str] = frozenset()):
        self.own = own
        self.project = project

    def __contains__(self, name: object) -> bool:
        return name in self.own or name in self.project


def local_definitions(src: SourceEdit) -> set[str]:
    """Names the file defines itself (macros, types, functions): never reported as unconverted."""
    names: set[str] = set()
    texts, kinds = src.stexts, src.skinds
    n = len(texts)
    for si in src.where("define", "using", *_DECL_KEYWORDS):
        if si + 1 >= n:
            continue
        if kinds[si + 1] == "ident" and (texts[si] != "define" or (si > 0 and texts[si - 1] == "#")):
            names.add(texts[si + 1])
    for si in src.where("typedef"):
        # typedef <type> NAME;  typedef <ret> (*NAME)(args);  typedef struct {...} NAME;
        end = si + 1
        depth = 0
        while end < n and not (texts[end] == ";" and depth == 0):
            text = texts[end]
            depth += text in ("(", "{", "[")
            depth -= text in (")", "}", "]")
            end += 1
        depth = 0
        for j in range(end - 1, si, -1):  # the last identifier outside brackets
            text = texts[j]
            depth += text in (")", "}", "]")
            depth -= text in ("(", "{", "[")
            if depth == 0 and kinds[j] == "ident":
                names.add(text)
                break
        for k in range(si + 1, min(end, n - 2)):
            if texts[k] == "(" and texts[k + 1] == "*" and kinds[k + 2] == "ident":
                names.add(texts[k + 2])
    for si in src.where("enum"):
        # enum [class] [Name] [: type] { A = 1, B, ... }: the enumerators are the project's names too
        j = si + 1
        while j < n and j < si + 12 and texts[j] not in ("{", ";"):
            j += 1
        if j >= n or texts[j] != "{":
            continue
        depth = 0
        for k in range(j, n):
            text = texts[k]
            if text in ("{", "(", "["):
                depth += 1
            elif text in ("}", ")", "]"):
                depth -= 1
                if depth == 0:
                    break
            elif depth == 1 and kinds[k] == "ident" and texts[k - 1] in ("{", ","):
                names.add(text)
    for open_si in src.where("("):
        si = open_si - 1
        if si < 1 or kinds[si] != "ident":
            continue
        prev = texts[si - 1]
        # "<type> name(" : a function declaration or definition
        if (kinds[si - 1] == "ident" and prev not in ("return", "else", "case", "new", "delete")) or \
                prev in ("*", "&", ">"):
            names.add(texts[si])
        elif prev == ")" and _after_macro_call(src, si - 1):
            names.add(texts[si])  # KERNEL_MACRO(256) name(...): a declaration after an attribute macro
    return names


ROC_LIBRARY = {"cublas": "rocBLAS", "cusparse": "rocSPARSE", "cusolver": "rocSOLVER", "curand": "rocRAND",
               "cudnn": "MIOpen", "types": "rocBLAS", "headers": "ROCm library"}


@functools.lru_cache(maxsize=8)
def _forward_names(to: str, roc: bool) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    tables = load_maps()
    if to == "hip":
        forward = {c: (e.roc if roc and e.roc else e.hip, e.category) for c, e in tables.to_hip.items()
                   if e.category != "headers" and (e.hip or (roc and e.roc))}
        return forward, tables.namespaces_to_hip
    forward = {h: (e.cuda, e.category) for h, e in tables.to_cuda.items() if e.category != "headers"}
    if roc:
        for r, e in tables.roc_to_cuda.items():
            forward.setdefault(r, (e.cuda, e.category))
    for alias, cuda_text in tables.hip_aliases.items():
        forward.setdefault(alias, (cuda_text, "device"))
    return forward, tables.namespaces_to_cuda


def rename_identifiers(src: SourceEdit, tables: MapTables, to: str, roc: bool) -> None:
    forward, namespaces = _forward_names(to, roc)
    sig, texts, kinds, out = src.sig, src.stexts, src.skinds, src.out
    n = len(sig)
    by_text = src.by_text
    # the spellings that have a mapping, in order of first use (so the counts come out in that order)
    mapped = by_text.keys() & forward.keys() | by_text.keys() & namespaces.keys()
    src.fill_positions(mapped)
    for text in sorted(mapped, key=lambda t: by_text[t][0]):
        positions = by_text[text]
        hit = forward.get(text)
        if hit is None:
            if text in namespaces:
                for si in positions:
                    if si + 1 < n and texts[si + 1] == "::" and kinds[si] == "ident":
                        out[sig[si]] = namespaces[text]
                        src.count("cub")
            continue
        for si in positions:
            if kinds[si] != "ident":
                continue
            if si > 0 and texts[si - 1] in (".", "->"):
                continue  # a member that happens to share an API name
            out[sig[si]] = hit[0]
            src.count(hit[1])


@functools.lru_cache(maxsize=8)
def _header_names(to: str, roc: bool) -> dict[str, str]:
    tables = load_maps()
    header_map: dict[str, str] = {}
    if to == "hip":
        for e in tables.entries:
            if e.category == "headers" and (e.hip or (roc and e.roc)):
                header_map[e.cuda] = e.roc if roc and e.roc else e.hip
        return header_map
    for hip, e in tables.to_cuda.items():
        if e.category == "headers" and hip:
            header_map[hip] = e.cuda
    for hip, cuda in tables.hip_header_aliases.items():
        header_map.setdefault(hip, cuda)
    if roc:
        for r, e in tables.roc_to_cuda.items():
            if e.category == "headers":
                header_map.setdefault(r, e.cuda)
    return header_map


def rename_includes(src: SourceEdit, tables: MapTables, to: str, roc: bool) -> list[str]:
    """Rewrite vendor #include targets; return the project-local ("...") includes seen."""
    header_map = _header_names(to, roc)
    local: list[str] = []
    runtime_seen = False
    for ti in src.include_tis:
        text = src.token_text(ti)
        delim, name = include_target(text)
        new = header_map.get(name)
        if new is None and to == "cuda" and name.startswith("hipcub/") and name.endswith(".hpp"):
            new = "cub/" + name[len("hipcub/"):-len(".hpp")] + ".cuh"  # hipCUB mirrors CUB's layout
        if new is not None:
            src.out[ti] = text.replace(name, new, 1)
            src.count("headers")
            if to == "hip" and new in NEED_RUNTIME_FIRST and not runtime_seen:
                # older HIP releases' cooperative-groups header uses hip_runtime.h macros without
                # including it; CUDA files often include <cooperative_groups.h> first
                src.out[ti] = text.replace(name, HIP_RUNTIME_HEADER, 1) + "\n" + src.out[ti]
                runtime_seen = True
        elif delim == '"':
            local.append(name)
        runtime_seen = runtime_seen or HIP_RUNTIME_HEADER in src.out[ti]
    return local


@functools.lru_cache(maxsize=1)
def _roc_only_names() -> frozenset[str]:
    """CUDA names whose only counterpart is a ROC-library name (reachable with --roc)."""
    return frozenset(c for c, e in load_maps().to_hip.items() if not e.hip and e.roc)


_NOT_A_TYPE = frozenset({"return", "else", "case", "new", "delete", "goto", "throw", "sizeof", "co_return",
                         "co_yield", "define", "undef", "ifdef", "ifndef", "if", "elif", "defined"})


def _declared_here(src: SourceEdit, positions: list[int]) -> bool:
    """A variable or parameter the file declares (``hipStream_t rocblas_stream = ...``): its own name."""
    for si in positions:
        if si < 1:
            continue
        prev, nxt = src.stexts[si - 1], src.stext(si + 1)
        if ((src.skinds[si - 1] == "ident" and prev not in _NOT_A_TYPE) or prev in ("*", "&", "&&")) and \
                nxt in ("=", ";", ",", "[", "{", ")", ":") and not src.sdirective[si - 1]:
            return True
    return False


def _no_counterpart(tables: MapTables, to: str, name: str) -> tuple[str, str] | None:
    """(library, note) when ``name`` is documented without a counterpart in the target dialect."""
    if to == "hip":
        lib = tables.cuda_only.get(name)
        if lib is not None:
            return lib, ""
        e = tables.to_hip.get(name)
        if e is not None and not e.hip and e.roc:
            return e.category, f"{ROC_LIBRARY.get(e.category, 'ROCm library')} name {e.roc} with --roc"
        return None
    lib = tables.hip_only.get(name)
    return (lib, "") if lib is not None else None


def _report_candidates(src: SourceEdit, pattern: re.Pattern, no_counterpart: dict[str, str],
                       roc_only: frozenset[str]) -> list[str]:
    """The spellings ``report_unconverted`` has to look at, in order of first use: those without a
    counterpart and those in the vendor's API family (``pattern``). The family is found in one regex
    scan of the distinct spellings joined by newlines; only identifiers are reported, and they never
    contain a newline, so the pieces of a multi-line string literal may be found but never matter."""
    by_text = src.by_text
    found = by_text.keys() & no_counterpart.keys() | by_text.keys() & roc_only
    found.update(h for h in _FAMILY_LINES[pattern].findall("\n".join(by_text)) if h in by_text and pattern.match(h))
    src.fill_positions(found)
    return sorted(found, key=lambda t: by_text[t][0])


def report_unconverted(src: SourceEdit, tables: MapTables, to: str,
                       local_names: set[str] | LocalNames) -> list[Unconverted]:
    """Names left in the source dialect: documented without a counterpart, or not known at all.

    A name the project defines itself (``local_names``) is never reported."""
    pattern = CUDA_API_NAME if to == "hip" else HIP_API_NAME
    same = tables.same
    found: list[Unconverted] = []
    sig, texts, kinds, out = src.sig, src.stexts, src.skinds, src.out
    no_counterpart = tables.cuda_only if to == "hip" else tables.hip_only
    roc_only = _roc_only_names() if to == "hip" else frozenset()
    by_text = src.by_text
    for name in _report_candidates(src, pattern, no_counterpart, roc_only):
        positions = by_text[name]
        library, note = "", ""
        missing = _no_counterpart(tables, to, name) if (name in no_counterpart or name in roc_only) else None
        if missing is not None:
            if name in local_names:
                continue
            reason = "no counterpart"
            library, note = missing
        elif pattern.match(name) and name not in same and name not in KEEP_AS_WRITTEN and \
                name not in local_names and not _declared_here(src, positions):
            reason = "unknown name"
        else:
            continue
        for si in positions:
            if kinds[si] != "ident" or out[sig[si]] != name:
                continue
            if reason == "unknown name" and si > 0 and texts[si - 1] in (".", "->"):
                continue
            line, col = src.lines.line_col(src.sstarts[si])
            found.append(Unconverted(name=name, file=src.filename, line=line, col=col, reason=reason,
                                     library=library, note=note))
    found.sort(key=lambda u: (u.line, u.col))
    for ti in src.include_tis:
        text = src.token_text(ti)
        if src.out[ti] == text:
            _, name = include_target(text)
            missing = _no_counterpart(tables, to, name)
            if missing is not None:
                line, col = src.lines.line_col(src.token(ti).start)
                found.append(Unconverted(name=name, file=src.filename, line=line, col=col, reason="no counterpart",
                                         library=missing[0], note=missing[1]))
    return found


def _at_or_before(version: str, target: tuple[int, ...] | None) -> bool:
    """True when ``version`` (a documented release) is set and not after ``target`` (None: any release)."""
    if not version:
        return False
    try:
        return target is None or parse_version(version) <= target
    except ValueError:
        return False


def version_notes(src: SourceEdit, tables: MapTables, to: str, roc: bool, *, cuda_version: str = "13.0",
                  rocm_version: str | None = None) -> None:
    """Report, once per name, translated names the target release deprecates, removed or does not have yet.

    CUDA -> HIP checks the HIP (with ``roc``: ROC) name against ``rocm_version`` (None: the newest
    release: every documented deprecation or removal is reported); HIP -> CUDA checks the chosen CUDA
    name against ``cuda_version``."""
    if roc and tables.argument_notes:
        _argument_notes(src, tables, to)
    target = parse_version(rocm_version) if (to == "hip" and rocm_version) else None
    if to == "cuda":
        target = parse_version(cuda_version)
    rows, fact = tables.api_rows, tables.api_fact
    forward = tables.to_hip if to == "hip" else tables.to_cuda
    present = src.by_text.keys()
    if to == "hip":
        candidates = present & rows.keys()
    else:
        candidates = present & forward.keys() | (present & tables.roc_to_cuda.keys() if roc else set())
    src.fill_positions(candidates)
    for name in sorted(candidates, key=lambda n: src.by_text[n][0]):
        positions = src.by_text[name]
        if to == "hip":
            e = forward.get(name)
            if e is None or name not in rows:
                continue
            side = "roc" if roc and e.roc else "hip"
            new = e.roc if side == "roc" else e.hip
            cuda = name
            release = "ROCm"
        else:
            e = forward.get(name) or (tables.roc_to_cuda.get(name) if roc else None)
            if e is None or e.cuda not in rows:
                continue
            side, new, cuda, release = "cuda", e.cuda, e.cuda, "CUDA"
        removed, deprecated, added = (fact(cuda, f"{side}_removed"), fact(cuda, f"{side}_deprecated"),
                                      fact(cuda, f"{side}_added"))
        si = positions[0]
        if src.skinds[si] != "ident" or (si > 0 and src.stext(si - 1) in (".", "->")):
            continue
        where = f" ({release} {'.'.join(map(str, target))} targeted)" if target else ""
        if _at_or_before(removed, target):
            _api_note(src, si, "api-removed", "warning",
                      f"{new} (for {name}) was removed in {release} {removed}{where}; rewrite with its replacement")
        elif _at_or_before(deprecated, target):
            _api_note(src, si, "api-deprecated", "info", f"{new} (for {name}) is deprecated since {release} {deprecated}")
        elif target is not None and added:
            try:
                newer = parse_version(added) > target
            except ValueError:
                newer = False
            if newer:
                _api_note(src, si, "api-unavailable", "warning",
                          f"{new} (for {name}) was added in {release} {added}, after the targeted "
                          f"{'.'.join(map(str, target))}")


def _api_note(src: SourceEdit, si: int, kind: str, severity: str, message: str) -> None:
    """A finding about one name's API release: its region is the line (no syntax tree needed, so files
    without code hazards are never parsed for it)."""
    line, col = src.lines.line_col(src.sstarts[si])
    region = SourceRegion(file=src.filename, start_line=line, end_line=line, text=src.source_lines(line, line))
    src.hazards.append(Hazard(file=src.filename, line=line, col=col, kind=kind, severity=severity, message=message,
                              region=region))


def _argument_notes(src: SourceEdit, tables: MapTables, to: str) -> None:
    """With --roc: calls whose ROC function orders or takes its arguments differently from CUDA's."""
    notes = tables.argument_notes
    if to == "hip":
        by_cuda = {c: e.roc for c, e in tables.to_hip.items() if e.roc in notes}
        names = {n: by_cuda[n] for n in src.by_text if n in by_cuda}
    else:
        names = {n: n for n in src.by_text if n in notes}
    for name, roc_name in names.items():
        for si in src.by_text[name]:
            if src.stext(si + 1) == "(" and src.stext(si - 1) not in (".", "->"):
                other = tables.roc_to_cuda[roc_name].cuda if to == "cuda" and roc_name in tables.roc_to_cuda else roc_name
                src.hazard(si, "api-arguments", "warning",
                           f"{name} -> {other}: arguments differ: {notes[roc_name]}",
                           span=(src.statement_start(si), src.statement_end(si)))
