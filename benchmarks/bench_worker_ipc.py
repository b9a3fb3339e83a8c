"""How fast a sandboxed worker's reply reaches the caller: a timing's reply carries whole buffers (the
timed runs' inputs and outputs, hundreds of MB at the bench sizes), so this is part of every bench.

    python benchmarks/bench_worker_ipc.py [--mb 64 128 256] [--repeat 3]

One persistent worker (``portkern.worker.Worker``, the same sandbox and protocol as the device workers)
returns float32 arrays of the given total sizes; the figure is wall time per reply, from the call to the
decoded arrays in the caller (the array's creation in the worker included), best of the repeats.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def reply_of(total_bytes: int) -> dict:
    import numpy as np

    part = np.ones(total_bytes // 8, dtype=np.float32)       # two arrays, as a timed run's x and y
    return {"buffers": {"x": [part], "y": [part.copy()]}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, nargs="+", default=[64, 256, 512])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from portkern.worker import Worker

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_worker_ipc import reply_of as make  # by module name: the worker imports it too

    worker = Worker()
    try:
        worker.call(make, (1 << 20,), 60, "warm-up")
        print("| reply MB | best s | MB/s |")
        print("|---|---|---|")
        for mb in args.mb:
            best = float("inf")
            for _ in range(args.repeat):
                start = time.perf_counter()
                worker.call(make, (mb << 20,), 300, f"{mb} MB")
                best = min(best, time.perf_counter() - start)
            print(f"| {mb} | {best:.3f} | {mb / best:.0f} |", flush=True)
    finally:
        worker.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
