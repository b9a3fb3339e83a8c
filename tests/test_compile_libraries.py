"""Every source file of every library compiles for the targets of its own dialect (HIP: mi300x,
mi250x; CUDA: h100, a100), with each kernel's launch instantiations as entries. Cross-dialect
builds come after translation and are exercised by the pipeline's integration tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from portkern.compile.parallel import CompileJob, compile_many
from portkern.library import instantiate, kernel_env, library_names, load_library
from portkern.model import CompileOptions
from portkern.targets import get_target

DIALECT_TARGETS = {"hip": ["mi300x", "mi250x"], "cuda": ["h100", "a100"]}
TOOLS = {"hip": ["hipcc", "clang-22", "clang-21", "clang-20", "clang-19", "clang"], "cuda": ["nvcc"]}


def entry_expressions(lib, source: Path) -> list[str]:
    exprs: list[str] = []
    for kernel in lib.kernels:
        if (Path(lib.root) / kernel.file).resolve() != source.resolve():
            continue
        sizes = kernel.sizes_validate[0] if kernel.sizes_validate else {}
        env = kernel_env(kernel, sizes)
        for dtype in kernel.dtypes:
            for launch in kernel.launches:
                targs = instantiate(launch.template_args, dtype, env) if launch.template_args else []
                expr = f"{launch.symbol}<{', '.join(targs)}>" if targs else launch.symbol
                if expr not in exprs:
                    exprs.append(expr)
    return exprs


def library_jobs(name: str, cache_dir: Path) -> list[CompileJob]:
    lib = load_library(name)
    includes = [str((Path(lib.root) / d).resolve()) for d in lib.include_dirs]
    jobs = []
    for source in lib.source_files():
        entries = entry_expressions(lib, source)
        for target_name in DIALECT_TARGETS[lib.dialect]:
            target = get_target(target_name)
            from portkern import backends

            backend = type(backends.for_target(target))(cache_dir=cache_dir)
            options = CompileOptions(include_dirs=[str(source.parent.resolve()), *includes],
                                     flags=list(lib.compile_flags), entries=entries)
            jobs.append(CompileJob(source.read_text(), target, options, name=f"{name}-{source.stem}",
                                   backend=backend))
    return jobs


@pytest.mark.slow
@pytest.mark.parametrize("name", ["blas", "solver", "nn"])
def test_every_library_source_compiles_for_its_dialects_targets(name, tmp_path):
    if name not in library_names():
        pytest.skip(f"libraries/{name}/library.yaml is not present")
    lib = load_library(name)
    if not any(shutil.which(t) for t in TOOLS[lib.dialect]):
        pytest.skip(f"no {lib.dialect} compiler installed ({', '.join(TOOLS[lib.dialect])})")
    jobs = library_jobs(name, tmp_path)
    assert jobs, f"library {name} lists no source files"
    outcomes = compile_many(jobs)
    failures = [f"{o.job.name} for {o.job.target.name}: {str(o.error)[:1500]}" for o in outcomes if not o.ok]
    assert not failures, "\n\n".join(failures)
    for o in outcomes:
        result = o.result
        assert result.entry_symbols, f"{o.job.name} for {o.job.target.name}: no kernels in the binary"
        assert set(result.entry_map) == set(o.job.options.entries)
        for symbol in result.entry_map.values():
            rep = result.resources[symbol]
            assert rep.registers > 0
            assert rep.shared_bytes <= o.job.target.shared_bytes_per_block
            assert 0 < rep.occupancy_fraction <= 1.0
