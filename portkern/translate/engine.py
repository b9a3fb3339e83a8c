"""translate_source: one file, CUDA -> HIP or HIP -> CUDA."""

from __future__ import annotations

from portkern.errors import TranslateError
from portkern.translate import compat, hazards, hostapi, launch, names, warp
from portkern.translate.maps import load_maps
from portkern.translate.records import TranslationResult
from portkern.translate.source import SourceEdit

DIRECTIONS = ("hip", "cuda")
LAUNCH_SYNTAXES = ("chevron", "ggl")


def translate_source(text: str, to: str, *, launch_syntax: str = "chevron", roc: bool = False,
                     filename: str = "<src>", extra_local_names: set[str] | frozenset[str] = frozenset(),
                     analyze: bool = True) -> TranslationResult:
    """Translate one translation unit.

    ``to``: "hip" (CUDA -> HIP) or "cuda" (HIP -> CUDA). ``launch_syntax``: for HIP output, keep
    ``<<<...>>>`` ("chevron", the default) or emit ``hipLaunchKernelGGL`` ("ggl"). ``roc``: use rocBLAS/
    rocSOLVER names instead of hipBLAS/hipSOLVER (and accept them when translating to CUDA).
    ``extra_local_names``: names defined by the project's own headers (not reported as unconverted).
    """
    if to not in DIRECTIONS:
        raise TranslateError(f"{filename}: unknown target dialect '{to}'", hint="use to='hip' or to='cuda'")
    if launch_syntax not in LAUNCH_SYNTAXES:
        raise TranslateError(f"{filename}: unknown launch syntax '{launch_syntax}'",
                             hint="use 'chevron' (<<<...>>>) or 'ggl' (hipLaunchKernelGGL)")
    tables = load_maps()
    src = SourceEdit(text, filename)
    local_names = names.local_definitions(src) | set(extra_local_names)

    # Token renames first; rules that rewrite whole spans build their text from the renamed tokens.
    names.rename_identifiers(src, tables, to, roc)
    local_includes = names.rename_includes(src, tables, to, roc)
    if analyze:
        hazards.analyze(src, tables, to)
    needs_cg_helpers = False
    if to == "hip":
        warp.lower_to_hip(src, tables)
        compat.cache_hints_to_hip(src, tables)
        hostapi.host_calls_to_hip(src)
        needs_cg_helpers = compat.cooperative_groups_to_hip(src)
        if launch_syntax == "ggl":
            launch.chevron_to_ggl(src)
    else:
        warp.raise_to_cuda(src, tables)
        compat.cache_hints_to_cuda(src, tables)
        hostapi.host_calls_to_cuda(src)
        launch.ggl_to_chevron(src)
    src.apply_spans()
    if needs_cg_helpers:
        compat.insert_after_includes(src, compat.CG_PREAMBLE)
    unconverted = names.report_unconverted(src, tables, to, local_names)
    src.hazards.sort(key=lambda h: (h.line, h.col))
    return TranslationResult(filename=filename, to=to, text=src.result_text(), converted=dict(src.counts),
                             unconverted=unconverted, hazards=src.hazards, local_includes=local_includes)
