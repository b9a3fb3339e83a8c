"""Compare portkern's CUDA -> HIP translation with AMD's hipify tools, where one is installed.

    .venv/bin/python benchmarks/compare_hipify.py [CUDA_FILE_OR_FOLDER ...]

Inputs: libraries/nn plus any CUDA files given. For each tool and file it reports whether the output
compiles for gfx942 with clang (-x hip --offload-device-only -nogpulib) and how many CUDA API names
the output still contains. hipify-perl / hipify-clang are looked up on PATH and in the Debian archive
(apt-cache); when neither is available the script says so and exits 0.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from portkern.translate import translate_source
from portkern.translate.names import CUDA_API_NAME, local_definitions
from portkern.translate.source import SourceEdit
from portkern.translate.tokens import tokenize

REPO = Path(__file__).resolve().parent.parent
CUDA_SUFFIXES = {".cu", ".cuh"}


def find_hipify() -> list[tuple[str, list[str]]]:
    tools = []
    if shutil.which("hipify-perl"):
        tools.append(("hipify-perl", ["hipify-perl"]))
    if shutil.which("hipify-clang"):
        tools.append(("hipify-clang", ["hipify-clang", "--cuda-gpu-arch=sm_90", "-o", "-"]))
    return tools


def debian_candidates() -> str:
    if not shutil.which("apt-cache"):
        return ""
    proc = subprocess.run(["apt-cache", "search", "hipify"], capture_output=True, text=True)
    return proc.stdout.strip()


def leftover_cuda_names(text: str, project_names: set[str]) -> int:
    """CUDA API names still in the output (names the project defines itself, like cudaCheck, excluded)."""
    return sum(1 for t in tokenize(text)
               if t.kind == "ident" and CUDA_API_NAME.match(t.text) and t.text not in project_names)


def compiles_for_gfx942(text: str, include_dirs: list[Path], workdir: Path) -> bool:
    clang = shutil.which("clang-19") or shutil.which("clang")
    src = workdir / "candidate.hip"
    src.write_text(text)
    cmd = [clang, "-x", "hip", "--offload-arch=gfx942", "--offload-device-only", "-nogpulib", "-std=c++17",
           "-S", str(src), "-o", str(workdir / "candidate.s")] + [f"-I{d}" for d in include_dirs]
    return subprocess.run(cmd, capture_output=True, text=True).returncode == 0


def inputs(extra: list[str]) -> list[Path]:
    files = sorted(p for p in (REPO / "libraries" / "nn").rglob("*") if p.suffix in CUDA_SUFFIXES)
    for e in map(Path, extra):
        files += sorted(p for p in e.rglob("*") if p.suffix in CUDA_SUFFIXES) if e.is_dir() else [e]
    return files


def translate_with(tool: str, cmd: list[str], f: Path) -> str:
    if tool == "portkern":
        return translate_source(f.read_text(), "hip", filename=f.name).text
    proc = subprocess.run(cmd + [str(f)], capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else ""


def main(argv: list[str]) -> int:
    tools = find_hipify()
    if not tools:
        found = debian_candidates()
        print("no hipify tool available: hipify-perl and hipify-clang are not on PATH, and "
              + ("the Debian archive offers: " + found if found else "the Debian archive has no hipify package")
              + "; nothing to compare.")
        return 0
    files = inputs(argv)
    project_names: set[str] = set()
    for f in files:
        project_names |= local_definitions(SourceEdit(f.read_text(), str(f)))
    common = Path(os.path.commonpath([str(f.parent) for f in files]))
    print(f"{'file':<40}{'tool':<14}{'compiles':>9}{'CUDA names left':>17}")
    totals: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for tool, cmd in [("portkern", [])] + tools:
            # Every file, headers included, goes through the same tool; sources then compile against
            # that tool's translated headers.
            tree = Path(tmp) / tool
            for f in files:
                out = tree / f.relative_to(common)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(translate_with(tool, cmd, f))
            for f in files:
                if f.suffix != ".cu":
                    continue
                out = tree / f.relative_to(common)
                text = out.read_text()
                includes = [out.parent, out.parent.parent / "include"]
                ok = bool(text) and compiles_for_gfx942(text, includes, Path(tmp))
                left = leftover_cuda_names(text, project_names)
                t = totals.setdefault(tool, [0, 0, 0])
                t[0] += ok
                t[1] += 1
                t[2] += left
                print(f"{f.name:<40}{tool:<14}{'yes' if ok else 'no':>9}{left:>17}")
    for tool, (ok, n, left) in totals.items():
        print(f"{tool}: {ok}/{n} compile, {left} CUDA names left")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
