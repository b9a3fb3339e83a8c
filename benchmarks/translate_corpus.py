"""Score the CUDA -> HIP translator on tests/corpus: per-file identifier/token agreement with the
hand-written HIP, CUDA names left unconverted, hazards missed, and the device compile result."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from portkern.translate.corpus_eval import load_corpus, score_file

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--no-compile", action="store_true", help="skip the clang device compile")
    args = ap.parse_args()
    files = load_corpus(args.corpus)
    print(f"{'file':32} {'ident':>7} {'token':>7} {'left':>5} {'unconv':>6} {'missed':>6}  compile")
    totals = {"ident": 0.0, "token": 0.0, "left": 0, "unconv": 0, "missed": 0, "ok": 0, "compiled": 0}
    t0 = time.perf_counter()
    for cf in files:
        s = score_file(cf, compile_code=not args.no_compile)
        unconv = len(s.result.unconverted)
        if s.compile_ok is None:
            comp = f"names only ({cf.needs or cf.compile_arch})" if cf.compile_arch == "names" else "skipped"
        else:
            comp = f"{'ok' if s.compile_ok else 'FAIL'} {cf.compile_arch}"
            totals["compiled"] += 1
            totals["ok"] += bool(s.compile_ok)
        print(f"{cf.name:32} {s.ident_match:7.3f} {s.token_match:7.3f} {len(s.leftover_cuda):5d} {unconv:6d} "
              f"{len(s.missing_hazards):6d}  {comp}")
        if s.compile_ok is False:
            print("    " + s.compile_error.replace("\n", "\n    "))
        totals["ident"] += s.ident_match
        totals["token"] += s.token_match
        totals["left"] += len(s.leftover_cuda)
        totals["unconv"] += unconv
        totals["missed"] += len(s.missing_hazards)
    n = len(files)
    print(f"\n{n} files in {time.perf_counter() - t0:.1f} s: mean identifier agreement {totals['ident'] / n:.4f}, "
          f"mean token agreement {totals['token'] / n:.4f}, mapped CUDA names left {totals['left']}, "
          f"unconverted reports {totals['unconv']}, hazards missed {totals['missed']}, "
          f"compiled {totals['ok']}/{totals['compiled']}")


if __name__ == "__main__":
    main()
