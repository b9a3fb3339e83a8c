"""Ingest throughput on a large generated tree.

Replicates the library sources (every ``libraries/*`` folder plus the rocBLAS-like test tree) into a
temporary tree of at least ``--lines`` lines. Each replica renames the names the library defines
(``axpy_kernel`` -> ``axpy_kernel_r7``), so replicas are distinct kernels, as in a real large
library, and no file's content repeats. Prints lines/second for a cold run (empty cache) and a warm
re-run (per-file content-hash cache). Runs on one core: tree-sitter and ingest are single-threaded.

    .venv/bin/python benchmarks/bench_ingest.py [--lines 100000]
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import time
from pathlib import Path

from portkern.ingest import ingest_tree
from portkern.ingest.build import FileCache

REPO = Path(__file__).resolve().parent.parent
SOURCE_SUFFIXES = (".h", ".hpp", ".cuh", ".cpp", ".cu", ".hip", ".inl")


def seed_trees() -> list[Path]:
    trees = sorted(p for p in (REPO / "libraries").iterdir() if p.is_dir()) if (REPO / "libraries").is_dir() else []
    return trees + [REPO / "tests" / "fixtures" / "rocblas_like"]


def defined_names(root: Path) -> set[str]:
    """Names a tree defines (kernels, helpers, types, macros), found by ingesting it once."""
    catalog = ingest_tree(root)
    names = set(catalog.macros)
    for k in catalog.kernels:
        names.add(k.name)
        names.update(k.device_functions)
        names.update(k.types)
        names.update(k.macros)
    return {n for n in names if len(n) > 3}


def build_tree(dest: Path, min_lines: int) -> tuple[int, int]:
    seeds = []
    for tree in seed_trees():
        files = [p for p in sorted(tree.rglob("*")) if p.is_file() and p.suffix in SOURCE_SUFFIXES]
        if files:
            pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, defined_names(tree)), key=len,
                                                           reverse=True)) + r")\b")
            seeds.append((tree, files, pattern))
    lines = 0
    replicas = 0
    while lines < min_lines:
        for tree, files, pattern in seeds:
            for f in files:
                text = f.read_text(errors="replace")
                text = pattern.sub(lambda m, r=replicas: f"{m.group(1)}_r{r}", text)
                out = dest / f"r{replicas}" / tree.name / f.relative_to(tree)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(text)
                lines += text.count("\n") + 1
        replicas += 1
    return lines, replicas


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="portkern-bench-ingest-"))
    try:
        lines, replicas = build_tree(work, args.lines)
        cache = FileCache()
        t0, c0 = time.perf_counter(), time.process_time()
        catalog = ingest_tree(work, cache=cache)
        cold_s, cold_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        ingest_tree(work, cache=cache)
        warm_s, warm_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        print(f"tree: {lines} lines in {len(catalog.files)} files ({replicas} replicas of {len(seed_trees())} trees)")
        print(f"found: {len(catalog.kernels)} kernels, {len(catalog.units)} units, "
              f"{sum(len(k.launch_sites) for k in catalog.kernels)} launch sites, {len(catalog.skipped)} skipped regions")
        # CPU seconds are what one core spends; wall seconds also count waiting on a busy machine.
        print(f"cold: {cold_s:.2f} s wall, {cold_cpu_s:.2f} s CPU  ({lines / cold_cpu_s:,.0f} lines per CPU second)")
        print(f"warm: {warm_s:.2f} s wall, {warm_cpu_s:.2f} s CPU  ({lines / warm_cpu_s:,.0f} lines per CPU second, "
              f"per-file cache)")
        print(f"100k lines, cold: {100_000 * cold_cpu_s / lines:.2f} s CPU, {100_000 * cold_s / lines:.2f} s wall "
              f"(goal < 5 s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
