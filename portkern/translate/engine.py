"""translate_source: one file, CUDA -> HIP or HIP -> CUDA."""

from __future__ import annotations

from portkern.errors import TranslateError
from portkern.translate import compat, hazards, hostapi, launch, names, warp
from portkern.translate.maps import load_maps
from portkern.translate.records import TranslationResult
from portkern.translate.source import SourceEdit
from portkern.translate.tokens import without_cyclic_gc

DIRECTIONS = ("hip", "cuda")
LAUNCH_SYNTAXES = ("chevron", "ggl")


def translate_source(text: str, to: str, *, launch_syntax: str = "chevron", roc: bool = False,
                     filename: str = "<src>", extra_local_names: set[str] | frozenset[str] = frozenset(),
                     analyze: bool = True, cuda_version: str = "13.0",
                     rocm_version: str | None = None) -> TranslationResult:
    """Translate one translation unit (the options: ``translate_with_definitions``)."""
    return translate_with_definitions(text, to, launch_syntax=launch_syntax, roc=roc, filename=filename,
                                      extra_local_names=extra_local_names, analyze=analyze,
                                      cuda_version=cuda_version, rocm_version=rocm_version)[0]


def translate_with_definitions(text: str, to: str, *, launch_syntax: str = "chevron", roc: bool = False,
                               filename: str = "<src>", extra_local_names: set[str] | frozenset[str] = frozenset(),
                               analyze: bool = True, cuda_version: str = "13.0",
                               rocm_version: str | None = None) -> tuple[TranslationResult, set[str]]:
    """Translate one translation unit; also return the names it defines itself (project-wide reports).

    ``to``: "hip" (CUDA -> HIP) or "cuda" (HIP -> CUDA). ``launch_syntax``: for HIP output, keep
    ``<<<...>>>`` ("chevron", the default) or emit ``hipLaunchKernelGGL`` ("ggl"). ``roc``: use rocBLAS/
    rocSOLVER names instead of hipBLAS/hipSOLVER (and accept them when translating to CUDA).
    ``extra_local_names``: names defined by the project's own headers (not reported as unconverted).
    ``cuda_version``: the CUDA release HIP -> CUDA output must compile with (CUDA 13 forms from 13.0);
    ``rocm_version``: the ROCm release CUDA -> HIP names are checked against (None: the newest).
    """
    if to not in DIRECTIONS:
        raise TranslateError(f"{filename}: unknown target dialect '{to}'", hint="use to='hip' or to='cuda'")
    if launch_syntax not in LAUNCH_SYNTAXES:
        raise TranslateError(f"{filename}: unknown launch syntax '{launch_syntax}'",
                             hint="use 'chevron' (<<<...>>>) or 'ggl' (hipLaunchKernelGGL)")
    with without_cyclic_gc():
        return _translate(text, to, launch_syntax=launch_syntax, roc=roc, filename=filename,
                          extra_local_names=extra_local_names, analyze=analyze, cuda_version=cuda_version,
                          rocm_version=rocm_version)


def _translate(text: str, to: str, *, launch_syntax: str, roc: bool, filename: str,
               extra_local_names: set[str] | frozenset[str], analyze: bool, cuda_version: str,
               rocm_version: str | None) -> tuple[TranslationResult, set[str]]:
    tables = load_maps()
    src = SourceEdit(text, filename)
    defined = names.local_definitions(src)
    local_names = names.LocalNames(defined, extra_local_names)

    # Token renames first; rules that rewrite whole spans build their text from the renamed tokens.
    names.rename_identifiers(src, tables, to, roc)
    local_includes = names.rename_includes(src, tables, to, roc)
    if analyze:
        hazards.analyze(src, tables, to)
    names.version_notes(src, tables, to, roc, cuda_version=cuda_version, rocm_version=rocm_version)
    needs_cg_helpers = False
    preambles: list[str] = []
    if to == "hip":
        warp.lower_to_hip(src, tables)
        own_hints = compat.own_hint_overloads(src, tables, local_names)
        if compat.cache_hints_to_hip(src, tables, local_names) or own_hints:
            preambles.append(compat.NONTEMPORAL_PREAMBLE)
        preambles.append(own_hints)
        preambles.append(compat.simd_to_hip(src, local_names))
        preambles.append(compat.int_minmax_to_hip(src, local_names))
        hostapi.host_calls_to_hip(src)
        needs_cg_helpers = compat.cooperative_groups_to_hip(src)
        if launch_syntax == "ggl":
            launch.chevron_to_ggl(src)
    else:
        warp.raise_to_cuda(src, tables)
        compat.cache_hints_to_cuda(src, tables)
        preambles += hostapi.host_calls_to_cuda(src, cuda_version)
        preambles += [f"#include <{h}>" for h in compat.cub_functors_to_cuda(src, cuda_version)]
        compat.rocwmma_to_cuda(src)
        compat.dynamic_shared_to_cuda(src)
        preambles.append(compat.float_atomics_to_cuda(src, local_names))
        preambles.append(compat.amd_device_functions_to_cuda(src, local_names))
        preambles.insert(0, compat.assert_header_for_cuda(src))
        launch.ggl_to_chevron(src)
    src.apply_spans()
    if needs_cg_helpers:
        compat.insert_after_includes(src, compat.CG_PREAMBLE)
    for text in [p for p in preambles if p]:
        compat.insert_after_includes(src, text)
    unconverted = names.report_unconverted(src, tables, to, local_names)
    src.hazards.sort(key=lambda h: (h.line, h.col))
    return TranslationResult(filename=filename, to=to, text=src.result_text(), converted=dict(src.counts),
                             unconverted=unconverted, hazards=src.hazards, local_includes=local_includes), defined
