from __future__ import annotations

from pathlib import Path

import click

from portkern import backends
from portkern.cli.output import console, emit_json, json_option, table, user_compile_error
from portkern.errors import CompileError, ConfigError
from portkern.library import load_library
from portkern.model import CompileOptions
from portkern.targets import get_target


def _parse_defines(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        key, _, value = item.partition("=")
        if not key:
            raise ConfigError(f"-D '{item}': expected NAME or NAME=VALUE")
        out[key] = value
    return out


@click.command("compile")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target", "target_name", required=True, help="Target GPU name (see `portkern targets`).")
@click.option("--entry", "entries", multiple=True, help="Kernel expression to instantiate, e.g. 'axpy<int, 256, float>'.")
@click.option("-I", "include_dirs", multiple=True, type=click.Path(file_okay=False), help="Include directory.")
@click.option("-D", "defines", multiple=True, help="Preprocessor definition NAME or NAME=VALUE.")
@click.option("-X", "--flag", "flags", multiple=True,
              help="Extra compiler flag, passed as given (repeat for several), e.g. -X -ffast-math or --flag=-O2.")
@click.option("--lib", "lib", default=None,
              help="Library (name or library.yaml) whose build flags apply: its include folders, definitions "
                   "and compile flags, as its own build uses them.")
@click.option("--no-cache", is_flag=True, help="Compile even when a cached result exists.")
@json_option
def command(file: Path, target_name: str, entries: tuple[str, ...], include_dirs: tuple[str, ...],
            defines: tuple[str, ...], flags: tuple[str, ...], lib: str | None, no_cache: bool, as_json: bool) -> None:
    """Compile FILE for a target with the real compiler and print each kernel's resources."""
    target = get_target(target_name)
    backend = backends.for_target(target)
    if no_cache:
        backend = type(backend)(use_cache=False)
    includes = [str(file.parent.resolve())] + [str(Path(d).resolve()) for d in include_dirs]
    for d in includes:
        if not Path(d).is_dir():
            raise ConfigError(f"-I '{d}': not a folder", hint="give an existing include folder")
    extra_flags = list(flags)
    if lib:
        library = load_library(lib)
        root = Path(library.root)
        includes += [str((root / d).resolve()) for d in library.include_dirs]
        # the library's definitions and flags first: -D and -X on the command line come later and win
        extra_flags = list(library.compile_flags) + extra_flags
    options = CompileOptions(entries=list(entries), include_dirs=includes, defines=_parse_defines(defines),
                             flags=extra_flags)
    try:
        result = backend.compile(file.read_text(), target, options, name=file.stem)
    except CompileError as exc:
        raise user_compile_error(exc, file) from None
    if as_json:
        data = result.to_dict()
        data.pop("binary")
        data["binary_bytes"] = len(result.binary)
        emit_json(data)
        return
    amd = target.vendor == "amd"
    columns = ["kernel", "VGPRs" if amd else "regs"] + (["AGPRs", "SGPRs"] if amd else []) + [
        "LDS B" if amd else "smem B", "scratch B" if amd else "local B", "spills", "max thr",
        "waves/SIMD" if amd else "warps/SMSP", "occupancy", "limiter"]
    names = {v: k for k, v in result.entry_map.items()}
    rows = []
    for sym, r in sorted(result.resources.items()):
        row = [names.get(sym, sym), r.registers] + ([r.agprs, r.sgprs] if amd else []) + [
            r.shared_bytes, r.local_bytes, r.spill_bytes, r.max_threads_per_block or "-",
            f"{r.occupancy_waves_per_simd:g}", f"{r.occupancy_fraction:.0%}", r.occupancy_limiter]
        rows.append(row)
    state = "cached" if result.cached else f"{result.compile_seconds:.2f} s"
    table(f"{file.name} -> {target.name} ({target.arch}, {result.code_type}, {len(result.binary)} bytes, {state})",
          columns, rows)
    console.print(f"compiler: {result.compiler}")
    for note in result.notes:
        console.print(f"note: {note}")
