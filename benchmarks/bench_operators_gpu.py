"""Transformation operators on libraries/blas, timed on an NVIDIA GPU against the library's kernel and cuBLAS.

Two steps, because the GPU machine may lack the translator's parser:

    python benchmarks/bench_operators_gpu.py --prepare build/ops     # any machine: translate, apply operators
    python benchmarks/bench_operators_gpu.py --run build/ops         # the GPU machine: validate and time each

``--prepare`` writes the CUDA translation of the library and, per kernel, the base unit and one unit per
operator sequence (``variants.json`` lists them); for the gemms, the sequences and tunable values are the
operators' suggested points (tile-gemm's 128 x 128 x 8 blocks of 8 x 8, ...). ``--run`` builds every unit with nvcc for the GPU,
validates it on the GPU (public and hidden cases) and times the valid ones at the first bench size with
the harness's protocol (device events, L2 flushed, rotating inputs, median and IQR), cuBLAS beside the
base in the same run; it prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SEQUENCES = {
    "axpy": [[("vectorize", 4)], [("vectorize", 4), ("cache-hints", 1)], [("vectorize", 2)]],
    "copy": [[("vectorize", 4)], [("vectorize", 4), ("cache-hints", 3)], [("cache-hints", 3)]],
    "scal": [[("vectorize", 4)]],
    "dot": [[("warp-reduce", 32)], [("vectorize", 4)], [("vectorize", 4), ("warp-reduce", 32)]],
    "nrm2": [[("vectorize", 4), ("warp-reduce", 32)]],
    "asum": [[("vectorize", 4), ("warp-reduce", 32)]],
    "iamax": [[("vectorize", 4)]],
}
# Kernels whose sequences are the operators' own suggested points (steps and tunable values).
SUGGESTED = ["gemm", "gemm_strided_batched", "gemm_batched"]


def prepare(out: Path) -> int:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_gpu_blas import translate_library

    from portkern.library import load_library
    from portkern.pipeline.stages import ingest_stage, library_digest, translate_stage
    from portkern.search.operators import KernelUnit, apply_sequence, operators_for
    from portkern.targets import get_target

    lib = load_library("blas")
    translate_library(lib, out / "blas-cuda")
    target = get_target("h200")
    listing = []
    for name in [*SEQUENCES, *SUGGESTED]:
        spec = lib.kernel(name)
        sequences = [(steps, {}) for steps in SEQUENCES.get(name, [])]
        sequences += [([(op.name, s.arg), *s.steps], dict(s.params))
                      for op in operators_for(target) for s in op.suggestions(spec.tunables, target)
                      if name in SUGGESTED]
        source = ingest_stage(lib, spec, library_digest(lib))["source"]
        result = translate_stage(source, lib.dialect, "cuda", spec.file)
        unit = KernelUnit(source=result["source"] if isinstance(result, dict) else result.payload["source"],
                          launches=list(spec.launches), dialect="cuda", rewritable=[spec.symbol])
        (out / f"{name}__base.cu").write_text(unit.source)
        listing.append({"kernel": name, "label": "base", "file": f"{name}__base.cu"})
        for steps, params in sequences:
            applied = apply_sequence(unit, [(s, target.wavefront if s == "warp-reduce" else a) for s, a in steps],
                                     target)
            if applied is None:
                print(f"{name}: {steps} does not apply", file=sys.stderr)
                continue
            label = " + ".join(applied.labels + [f"{k}={v}" for k, v in sorted(params.items())])
            fname = f"{name}__{'_'.join(f'{s}{a}' for s, a in applied.steps)}.cu"
            (out / fname).write_text(applied.unit.source)
            listing.append({"kernel": name, "label": label, "file": fname, "params": params})
    (out / "variants.json").write_text(json.dumps(listing, indent=1))
    print(f"wrote {len(listing)} units to {out}")
    return 0


def run(folder: Path, trials: int) -> int:
    from portkern.harness import bench, build, validate_compiled
    from portkern.harness.bench import target_for_device
    from portkern.harness.runners.base import get_runner
    from portkern.library import load_library
    from portkern.model import CompileOptions
    from portkern.pipeline.kernels import include_dirs
    from portkern.targets import get_target

    avail = get_runner("cuda").available()
    if not avail.ok:
        print(f"no NVIDIA GPU: {avail.reason}", file=sys.stderr)
        return 2
    target = target_for_device(avail.devices[0]) or get_target("h200")
    lib = load_library(folder / "blas-cuda")
    rows = []
    print("| kernel | candidate | validation | median ms | IQR ms | GB/s | of roof | vs base | cuBLAS ms | cuBLAS / ours |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    base_ms: dict[str, float] = {}
    vendor_ms: dict[str, float] = {}
    for v in json.loads((folder / "variants.json").read_text()):
        spec = lib.kernel(v["kernel"])
        dtype = "float32" if "float32" in spec.dtypes else spec.dtypes[0]
        t0 = time.monotonic()
        row = dict(v, dtype=dtype)
        try:
            params = v.get("params") or None     # the kernel's defaults when none
            compiled = build(lib, spec, target, runner="cuda", source=(folder / v["file"]).read_text(), dtypes=[dtype],
                             params=params, extra=CompileOptions(include_dirs=include_dirs(lib, spec)))
            val = validate_compiled(lib, spec, compiled, target, runner="cuda", params=params, dtypes=[dtype])
            row["validation"] = "pass" if val.passed else f"FAIL ({val.failure})"
            if val.passed:
                b = bench(lib, spec, compiled, target, runner="cuda", sizes=spec.sizes_bench[0], dtype=dtype,
                          params=params, trials=trials, warmup=5, rotate=3, baseline=v["label"] == "base", measure_copy=True)
                row.update(median_ms=b.median_ms, spread_ms=b.spread_ms, gbs=b.gbs, roofline_fraction=b.roofline_fraction,
                           baseline_ms=b.baseline_median_ms, flags=b.flags, sizes=b.sizes)
                if v["label"] == "base":
                    base_ms[v["kernel"]] = b.median_ms
        except Exception as exc:  # noqa: BLE001 - reported in the table, the others still run
            row["validation"] = f"error: {type(exc).__name__}: {str(exc)[:200]}"
        row["seconds"] = round(time.monotonic() - t0, 1)
        rows.append(row)
        m, base = row.get("median_ms"), base_ms.get(v["kernel"])
        vs = f"{base / m:.3f}x" if m and base else "-"
        # cuBLAS is timed beside the base; every candidate of the kernel is compared with that time
        if row.get("baseline_ms"):
            vendor_ms[v["kernel"]] = row["baseline_ms"]
        bl = vendor_ms.get(v["kernel"], 0.0)
        print(f"| {v['kernel']} | {v['label']} | {row['validation']} | {m or 0:.4f} | {row.get('spread_ms') or 0:.4f} | "
              f"{row.get('gbs') or 0:.0f} | {row.get('roofline_fraction') or 0:.2f} | {vs} | "
              f"{f'{bl:.4f}' if bl else '-'} | {f'{bl / m:.3f}' if (bl and m) else '-'} |", flush=True)
    (folder / "results.json").write_text(json.dumps(rows, indent=1, default=str))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prepare", type=Path, metavar="DIR")
    ap.add_argument("--run", type=Path, metavar="DIR")
    ap.add_argument("--trials", type=int, default=30)
    args = ap.parse_args()
    if args.prepare:
        args.prepare.mkdir(parents=True, exist_ok=True)
        return prepare(args.prepare)
    if args.run:
        return run(args.run, args.trials)
    ap.error("give --prepare DIR or --run DIR")
    return 2


if __name__ == "__main__":
    sys.exit(main())
