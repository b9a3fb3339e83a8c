from __future__ import annotations

import click

from portkern.cli.output import emit_json, json_option, table
from portkern.errors import TranslateError
from portkern.translate.paths import translate_tree


@click.command("translate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--to", "to", type=click.Choice(["hip", "cuda"]), required=True, help="Dialect to produce.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False),
              help="Write translated files here (other files under folder inputs are copied).")
@click.option("--in-place", is_flag=True, help="Overwrite the input files.")
@click.option("--launch-syntax", type=click.Choice(["chevron", "ggl"]), default="chevron", show_default=True,
              help="HIP output: keep <<<...>>> or emit hipLaunchKernelGGL.")
@click.option("--roc", is_flag=True, help="Use rocBLAS/rocSOLVER names instead of hipBLAS/hipSOLVER.")
@click.option("-I", "--include-dir", "include_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Where to look for project headers included with \"...\".")
@click.option("--arch", default=None, help="GPU architecture for build files (sm_90, gfx942; default: the "
                                              "counterpart of the one in the build file, else sm_90 / gfx942).")
# --- target releases (API-version checks and the CUDA 13 forms) ---
@click.option("--cuda-version", default=None, metavar="X.Y",
              help="CUDA release the HIP->CUDA output must compile with [default: installed nvcc's, else 13.0].")
@click.option("--rocm-version", default=None, metavar="X.Y",
              help="ROCm release to check CUDA->HIP names against (deprecated/removed) [default: newest].")
# ---
@click.option("--report", is_flag=True, help="Print per-file converted/unconverted counts and hazards.")
@json_option
def command(paths, to, out_dir, in_place, launch_syntax, roc, include_dirs, arch, cuda_version, rocm_version, report,
            as_json):
    """Translate CUDA <-> HIP sources (with the project headers they include), Makefiles and CMake files.

    \b
    portkern translate kernels/ --to hip -o out/
    portkern translate src/gemm.cpp --to cuda --report
    """
    if out_dir and in_place:
        raise click.UsageError("use either -o/--out or --in-place, not both")
    from portkern.translate.versions import check_release, installed_cuda_version
    cuda_version = check_release(cuda_version, "--cuda-version") if cuda_version else installed_cuda_version()
    rocm_version = check_release(rocm_version, "--rocm-version") if rocm_version else None
    tree = translate_tree(list(paths), to, out_dir=out_dir, in_place=in_place, launch_syntax=launch_syntax,
                          roc=roc, include_dirs=list(include_dirs), arch=arch,
                          cuda_version=cuda_version, rocm_version=rocm_version)
    for s in tree.skipped:
        click.echo(f"{s.file}: warning: not translated: {s.reason}", err=True)
    for r in tree.results:
        for h in r.hazards:
            if h.kind == "syntax-error":
                click.echo(f"{h.file}:{h.line}: warning: {h.message}", err=True)
    if not tree.translated_count:
        raise TranslateError("nothing was translated: every input was skipped (see the warnings above)",
                             hint="pass CUDA/HIP source files, Makefiles or CMakeLists.txt")
    written = bool(out_dir or in_place)
    if as_json:
        emit_json([r.to_dict() | {"text": None if written else r.text} for r in tree.results] +
                  [b.to_dict() | {"text": None if written else b.text} for b in tree.build_files])
        return
    if not (written or report):
        texts = [(r.filename, r.text) for r in tree.results] + [(b.filename, b.text) for b in tree.build_files]
        for name, text in texts:
            if len(texts) > 1:
                click.echo(f"==> {name} <==")
            click.echo(text, nl=not text.endswith("\n") and len(texts) > 1)
        return
    rows = [[r.filename, r.changed_count, len(r.unconverted), len(r.hazards),
             sum(h.fixed for h in r.hazards), len(r.unfixed_hazards())] for r in tree.results]
    rows += [[b.filename, len(b.changes), "", "", "", ""] for b in tree.build_files]
    table(f"portkern translate --to {to}", ["file", "converted", "unconverted", "hazards", "fixed", "open"], rows)
    if tree.copied:
        click.echo(f"copied unchanged: {len(tree.copied)} file(s)")
    if report:
        for r in tree.results:
            for u in r.unconverted:
                click.echo(f"{u.file}:{u.line}:{u.col}: unconverted {u.name} ({u.reason})")
            for h in r.hazards:
                state = "fixed" if h.fixed else "open"
                click.echo(f"{h.file}:{h.line}:{h.col}: {h.severity}: [{h.kind}, {state}] {h.message}")
        for b in tree.build_files:
            for change in b.changes:
                click.echo(f"{b.filename}: build: {change}")
