"""Rebuild portkern/data/maps/api_map.json from the CUDA <-> HIP API map CSV.

    python tools/gen_api_map.py PATH/TO/cuda-hip-api-map.csv [-o portkern/data/maps/api_map.json]

The CSV (one row per CUDA API name: library, section, CUDA/HIP/ROC names and the versions that added,
deprecated, changed or removed each) is gathered from the "supported by HIP" API tables of the HIPIFY
documentation (docs/tables, MIT licence). The output keeps every row, in a compact column form that
portkern loads with ``json`` in a few milliseconds; rows are sorted and duplicate rows (a CUDA name listed
in two sections) merged, so the file only changes when the facts do.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

COLUMNS = ("library", "section", "cuda", "cuda_added", "cuda_deprecated", "cuda_changed", "cuda_removed",
           "hip", "hip_added", "hip_deprecated", "hip_changed", "hip_removed", "hip_experimental",
           "roc", "roc_added", "roc_deprecated", "roc_changed", "roc_removed", "roc_experimental")
SOURCE = ("HIPIFY documentation, 'supported by HIP' API tables (docs/tables, MIT licence), "
          "ROCm/HIPIFY commit 014177bc, via cuda-hip-api-map.csv")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "portkern" / "data" / "maps" / "api_map.json"


def read_rows(csv_path: Path) -> list[list[str]]:
    with csv_path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise SystemExit(f"{csv_path}: missing columns {', '.join(missing)}; is this the API map CSV?")
        merged: dict[tuple[str, str], list[str]] = {}
        for row in reader:
            values = [(row.get(c) or "").strip() for c in COLUMNS]
            if not values[2]:
                continue
            key = (values[0], values[2])
            old = merged.get(key)
            if old is None:
                merged[key] = values
            else:  # the same name listed twice: keep every fact either listing has
                merged[key] = [a or b for a, b in zip(old, values)]
    return [merged[k] for k in sorted(merged)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="cuda-hip-api-map.csv")
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not args.csv.is_file():
        print(f"{args.csv}: no such file; pass the path of cuda-hip-api-map.csv", file=sys.stderr)
        return 2
    rows = read_rows(args.csv)
    doc = {"source": SOURCE, "generated_by": "tools/gen_api_map.py", "columns": list(COLUMNS), "rows": rows}
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=True)
    # one row per line keeps diffs readable
    text = text.replace('],["', '],\n["').replace('"rows":[[', '"rows":[\n[')
    args.out.write_text(text + "\n")
    print(f"{args.out}: {len(rows)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
