"""Export run records as a Hugging Face dataset: dedup, contamination guard, family splits, parquet, card.

Layout of the output folder (loadable with ``datasets.load_dataset(folder, "<config>")``)::

    README.md                                  dataset card: YAML header (configs, splits, licence,
                                               features, counts) and the schema and provenance in prose
    data/<config>/<split>-NNNNN-of-MMMMM.parquet   one folder per config (see portkern/dataset/configs.py)
    raw/<type>/<split>-NNNNN.jsonl.gz          the schema-checked records themselves (lossless, for audits)
    manifest.json                              counts, sha256 per file, dedup and contamination figures
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from datasketch import MinHash, MinHashLSH

from portkern import __version__
from portkern.dataset.card import render_card
from portkern.dataset.configs import CONFIGS, config_rows, features
from portkern.dataset.records import build_run_records, git_revision, same_code
from portkern.dataset.schema import validate_record
from portkern.dataset.text import normalize_source
from portkern.errors import ConfigError, ToolMissingError
from portkern.fsio import write_bytes, write_text

__all__ = ["Guard", "assign_splits", "dedup", "export", "normalize_source", "identity_pairs"]

SPLITS = ("train", "validation", "test")
DEFAULT_GUARD = Path(__file__).resolve().parent.parent.parent / "datasets" / "contamination.yaml"
_KERNEL_NAME = re.compile(r"__global__[^;{(]*?\b([A-Za-z_]\w*)\s*\(")


def code_key(rec: dict[str, Any]) -> str:
    """The code that makes a record what it is (what must not repeat)."""
    kind = rec["record_type"]
    if kind == "translation":
        return rec["source_code"] + "\n=>\n" + rec["target_code"]
    if kind == "repair":
        return rec["broken_code"] + "\n=>\n" + rec["fixed_code"]
    if kind == "optimization":
        return (rec["before_code"] + json.dumps(rec.get("before_params", {}), sort_keys=True) + "\n=>\n"
                + rec["after_code"] + json.dumps(rec.get("after_params", {}), sort_keys=True))
    if kind == "preference":
        return rec["chosen"] + "\n>\n" + rec["rejected"]
    if kind == "model_call":
        return rec["prompt"] + "\n=>\n" + rec["reply"] + json.dumps(rec.get("params", {}), sort_keys=True)
    # the same source at other parameter values, sizes or on another target is another measurement
    return (rec["code"] + json.dumps(rec.get("params", {}), sort_keys=True) + json.dumps(rec.get("sizes", {}), sort_keys=True)
            + rec.get("dtype", "") + rec["target"] + rec.get("timing_kind", ""))


def identity_pairs(records: list[dict[str, Any]]) -> int:
    """Pairs whose two sides are the same code (what a pair must never be)."""
    sides = {"translation": ("source_code", "target_code"), "repair": ("broken_code", "fixed_code"),
             "preference": ("chosen", "rejected")}
    n = 0
    for r in records:
        a, b = sides.get(r["record_type"], ("", ""))
        if a and same_code(r[a], r[b]):
            n += 1
        elif r["record_type"] == "optimization" and same_code(r["before_code"], r["after_code"]) \
                and r["before_params"] == r["after_params"]:
            n += 1
    return n


def _all_code(rec: dict[str, Any]) -> list[str]:
    keys = ("source_code", "target_code", "broken_code", "fixed_code", "before_code", "after_code", "chosen",
            "rejected", "code", "prompt", "reply")
    return [rec[k] for k in keys if isinstance(rec.get(k), str)]


@dataclass
class Guard:
    """Public benchmark files whose kernels must never enter the data."""

    files: list[str] = field(default_factory=list)        # path suffixes ("KernelBench/level1/1_*.py")
    kernels: set[str] = field(default_factory=set)         # kernel names defined by those files
    hashes: set[str] = field(default_factory=set)          # sha256 of normalised kernel sources

    @classmethod
    def load(cls, path: str | Path | None) -> Guard:
        p = Path(path) if path else DEFAULT_GUARD
        if not p.exists():
            if path:
                raise ConfigError(f"{p}: contamination list not found")
            return cls()
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML ({exc})") from exc
        guard = cls()
        for i, entry in enumerate(data.get("benchmarks", [])):
            if not isinstance(entry, dict) or "name" not in entry:
                raise ConfigError(f"{p}: benchmarks[{i}] needs at least a 'name'")
            guard.files += [str(f) for f in entry.get("files", [])]
            guard.kernels |= {str(k) for k in entry.get("kernels", [])}
            guard.hashes |= {str(h) for h in entry.get("sha256", [])}
            for src in entry.get("sources", []):  # files shipped beside the list: hash their kernels
                sp = (p.parent / src)
                if sp.exists():
                    text = sp.read_text(errors="replace")
                    guard.kernels |= set(_KERNEL_NAME.findall(text))
                    guard.hashes.add(hashlib.sha256(normalize_source(text).encode()).hexdigest())
        return guard

    def hit(self, rec: dict[str, Any]) -> str:
        prov = rec.get("provenance", {})
        f = prov.get("file", "")
        for pattern in self.files:
            if f and (f.endswith(pattern) or Path(f).match(pattern)):
                return f"file {f} is a public benchmark ({pattern})"
        for code in _all_code(rec):
            if hashlib.sha256(normalize_source(code).encode()).hexdigest() in self.hashes:
                return "source matches a public benchmark file"
            names = set(_KERNEL_NAME.findall(code))
            bad = names & self.kernels
            if bad:
                return f"defines public benchmark kernel {sorted(bad)[0]}"
        return ""


def _minhash(text: str, num_perm: int = 64, shingle: int = 5) -> MinHash:
    toks = normalize_source(text).split()
    m = MinHash(num_perm=num_perm, seed=7)
    m.update_batch([" ".join(toks[i:i + shingle]).encode() for i in range(max(1, len(toks) - shingle + 1))])
    return m


def dedup(records: list[dict], threshold: float = 0.9) -> tuple[list[dict], dict[str, int]]:
    """Drop exact duplicates (normalised code) and near duplicates (MinHash LSH, Jaccard >= threshold),
    per record type. Performance and optimization records are only exact-deduplicated: near-identical
    sources with different parameters are the point of that data."""
    kept: list[dict] = []
    stats = Counter()
    seen: set[str] = set()
    lsh: dict[str, MinHashLSH] = defaultdict(lambda: MinHashLSH(threshold=threshold, num_perm=64))
    for rec in records:
        key = code_key(rec)
        exact = hashlib.sha256((rec["record_type"] + normalize_source(key)).encode()).hexdigest()
        if exact in seen:
            stats["exact_duplicates"] += 1
            stats[f"exact_duplicates:{rec['record_type']}"] += 1
            continue
        seen.add(exact)
        if rec["record_type"] not in ("performance", "optimization", "model_call"):
            mh = _minhash(key)
            index = lsh[rec["record_type"]]
            if index.query(mh):
                stats["near_duplicates"] += 1
                stats[f"near_duplicates:{rec['record_type']}"] += 1
                continue
            index.insert(exact, mh)
        kept.append(rec)
    return kept, dict(stats)


def assign_splits(families: list[str], fractions=(0.8, 0.1, 0.1)) -> dict[str, str]:
    """Whole families go to one split, by a stable hash order; every split gets a family when there are 3+."""
    order = sorted(set(families), key=lambda f: hashlib.sha256(f.encode()).hexdigest())
    n = len(order)
    n_test = max(1, round(n * fractions[2])) if n >= 3 else 0
    n_val = max(1, round(n * fractions[1])) if n >= 3 else 0
    out = {}
    for i, fam in enumerate(order):
        out[fam] = "test" if i < n_test else "validation" if i < n_test + n_val else "train"
    return out


def _family_key(rec: dict[str, Any]) -> str:
    # families of two libraries that share a name (two "reduce"s) are still one family: same routine
    return rec["provenance"]["family"]


def collect_records(run_dirs: list[Path], skipped: dict[str, int] | None = None) -> list[dict]:
    """The records of every run, built afresh from the run folders (so a run kept from an earlier night
    yields records of today's format and rules)."""
    records: list[dict] = []
    for run_dir in run_dirs:
        records += build_run_records(run_dir, skipped)
    return records


def _gzip_jsonl(rows: list[dict]) -> bytes:
    # mtime=0: identical content gives an identical shard (stable sha256 across exports)
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    return gzip.compress(text.encode(), mtime=0)


def _parquet(spec, rows: list[dict]) -> tuple[bytes, int]:
    """The rows as a parquet file with the config's features, and their size in Arrow memory."""
    import pyarrow.parquet as pq

    import datasets

    feats = features(spec)
    columns = {name: [r[name] for r in rows] for name in feats}
    table = datasets.Dataset.from_dict(columns, features=feats).data.table  # carries the features as metadata
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue(), int(table.nbytes)


def export(run_dirs: list[Path], out: Path, *, guard_path: str | Path | None = None, shard_size: int = 2000,
           near_threshold: float = 0.9) -> dict[str, Any]:
    out = Path(out)
    if importlib.util.find_spec("datasets") is None:
        raise ToolMissingError("the Python package 'datasets' (Hugging Face)", "writing the dataset's parquet "
                               "configs and card", "pip install 'datasets>=3.0' (a dependency of portkern)")
    if shard_size < 1:
        raise ConfigError(f"shard size must be at least 1, got {shard_size}")
    skipped: dict[str, int] = {}
    records = collect_records(run_dirs, skipped)
    for rec in records:
        validate_record(rec)
    guard = Guard.load(guard_path)
    clean, dropped = [], []
    for rec in records:
        why = guard.hit(rec)
        if why:
            dropped.append({"record_id": rec["record_id"], "record_type": rec["record_type"],
                            "kernel": rec["provenance"]["kernel"], "reason": why})
        else:
            clean.append(rec)
    kept, dedup_stats = dedup(clean, near_threshold)
    split_of = assign_splits([_family_key(r) for r in kept])
    for r in kept:
        r["split"] = split_of[_family_key(r)]

    files: dict[str, dict[str, Any]] = {}

    def put(rel: str, data: bytes, rows: int, split: str) -> None:
        write_bytes(out / rel, data)
        files[rel] = {"sha256": hashlib.sha256(data).hexdigest(), "records": rows, "split": split}

    # raw records, lossless
    for kind in sorted({r["record_type"] for r in kept}):
        of_kind = [r for r in kept if r["record_type"] == kind]
        for split in SPLITS:
            part = [r for r in of_kind if r["split"] == split]
            for i in range(0, len(part), shard_size):
                put(f"raw/{kind}/{split}-{i // shard_size:05d}.jsonl.gz", _gzip_jsonl(part[i:i + shard_size]),
                    len(part[i:i + shard_size]), split)

    # the configs, as parquet
    configs: dict[str, dict[str, Any]] = {}
    for spec in CONFIGS:
        rows = config_rows(spec, kept)
        # A split (or a whole config) without rows is not written: `datasets` cannot load an empty split.
        info: dict[str, Any] = {"description": spec.description, "default": spec.default, "splits": {},
                                "split_bytes": {}, "files": {}, "families": {}}
        for split in SPLITS:
            part = [r for r in rows if r["split"] == split]
            if not part:
                continue
            chunks = [part[i:i + shard_size] for i in range(0, len(part), shard_size)]
            paths, nbytes = [], 0
            for i, chunk in enumerate(chunks):
                rel = f"data/{spec.name}/{split}-{i:05d}-of-{len(chunks):05d}.parquet"
                data, size = _parquet(spec, chunk)
                put(rel, data, len(chunk), split)
                paths.append(rel)
                nbytes += size
            info["splits"][split] = len(part)
            info["split_bytes"][split] = nbytes
            info["files"][split] = paths
        info["rows"] = len(rows)
        info["families"] = dict(sorted(Counter(r["provenance"]["family"] for r in rows).items()))
        info["licenses"] = dict(sorted(Counter(r["provenance"]["license"] for r in rows).items()))
        info["timing_kind"] = dict(sorted(Counter(r["timing_kind"] for r in rows if "timing_kind" in r).items()))
        configs[spec.name] = info

    perf = [r for r in kept if r["record_type"] == "performance"]
    manifest = {
        "format": "portkern-dataset/2",
        "versions": {"portkern": __version__, "git_revision": git_revision()},
        "runs": [p.name for p in run_dirs],
        "records_in": len(records),
        "records_out": len(kept),
        "counts": {
            "by_type": dict(sorted(Counter(r["record_type"] for r in kept).items())),
            "by_config": {name: c["rows"] for name, c in configs.items()},
            "by_library": dict(sorted(Counter(r["provenance"]["library"] for r in kept).items())),
            "by_target": dict(sorted(Counter(r["target"] for r in kept).items())),
            "by_split": dict(sorted(Counter(r["split"] for r in kept).items())),
            "by_family": {fam: dict(sorted(Counter(r["record_type"] for r in kept if _family_key(r) == fam).items()))
                          for fam in sorted(split_of)},
            "performance": {"measured": sum(1 for r in perf if r["timing_kind"] == "measured"),
                            "predicted": sum(1 for r in perf if r["timing_kind"] == "predicted")},
            "hard_cases": sum(1 for r in kept if r["record_type"] == "translation" and not r["verified"]),
            "identity_pairs": identity_pairs(kept),
            "sft": configs["sft"]["rows"], "preference": configs["preference"]["rows"],
        },
        "left_out": dict(sorted(skipped.items())),
        "families": {split: sorted(f for f, s in split_of.items() if s == split) for split in SPLITS},
        "dedup": {"exact_duplicates": dedup_stats.get("exact_duplicates", 0),
                  "near_duplicates": dedup_stats.get("near_duplicates", 0), "near_threshold": near_threshold,
                  "exact_by_type": {k.split(":", 1)[1]: v for k, v in sorted(dedup_stats.items())
                                    if k.startswith("exact_duplicates:")},
                  "near_by_type": {k.split(":", 1)[1]: v for k, v in sorted(dedup_stats.items())
                                   if k.startswith("near_duplicates:")}},
        "contamination": {"guard": str(guard_path or DEFAULT_GUARD.name), "dropped": dropped},
        "configs": configs,
        "files": files,
    }
    _remove_stale(out, set(files))
    write_text(out / "README.md", render_card(manifest))
    write_text(out / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _remove_stale(out: Path, current: set[str]) -> None:
    """Files an earlier export into the same folder wrote and this one did not (a split that is empty now)."""
    old = out / "manifest.json"
    try:
        previous = json.loads(old.read_text()).get("files") or {}
    except (FileNotFoundError, ValueError, AttributeError):
        return
    for rel in previous:
        path = out / rel
        if rel not in current and rel.startswith(("data/", "raw/")) and ".." not in Path(rel).parts:
            path.unlink(missing_ok=True)
