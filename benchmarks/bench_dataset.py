"""Dataset export speed (records per second) and the dataset size for the bundled libraries.

    python benchmarks/bench_dataset.py                 # export every run in runs/
    python benchmarks/bench_dataset.py --make-runs     # first port blas, solver and nn to mi300x and h100
    python benchmarks/bench_dataset.py --scale 20000   # also time export on N synthetic variants

Prints records in/out, seconds, records per second, bytes written per config, counts by type.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from portkern.dataset.export import collect_records, export


def make_runs(runs_dir: Path, budget: int) -> None:
    from portkern.pipeline.run import PortOptions, port

    for lib in ("blas", "solver", "nn"):
        for target in ("mi300x", "h100"):
            t0 = time.perf_counter()
            port(PortOptions(library=lib, target=target, budget=budget, run_id=f"bench-{lib}-{target}",
                             runs_dir=str(runs_dir)))
            print(f"ported {lib} -> {target} in {time.perf_counter() - t0:.1f} s", flush=True)


def size_report(out: Path) -> dict[str, int]:
    sizes: Counter = Counter()
    for f in out.rglob("*"):
        if f.name.endswith((".jsonl.gz", ".parquet")):
            sizes["/".join(f.relative_to(out).parts[:2])] += f.stat().st_size
    return dict(sizes)


def timed_export(run_dirs: list[Path], out: Path) -> dict:
    t0 = time.perf_counter()
    manifest = export(run_dirs, out)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "manifest": manifest}


def synthetic(records: list[dict], n: int, rng: random.Random) -> list[dict]:
    """n variants of real records, each with one identifier renamed (distinct code, same structure)."""
    out = []
    for i in range(n):
        rec = json.loads(json.dumps(rng.choice(records)))
        for key in ("source_code", "target_code", "code", "before_code", "after_code", "broken_code", "fixed_code"):
            if isinstance(rec.get(key), str):
                rec[key] = re.sub(r"\bi\b", f"idx_{i}", rec[key])
        rec["record_id"] = f"{i:064x}"[-64:]
        rec["provenance"]["family"] = f"{rec['provenance']['family']}-{i % 97}"
        out.append(rec)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"))
    ap.add_argument("--make-runs", action="store_true")
    ap.add_argument("--budget", type=int, default=2)
    ap.add_argument("--scale", type=int, default=0)
    args = ap.parse_args()
    if args.make_runs:
        make_runs(args.runs_dir, args.budget)
    run_dirs = sorted(p for p in args.runs_dir.glob("*") if (p / "inputs").exists()) if args.runs_dir.exists() else []
    if not run_dirs:
        print(f"no runs in {args.runs_dir}: run with --make-runs (or `make port` first)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        res = timed_export(run_dirs, Path(tmp) / "ds")
        m = res["manifest"]
        rate = m["records_in"] / res["seconds"] if res["seconds"] else 0.0
        print(f"runs: {len(run_dirs)} ({', '.join(sorted({json.loads((d / 'inputs' / 'options.json').read_text()).get('library', '?') for d in run_dirs if (d / 'inputs' / 'options.json').exists()}))})")
        print(f"records in {m['records_in']}, out {m['records_out']} (exact dups {m['dedup']['exact_duplicates']}, "
              f"near dups {m['dedup']['near_duplicates']}, contamination {len(m['contamination']['dropped'])})")
        print(f"export: {res['seconds']:.2f} s, {rate:.0f} records/s")
        print("by type:", json.dumps(m["counts"]["by_type"], sort_keys=True))
        print("by split:", json.dumps(m["counts"]["by_split"], sort_keys=True))
        print("bytes (gzip JSON lines, parquet):", json.dumps(size_report(Path(tmp) / "ds"), sort_keys=True))
        if args.scale:
            from portkern.dataset import export as ex

            base = collect_records(run_dirs)
            recs = synthetic(base, args.scale, random.Random(7))
            t0 = time.perf_counter()
            kept, stats = ex.dedup(recs)
            dt = time.perf_counter() - t0
            print(f"dedup of {len(recs)} synthetic variants: {dt:.2f} s, {len(recs) / dt:.0f} records/s, "
                  f"kept {len(kept)}, {stats}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
