"""Translate the self-checking HIP programs to CUDA, build them, and run them where a GPU is.

    python benchmarks/hip_programs.py [--out DIR] [--results FILE.md] [--no-run]

The folder tests/programs/hip (sources, shared header and Makefile) is translated with
`portkern translate --to cuda` into DIR; each program is then built from the translated sources with
the translated Makefile (`make -k -j`, all cores), and run when an NVIDIA GPU answers `nvidia-smi`. A program
passes when it exits 0 and prints "<name>: PASS". The table lists translate/build/run per program,
the first error line of what failed, and the device and date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROGRAMS = REPO / "tests" / "programs" / "hip"


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if "error" in line.lower():
            return line.strip()[:160]
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip()[:160] if lines else ""


def _gpu_name() -> str:
    if not shutil.which("nvidia-smi"):
        return ""
    probe = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                           text=True, timeout=60)
    return probe.stdout.strip().splitlines()[0] if probe.returncode == 0 and probe.stdout.strip() else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "hip-programs-cuda")
    parser.add_argument("--results", type=Path, default=None, help="Write the Markdown table here too.")
    parser.add_argument("--no-run", action="store_true", help="Build only.")
    args = parser.parse_args(argv)

    shutil.rmtree(args.out, ignore_errors=True)
    translated = subprocess.run([sys.executable, "-m", "portkern", "translate", str(PROGRAMS), "--to", "cuda",
                                 "-o", str(args.out)], capture_output=True, text=True, timeout=600)
    if translated.returncode != 0:
        print(translated.stdout + translated.stderr)
        print("translation failed")
        return 1
    names = sorted(p.stem for p in PROGRAMS.glob("*.hip"))
    gpu = "" if args.no_run else _gpu_name()
    # every program at once on all cores; a program that failed is built again alone for its error
    subprocess.run(["make", "-k", f"-j{os.cpu_count() or 1}", "-C", str(args.out), *names],
                   capture_output=True, text=True, timeout=1200)
    rows = []
    for name in names:
        sources = [p for p in args.out.glob(f"{name}.*") if p.suffix in (".cu", ".hip", ".cpp")]
        row = {"program": name, "translated": bool(sources), "built": False, "ran": "", "note": ""}
        if not sources:
            row["note"] = "no translated source"
            rows.append(row)
            continue
        build = None if (args.out / name).exists() else subprocess.run(
            ["make", "-C", str(args.out), name], capture_output=True, text=True, timeout=600)
        row["built"] = (build is None or build.returncode == 0) and (args.out / name).exists()
        if not row["built"]:
            row["note"] = _first_error(build.stdout + build.stderr)
        elif gpu:
            run = subprocess.run([str(args.out / name)], capture_output=True, text=True, timeout=120)
            passed = run.returncode == 0 and f"{name}: PASS" in run.stdout
            row["ran"] = "PASS" if passed else "FAIL"
            if not passed:
                row["note"] = _first_error(run.stdout + run.stderr)
        rows.append(row)

    built = sum(r["built"] for r in rows)
    passed = sum(r["ran"] == "PASS" for r in rows)
    lines = [f"# HIP programs translated to CUDA ({dt.date.today().isoformat()})", "",
             f"Device: {gpu or 'none (build only)'}. Command: `python benchmarks/hip_programs.py`; "
             "built with the translated Makefile.", "",
             f"Built {built}/{len(rows)}" + (f", passed {passed}/{len(rows)}" if gpu else "") + ".", "",
             "| program | translated | built | ran | note |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['program']} | {'yes' if r['translated'] else 'no'} | {'yes' if r['built'] else 'no'} "
                     f"| {r['ran'] or '-'} | {r['note'].replace('|', '/')} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(text)
    return 0 if built == len(rows) and (not gpu or passed == len(rows)) else 1


if __name__ == "__main__":
    sys.exit(main())
