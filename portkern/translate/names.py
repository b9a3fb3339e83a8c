"""Identifier, namespace and #include renaming from the mapping tables, plus unconverted-name reports."""

from __future__ import annotations

import re

from portkern.translate.maps import MapTables
from portkern.translate.records import Unconverted
from portkern.translate.source import SourceEdit
from portkern.translate.tokens import include_target

# Names that belong to the source vendor's API family; one left in the output is reported.
CUDA_API_NAME = re.compile(
    r"^(?:cuda[A-Z_]|cu[A-Z][a-z]|CU_|CUDA_|CUB_|cublas|cusparse|cusolver|curand|cufft|CUBLAS_|CUSPARSE_|"
    r"CUSOLVER_|CURAND_|CUFFT_|nvrtc|NVRTC_|__nv_|nv_bfloat|nvcuda)")
HIP_API_NAME = re.compile(
    r"^(?:hip[A-Z]|HIP_|hipblas|hipsparse|hipsolver|hiprand|hipfft|hipcub|HIPBLAS_|HIPSPARSE_|HIPSOLVER_|"
    r"HIPRAND_|HIPFFT_|HIPCUB_|rocblas_|rocsolver_|rocprim|__hip_|__builtin_amdgcn_|__ockl_|__ocml_)")

# Vendor macros that are meant to stay: platform tests pick a branch, they are not API calls.
KEEP_AS_WRITTEN = frozenset({
    "__HIP_PLATFORM_AMD__", "__HIP_PLATFORM_HCC__", "__HIP_PLATFORM_NVIDIA__", "__HIP_PLATFORM_NVCC__",
    "__HIP__", "HIP_VERSION", "HIP_VERSION_MAJOR", "HIP_VERSION_MINOR", "HIP_VERSION_PATCH",
    "CUDA_VERSION", "CUDART_VERSION", "__CUDA_ARCH_LIST__", "__CUDACC_VER_MAJOR__", "__CUDACC_VER_MINOR__",
    "__CUDACC_RTC__", "HIP_KERNEL_NAME", "hipLaunchKernelGGL", "__AMDGCN_WAVEFRONT_SIZE",
    "HIP_DYNAMIC_SHARED",
})

_DECL_KEYWORDS = frozenset({"struct", "class", "enum", "union", "namespace"})


def local_definitions(src: SourceEdit) -> set[str]:
    """Names the file defines itself (macros, types, functions): never reported as unconverted."""
    names: set[str] = set()
    sig, toks = src.sig, src.toks
    n = len(sig)
    for si in range(n):
        t = toks[sig[si]]
        if t.kind != "ident":
            continue
        prev = toks[sig[si - 1]].text if si > 0 else ""
        if prev == "define" and si > 1 and toks[sig[si - 2]].text == "#":
            names.add(t.text)
        elif prev in _DECL_KEYWORDS or prev == "using":
            names.add(t.text)
        elif si + 1 < n and toks[sig[si + 1]].text == "(" and prev not in ("", ";", "{", "}", "(", ",", "=",
                                                                              "return", ".", "->", "::"):
            # "<type> name(" at statement level: a function declaration or definition
            if toks[sig[si - 1]].kind == "ident" or prev in ("*", "&", ">"):
                names.add(t.text)
    return names


def rename_identifiers(src: SourceEdit, tables: MapTables, to: str, roc: bool) -> None:
    sig, toks, out = src.sig, src.toks, src.out
    if to == "hip":
        forward = {c: (e.roc if roc and e.roc else e.hip, e.category) for c, e in tables.to_hip.items()}
        namespaces = tables.namespaces_to_hip
    else:
        forward = {h: (e.cuda, e.category) for h, e in tables.to_cuda.items()}
        if roc:
            for r, e in tables.roc_to_cuda.items():
                forward.setdefault(r, (e.cuda, e.category))
        for alias, cuda_text in tables.hip_aliases.items():
            forward.setdefault(alias, (cuda_text, "device"))
        namespaces = tables.namespaces_to_cuda
    get = forward.get
    n = len(sig)
    for si in range(n):
        ti = sig[si]
        t = toks[ti]
        if t.kind != "ident":
            continue
        hit = get(t.text)
        if hit is None:
            if t.text in namespaces and si + 1 < n and toks[sig[si + 1]].text == "::":
                out[ti] = namespaces[t.text]
                src.count("cub")
            continue
        if si > 0 and toks[sig[si - 1]].text in (".", "->"):
            continue  # a member that happens to share an API name
        out[ti] = hit[0]
        src.count(hit[1])


def rename_includes(src: SourceEdit, tables: MapTables, to: str, roc: bool) -> list[str]:
    """Rewrite vendor #include targets; return the project-local ("...") includes seen."""
    header_map: dict[str, str] = {}
    for e in tables.entries:
        if e.category != "headers":
            continue
        if to == "hip":
            header_map[e.cuda] = e.roc if roc and e.roc else e.hip
    if to == "cuda":
        for hip, e in tables.to_cuda.items():
            if e.category == "headers":
                header_map[hip] = e.cuda
        if roc:
            for r, e in tables.roc_to_cuda.items():
                if e.category == "headers":
                    header_map.setdefault(r, e.cuda)
    local: list[str] = []
    for ti, t in enumerate(src.toks):
        if t.kind != "include":
            continue
        delim, name = include_target(t.text)
        new = header_map.get(name)
        if new is not None:
            src.out[ti] = t.text.replace(name, new, 1)
            src.count("headers")
        elif delim == '"':
            local.append(name)
    return local


def report_unconverted(src: SourceEdit, tables: MapTables, to: str, local_names: set[str]) -> list[Unconverted]:
    pattern = CUDA_API_NAME if to == "hip" else HIP_API_NAME
    no_counterpart = tables.cuda_only if to == "hip" else tables.hip_only
    same = tables.same
    found: list[Unconverted] = []
    sig, toks, out = src.sig, src.toks, src.out
    for si in range(len(sig)):
        ti = sig[si]
        t = toks[ti]
        if t.kind != "ident" or out[ti] != t.text:
            continue
        name = t.text
        if name in no_counterpart:
            reason = "no counterpart"
        elif pattern.match(name) and name not in same and name not in local_names and name not in KEEP_AS_WRITTEN:
            if si > 0 and toks[sig[si - 1]].text in (".", "->"):
                continue
            reason = "unknown name"
        else:
            continue
        line, col = src.lines.line_col(t.start)
        found.append(Unconverted(name=name, file=src.filename, line=line, col=col, reason=reason))
    for ti, t in enumerate(toks):
        if t.kind == "include" and src.out[ti] == t.text:
            _, name = include_target(t.text)
            if name in no_counterpart:
                line, col = src.lines.line_col(t.start)
                found.append(Unconverted(name=name, file=src.filename, line=line, col=col, reason="no counterpart"))
    return found
