"""First GPU results: libraries/blas (HIP) translated to CUDA, validated and timed on an NVIDIA GPU.

Every routine is compiled for the GPU's architecture, validated on the GPU (public and hidden
cases), timed at its bench sizes with device events (warm-up, L2 flush, rotating buffers) and
compared with cuBLAS (CuPy) in the same run. The adversarial suite (tests/adversarial) runs too.
Writes benchmarks/results/<device>-<date>.md and a .json beside it.

Translation needs tree-sitter; on a GPU machine without it, translate first elsewhere:

    python benchmarks/bench_gpu_blas.py --translate-only build/blas-cuda      # any machine
    python benchmarks/bench_gpu_blas.py --translated build/blas-cuda          # the GPU machine

A routine that fails (translation, compile, validation, timing) is reported and the run goes on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from portkern.harness import bench, bench_passed, build, validate_compiled  # noqa: E402
from portkern.harness.bench import target_for_device  # noqa: E402
from portkern.harness.runners.base import get_runner  # noqa: E402
from portkern.library import LibrarySpec, load_library  # noqa: E402
from portkern.model import BenchResult  # noqa: E402
from portkern.targets import get_target  # noqa: E402

TIMING_CHEATS = ("deferred_work", "cache_results", "skip_when_timed", "memo_by_buffer", "overclaimed_work")


# --------------------------------------------------------------------------- translation


def translate_library(lib: LibrarySpec, out_dir: Path) -> dict[str, int]:
    """Write a CUDA copy of the library (sources, headers, manifest, reference) to ``out_dir``."""
    from portkern.translate import translate_source

    root = Path(lib.root)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    shutil.copytree(root, out_dir)
    hazards: dict[str, int] = {}
    files = [p for p in root.rglob("*") if p.suffix in (".cpp", ".hpp", ".h", ".hip", ".cu", ".cuh")]
    for path in files:
        rel = path.relative_to(root)
        result = translate_source(path.read_text(), to="cuda", filename=str(rel))
        (out_dir / rel).write_text(result.text)
        hazards[str(rel)] = sum(1 for h in result.hazards if not h.fixed)
    manifest = out_dir / "library.yaml"
    manifest.write_text(re.sub(r"(?m)^dialect:\s*hip\s*$", "dialect: cuda", manifest.read_text()))
    return hazards


# --------------------------------------------------------------------------- one routine


def pick_dtype(kernel, wanted: str) -> str:
    return wanted if wanted in kernel.dtypes else kernel.dtypes[0]


def run_routine(lib: LibrarySpec, kernel, target, args) -> dict:
    dtype = pick_dtype(kernel, args.dtype)
    row: dict = {"kernel": kernel.name, "family": kernel.family, "dtype": dtype, "status": "", "validation": "",
                 "timings": []}
    t0 = time.monotonic()
    try:
        compiled = build(lib, kernel, target, runner="cuda", dtypes=[dtype])
    except Exception as exc:
        row["status"] = "compile failed"
        row["detail"] = str(exc)[-1500:]
        return row
    v = validate_compiled(lib, kernel, compiled, target, runner="cuda", dtypes=[dtype], timeout_s=args.timeout)
    row["validation"] = "pass" if v.passed else f"FAIL ({v.failure})"
    row["validation_cases"] = len(v.cases)
    row["validation_detail"] = v.detail[:500]
    if not v.passed:
        row["status"] = "validation failed"
        return row
    sizes_list = kernel.sizes_bench if args.sizes == "all" else kernel.sizes_bench[:1]
    for sizes in sizes_list:
        try:
            b = bench(lib, kernel, compiled, target, runner="cuda", sizes=sizes, dtype=dtype, trials=args.trials,
                      warmup=args.warmup, rotate=args.rotate, baseline=True, measure_copy=True,
                      timeout_s=args.timeout)
        except Exception as exc:
            b = BenchResult(kernel=kernel.name, sizes=dict(sizes), dtype=dtype, method="device-events",
                            device=target.display_name, median_ms=0.0, spread_ms=0.0,
                            flags=[f"error: {type(exc).__name__}: {exc}"[:300]])
        row["timings"].append(b.to_dict())
    row["status"] = "ok" if all(bench_passed(BenchResult.from_dict(t)) for t in row["timings"]) else "timing flagged"
    row["seconds"] = round(time.monotonic() - t0, 1)
    return row


def run_adversarial(target, args) -> list[dict]:
    adv = load_library(REPO / "tests" / "adversarial")
    rows = []
    for k in adv.kernels:
        row = {"kernel": k.name}
        try:
            compiled = build(adv, k, target, runner="cuda", dtypes=["float32"])
            v = validate_compiled(adv, k, compiled, target, runner="cuda", dtypes=["float32"])
            row["validation"] = "pass" if v.passed else f"rejected ({v.failure})"
            if k.name in TIMING_CHEATS or k.name == "honest_axpby":
                b = bench(adv, k, compiled, target, runner="cuda", sizes=k.sizes_bench[0], dtype="float32",
                          trials=30, warmup=3, baseline=False, measure_copy=False)
                row["timing"] = "pass" if bench_passed(b) else "rejected (" + ", ".join(
                    f.split(":")[0] for f in b.flags) + ")"
                row["median_ms"] = b.median_ms
        except Exception as exc:
            row["validation"] = f"error: {type(exc).__name__}: {exc}"[:300]
        expected_pass = k.name == "honest_axpby"
        passed_all = row.get("validation") == "pass" and row.get("timing", "pass") == "pass"
        row["verdict"] = "as expected" if passed_all == expected_pass else "UNEXPECTED"
        rows.append(row)
        print(f"  adversarial {k.name}: {row}", flush=True)
    return rows


# --------------------------------------------------------------------------- report


def _fmt(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if v else "-"


def write_report(out_dir: Path, meta: dict, rows: list[dict], adversarial: list[dict]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{re.sub(r'[^A-Za-z0-9]+', '-', meta['device']).strip('-').lower()}-{meta['date']}"
    stem += f"-{meta['tag']}" if meta.get("tag") else ""
    (out_dir / f"{stem}.json").write_text(json.dumps({"meta": meta, "routines": rows, "adversarial": adversarial},
                                                     indent=2, sort_keys=True))
    lines = [f"# libraries/blas translated to CUDA on {meta['device']}", "",
             f"- device: {meta['device']} (target `{meta['target']}`, {meta['arch']})",
             f"- date: {meta['date']}",
             "- method: device events on the harness's own stream; "
             f"{meta['warmup']} warm-up launches, {meta['trials']} trials, L2 flushed before each trial "
             f"(a {meta['flush_mib']} MiB write), {meta['rotate']} rotating input sets; median and interquartile "
             "range; outputs of the timed calls and of calls on changed inputs checked against the float64 reference",
             f"- measured device-to-device copy bandwidth: {meta['copy_gbs']:.0f} GB/s (read + write), "
             f"data sheet {meta['peak_gbs']:.0f} GB/s",
             "- vendor baseline: cuBLAS through CuPy, same protocol, same run; ratio = vendor time / our time "
             "(above 1: the translated kernel is faster)",
             f"- toolkit: {meta['nvcc']}", f"- reproduce: `{meta['command']}`", "",
             "| routine | dtype | sizes | validation | method | median ms | IQR ms | GB/s | % of copy BW | "
             "GFLOP/s | vendor | vendor ms | ratio | flags |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if not r["timings"]:
            lines.append(f"| {r['kernel']} | {r['dtype']} | - | {r['validation'] or r['status']} | - | - | - | - | - |"
                         f" - | - | - | - | {r['status']} |")
            continue
        for t in r["timings"]:
            sizes = ", ".join(f"{k}={v}" for k, v in t["sizes"].items())
            copy_pct = 100.0 * t["gbs"] / t["measured_copy_gbs"] if t["measured_copy_gbs"] else 0.0
            ratio = t["baseline_median_ms"] / t["median_ms"] if t["baseline_median_ms"] and t["median_ms"] else 0.0
            flags = "; ".join(f.split(":")[0] for f in t["flags"]) or "-"
            lines.append(f"| {r['kernel']} | {r['dtype']} | {sizes} | {r['validation']} | {t['method']} | "
                         f"{_fmt(t['median_ms'], 4)} | {_fmt(t['spread_ms'], 4)} | {_fmt(t['gbs'], 0)} | "
                         f"{_fmt(copy_pct, 1)} | {_fmt(t['gflops'], 1)} | {t['baseline_name'] or '-'} | "
                         f"{_fmt(t['baseline_median_ms'], 4)} | {_fmt(ratio, 2)} | {flags} |")
    if adversarial:
        lines += ["", "## Adversarial suite on this GPU", "",
                  "| kernel | validation | timing | verdict |", "|---|---|---|---|"]
        for a in adversarial:
            lines.append(f"| {a['kernel']} | {a.get('validation', '-')} | {a.get('timing', '-')} | {a['verdict']} |")
    path = out_dir / f"{stem}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def nvcc_version() -> str:
    nvcc = shutil.which("nvcc")
    if not nvcc:
        return "nvcc not found"
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout.strip().splitlines()
    return out[-1] if out else nvcc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--library", default="blas")
    ap.add_argument("--kernels", nargs="*", help="only these kernels (default: all)")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--sizes", choices=["first", "all"], default="all")
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rotate", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--translated", type=Path, help="a CUDA tree written earlier by --translate-only")
    ap.add_argument("--translate-only", type=Path, metavar="DIR", help="translate to DIR and stop (no GPU needed)")
    ap.add_argument("--skip-adversarial", action="store_true")
    ap.add_argument("--adversarial-only", action="store_true", help="run only the adversarial suite")
    ap.add_argument("--tag", default="", help="suffix of the result file names")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args()

    lib = load_library(args.library)
    if args.translate_only:
        hazards = translate_library(lib, args.translate_only)
        print(f"translated {len(hazards)} files to {args.translate_only}; unfixed hazards: "
              f"{sum(hazards.values())}")
        return 0
    avail = get_runner("cuda").available()
    if not avail.ok:
        print(f"no NVIDIA GPU to run on: {avail.reason}", file=sys.stderr)
        return 2
    device = avail.devices[0]
    target = target_for_device(device) or get_target("h100")
    if args.adversarial_only:
        tlib = lib
    elif args.translated:
        tlib = load_library(args.translated)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="portkern-blas-cuda-"))
        try:
            translate_library(lib, tmp)
        except ImportError as exc:
            print(f"cannot translate here ({exc}); run --translate-only on a machine with the translator and "
                  "pass --translated DIR", file=sys.stderr)
            return 2
        tlib = load_library(tmp)
    kernels = [k for k in tlib.kernels if not args.kernels or k.name in args.kernels]
    if args.adversarial_only:
        kernels = []
    print(f"{device}: target {target.name}, {len(kernels)} routines", flush=True)
    rows: list[dict] = []

    def meta() -> dict:
        copy_rates = [t["measured_copy_gbs"] for r in rows for t in r["timings"] if t.get("measured_copy_gbs")]
        return {"device": device, "target": target.name, "arch": target.arch,
                "date": dt.date.today().isoformat(), "trials": args.trials, "warmup": args.warmup,
                "rotate": args.rotate, "flush_mib": 2 * target.last_level_cache_bytes // (1 << 20),
                "peak_gbs": target.peak_bandwidth_gbs, "copy_gbs": max(copy_rates) if copy_rates else 0.0,
                "nvcc": toolkit, "tag": args.tag, "command": "python benchmarks/bench_gpu_blas.py " + " ".join(sys.argv[1:])}

    toolkit = nvcc_version()
    for k in kernels:
        try:
            row = run_routine(tlib, k, target, args)
        except Exception as exc:
            row = {"kernel": k.name, "family": k.family, "dtype": args.dtype, "status": "error",
                   "validation": f"error: {type(exc).__name__}", "timings": [],
                   "detail": traceback.format_exc()[-1500:]}
        print(f"  {k.name}: {row['status']} {row['validation']} "
              + " ".join(f"{t['median_ms']:.4f}ms/{t['gbs']:.0f}GB/s vs {t['baseline_median_ms']:.4f}ms"
                         for t in row["timings"]), flush=True)
        rows.append(row)
        write_report(args.out, meta(), rows, [])   # partial results survive an interrupted run
    adversarial = [] if args.skip_adversarial else run_adversarial(target, args)
    path = write_report(args.out, meta(), rows, adversarial)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
