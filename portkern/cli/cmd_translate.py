from __future__ import annotations

import click

from portkern.cli.output import emit_json, json_option, table
from portkern.translate import translate_paths


@click.command("translate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--to", "to", type=click.Choice(["hip", "cuda"]), required=True, help="Dialect to produce.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), help="Write translated files here.")
@click.option("--in-place", is_flag=True, help="Overwrite the input files.")
@click.option("--launch-syntax", type=click.Choice(["chevron", "ggl"]), default="chevron", show_default=True,
              help="HIP output: keep <<<...>>> or emit hipLaunchKernelGGL.")
@click.option("--roc", is_flag=True, help="Use rocBLAS/rocSOLVER names instead of hipBLAS/hipSOLVER.")
@click.option("-I", "--include-dir", "include_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Where to look for project headers included with \"...\".")
# --- target releases (API-version checks and the CUDA 13 forms) ---
@click.option("--cuda-version", default=None, metavar="X.Y",
              help="CUDA release the HIP->CUDA output must compile with [default: installed nvcc's, else 13.0].")
@click.option("--rocm-version", default=None, metavar="X.Y",
              help="ROCm release to check CUDA->HIP names against (deprecated/removed) [default: newest].")
# ---
@click.option("--report", is_flag=True, help="Print per-file converted/unconverted counts and hazards.")
@json_option
def command(paths, to, out_dir, in_place, launch_syntax, roc, include_dirs, cuda_version, rocm_version, report,
            as_json):
    """Translate CUDA <-> HIP sources (and the project headers they include).

    \b
    portkern translate kernels/ --to hip -o out/
    portkern translate src/gemm.cpp --to cuda --report
    """
    if out_dir and in_place:
        raise click.UsageError("use either -o/--out or --in-place, not both")
    from portkern.translate.versions import check_release, installed_cuda_version
    cuda_version = check_release(cuda_version, "--cuda-version") if cuda_version else installed_cuda_version()
    rocm_version = check_release(rocm_version, "--rocm-version") if rocm_version else None
    results = translate_paths(list(paths), to, out_dir=out_dir, in_place=in_place, launch_syntax=launch_syntax,
                              roc=roc, include_dirs=list(include_dirs), cuda_version=cuda_version,
                              rocm_version=rocm_version)
    if as_json:
        emit_json([r.to_dict() | {"text": None if (out_dir or in_place) else r.text} for r in results])
        return
    if not (out_dir or in_place or report):
        for r in results:
            click.echo(r.text, nl=False)
        return
    rows = [[r.filename, r.changed_count, len(r.unconverted), len(r.hazards),
             sum(h.fixed for h in r.hazards), len(r.unfixed_hazards())] for r in results]
    table(f"portkern translate --to {to}", ["file", "converted", "unconverted", "hazards", "fixed", "open"], rows)
    if report:
        for r in results:
            for u in r.unconverted:
                click.echo(f"{u.file}:{u.line}:{u.col}: unconverted {u.name} ({u.reason})")
            for h in r.hazards:
                state = "fixed" if h.fixed else "open"
                click.echo(f"{h.file}:{h.line}:{h.col}: {h.severity}: [{h.kind}, {state}] {h.message}")
