"""Translation throughput (MB of source per second, one core) and the mapping-table counts.

    .venv/bin/python benchmarks/bench_translate.py [--repeat N]

The corpus is every source and header of libraries/nn (CUDA -> HIP) and libraries/blas + solver
(HIP -> CUDA), translated N times in this process.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from portkern.translate import translate_source
from portkern.translate.readme import counts_table

REPO = Path(__file__).resolve().parent.parent
SUFFIXES = {".cu", ".cuh", ".cpp", ".hpp", ".h", ".hip"}


def corpus(lib: str) -> list[tuple[str, str]]:
    folder = REPO / "libraries" / lib
    return [(str(p.relative_to(REPO)), p.read_text()) for p in sorted(folder.rglob("*")) if p.suffix in SUFFIXES]


def measure(files: list[tuple[str, str]], to: str, repeat: int) -> tuple[float, float, float, int]:
    """MB translated, CPU seconds of this process (one core), wall seconds, hazards per pass."""
    total_bytes = sum(len(text.encode()) for _, text in files) * repeat
    wall0, cpu0 = time.perf_counter(), time.process_time()
    hazards = 0
    for _ in range(repeat):
        for name, text in files:
            hazards += len(translate_source(text, to, filename=name).hazards)
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    return total_bytes / 1e6, cpu, wall, hazards // max(repeat, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    translate_source("", "hip")  # load the tables once, outside the timing
    print("throughput per CPU second of one core (wall-clock rate in brackets; lower on a busy machine)")
    print(f"{'direction':<14}{'files':>7}{'MB':>9}{'cpu s':>8}{'MB/s':>8}{'(wall MB/s)':>13}{'hazards/pass':>14}")
    for label, libs, to in (("CUDA -> HIP", ["nn"], "hip"), ("HIP -> CUDA", ["blas", "solver"], "cuda")):
        files = [f for lib in libs for f in corpus(lib)]
        if not files:
            print(f"{label:<14} (no sources under libraries/{'+'.join(libs)})")
            continue
        mb, cpu, wall, hazards = measure(files, to, args.repeat)
        print(f"{label:<14}{len(files):>7}{mb:>9.2f}{cpu:>8.2f}{mb / cpu:>8.2f}{f'({mb / wall:.2f})':>13}{hazards:>14}")
    print()
    print(counts_table())


if __name__ == "__main__":
    main()
