from __future__ import annotations

import click

from portkern.cli.output import console, emit_json, json_option, table
from portkern.errors import ConfigError
from portkern.ingest import ingest_library, ingest_tree
from portkern.ingest.build import FileCache
from portkern.ingest.cmake import read_cmake
from portkern.ingest.model import Kernel, KernelCatalog
from portkern.library import load_library


def _template(k: Kernel) -> str:
    parts = []
    for t in k.template_params:
        head = f"{t.type} {t.name}" if t.kind == "value" else t.name
        parts.append(head + ("..." if t.variadic else "") + (f"={t.default}" if t.default else ""))
    return "<" + ", ".join(parts) + ">" if parts else ""


def _sites(k: Kernel) -> str:
    return "\n".join(f"{s.file}:{s.line}" + (f" ({s.macro})" if s.macro else "") for s in k.launch_sites)


def _print(catalog: KernelCatalog, entries: dict[str, list[str]] | None = None) -> None:
    """``entries``: kernel symbol -> the library's names for it (what `port --kernels` takes)."""
    lead = (lambda k: [", ".join(entries.get(k.name, [])) or "-"]) if entries is not None else (lambda k: [])
    rows = [[*lead(k), k.name, f"{k.file}:{k.line}", _template(k), ", ".join(k.launch_bounds),
             ", ".join(k.intrinsics.categories()), _sites(k) or "-"] for k in catalog.kernels]
    head = (["kernel (port --kernels)", "symbol"] if entries is not None else ["kernel"])
    table(f"kernels in {catalog.root} ({catalog.lines} lines, {len(catalog.files)} files, {catalog.seconds:.2f} s)",
          [*head, "file:line", "template params", "launch bounds", "intrinsics", "launch sites"], rows)
    if catalog.skipped:
        table("skipped regions", ["file:line", "reason"], [[f"{s.file}:{s.line}", s.reason] for s in catalog.skipped])
    console.print(f"{len(catalog.kernels)} kernels, {len(catalog.units)} units, {len(catalog.skipped)} skipped regions")


@click.command("ingest")
@click.option("--lib", "lib", help="Library name (libraries/<name>/library.yaml) or path to a library.yaml.")
@click.option("--source", "source", type=click.Path(exists=True, file_okay=False),
              help="Root of an external source tree (a library checkout, a CUDA kernel collection).")
@click.option("--profile", type=click.Choice(["rocblas", "cuda"]), default=None,
              help="Conventions of the --source tree (which files, which macros); default: read every C/C++/CUDA file.")
@click.option("--source-root", "source_root", type=click.Path(exists=True, file_okay=False), default=None,
              help="With --lib: the checkout of a library whose manifest describes an external tree "
                   "(overrides its source_root and environment variable).")
@click.option("-D", "defines", multiple=True,
              help="With --source: a configuration macro NAME or NAME=VALUE (#if chains that need one).")
@click.option("--cmake", "cmake", is_flag=True,
              help="With --source: read the definitions the tree's CMakeLists.txt files set.")
@click.option("--unit", "unit", default=None, help="Print the self-contained unit extracted for this kernel.")
@json_option
def command(lib: str | None, source: str | None, profile: str | None, source_root: str | None,
            defines: tuple[str, ...], cmake: bool, unit: str | None, as_json: bool) -> None:
    """Parse a library's sources into a catalog of kernels: template parameters, launch bounds,
    helpers they need, intrinsics, launch sites, and a self-contained unit per kernel."""
    if bool(lib) == bool(source):
        raise ConfigError("ingest needs exactly one of --lib NAME or --source DIR",
                          hint="portkern ingest --lib blas   or   portkern ingest --source path/to/rocBLAS --profile rocblas")
    if lib and (defines or cmake):
        raise ConfigError("-D and --cmake go with --source; a library's manifest holds its own definitions",
                          hint="add them to the manifest's 'defines' (or set 'cmake: true')")
    if source and source_root:
        raise ConfigError("--source-root goes with --lib", hint="use --source DIR alone for a bare tree")
    library = load_library(lib, source_root=source_root) if lib else None
    if library is not None:
        catalog = ingest_library(library, cache=FileCache.in_store())
    else:
        config: dict[str, str | None] = read_cmake(source).defines if cmake else {}
        for item in defines:
            key, eq, value = item.partition("=")
            if not key.isidentifier():
                raise ConfigError(f"-D '{item}': expected NAME or NAME=VALUE")
            config[key] = value if eq else ""
        catalog = ingest_tree(source, profile=profile, defines=config, cache=FileCache.in_store())
    if unit:
        u = catalog.unit(unit)
        if as_json:
            emit_json(u.to_dict())
        else:
            click.echo(u.source)
        return
    if as_json:
        emit_json(catalog.to_dict())
        return
    entries: dict[str, list[str]] | None = None
    if library is not None:
        entries = {}
        for spec in library.kernels:
            for symbol in dict.fromkeys([spec.symbol, *(launch.symbol for launch in spec.launches)]):
                entries.setdefault(symbol, []).append(spec.name)
    _print(catalog, entries)
