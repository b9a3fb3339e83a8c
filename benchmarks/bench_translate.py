"""Translation throughput (MB of source per second, one core) and the mapping-table counts.

    .venv/bin/python benchmarks/bench_translate.py [--repeat N] [--tree-cuda DIR] [--tree-hip DIR] [--cli]

The corpus is every source and header of libraries/nn (CUDA -> HIP) and libraries/blas + solver
(HIP -> CUDA), translated N times in this process. Large trees: ``--tree-cuda`` (a CUDA tree translated
to HIP, e.g. ../shared/corpus/cuda-samples) and ``--tree-hip`` (a HIP tree translated to CUDA, e.g.
../shared/corpus/rocblas), each translated once file by file (``translate_source``) and once through
``translate_paths`` (project-wide local names, what the command line does). ``--cli`` times one small
file translated by the ``portkern`` command (CPU seconds of the child process, best of 5).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from portkern.translate import translate_source
from portkern.translate.readme import counts_table

REPO = Path(__file__).resolve().parent.parent
SUFFIXES = {".cu", ".cuh", ".cpp", ".hpp", ".h", ".hip"}
SMALL_FILE = """#include <cuda_runtime.h>
__global__ void scale(float* x, float a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] *= a;
}
int main() {
  float* d;
  cudaMalloc(&d, 1024 * sizeof(float));
  scale<<<4, 256>>>(d, 2.0f, 1024);
  cudaDeviceSynchronize();
  cudaFree(d);
  return 0;
}
"""


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


def tree(folder: Path) -> list[tuple[str, str]]:
    return [(str(p), p.read_text(errors="replace")) for p in sorted(folder.rglob("*"))
            if p.suffix in SUFFIXES and p.is_file()]


def measure_tree(folder: Path, to: str) -> None:
    from portkern.translate import translate_paths

    files = tree(folder)
    mb = sum(len(text.encode()) for _, text in files) / 1e6
    cpu0 = time.process_time()
    for name, text in files:
        translate_source(text, to, filename=name)
    cpu = time.process_time() - cpu0
    cpu0 = time.process_time()
    translate_paths([folder], to)
    cpu_paths = time.process_time() - cpu0
    print(f"{folder.name + ' -> ' + to:<28}{len(files):>6}{mb:>8.2f}{cpu:>9.2f}{mb / cpu:>8.2f}"
          f"{cpu_paths:>10.2f}{mb / cpu_paths:>8.2f}")


def measure_cli(runs: int = 5) -> float:
    """Best CPU seconds (user + system) of `portkern translate small.cu --to hip` in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "small.cu"
        src.write_text(SMALL_FILE)
        best = float("inf")
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([sys.executable, "-m", "portkern", "translate", str(src), "--to", "hip"], check=True,
                           capture_output=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            best = min(best, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--tree-cuda", type=Path, help="a CUDA source tree to translate to HIP")
    parser.add_argument("--tree-hip", type=Path, help="a HIP source tree to translate to CUDA")
    parser.add_argument("--cli", action="store_true", help="time one small file through the command line")
    args = parser.parse_args()
    if args.cli:
        print(f"command line, one small file: {measure_cli():.3f} CPU s (best of 5)")
    if args.tree_cuda or args.tree_hip:
        translate_source("", "hip")
        print("large trees, one pass (CPU seconds of one core)")
        print(f"{'tree':<28}{'files':>6}{'MB':>8}{'cpu s':>9}{'MB/s':>8}{'paths s':>10}{'MB/s':>8}")
        for folder, to in ((args.tree_cuda, "hip"), (args.tree_hip, "cuda")):
            if folder:
                measure_tree(folder, to)
        return
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
