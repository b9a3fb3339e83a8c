"""Export run records as a training dataset: dedup, family splits, contamination guard, shards, manifest.

Layout of the output folder::

    manifest.json                      counts (type, library, target, split), sha256 per shard, versions
    sft/<split>-NNNNN.jsonl.gz         chat-style {"messages": [...]} for supervised fine-tuning
    preference/<split>-NNNNN.jsonl.gz  {"prompt", "chosen", "rejected", "margin"} pairs
    raw/<type>/<split>-NNNNN.jsonl.gz  the schema-checked records themselves
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from datasketch import MinHash, MinHashLSH

from portkern import __version__
from portkern.dataset.records import build_run_records, git_revision
from portkern.dataset.schema import validate_record
from portkern.errors import ConfigError

SPLITS = ("train", "validation", "test")
DEFAULT_GUARD = Path(__file__).resolve().parent.parent.parent / "datasets" / "contamination.yaml"
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+\.?\d*(?:[eE][-+]?\d+)?[fFuUlL]*|\S")
_KERNEL_NAME = re.compile(r"__global__[^;{(]*?\b([A-Za-z_]\w*)\s*\(")

SYSTEM = ("You are an expert GPU kernel engineer. You write correct, fast CUDA and HIP device code and keep "
          "each kernel's name and signature.")


def normalize_source(code: str) -> str:
    """Comments removed and whitespace collapsed: two sources equal up to formatting normalise equal."""
    return " ".join(_TOKEN.findall(_COMMENT.sub(" ", code)))


def code_key(rec: dict[str, Any]) -> str:
    """The code that makes a record what it is (what must not repeat)."""
    kind = rec["record_type"]
    if kind == "translation":
        return rec["source_code"] + "\n=>\n" + rec["target_code"]
    if kind == "repair":
        return rec["broken_code"] + "\n=>\n" + rec["fixed_code"]
    if kind == "optimization":
        return rec["before_code"] + "\n=>\n" + rec["after_code"]
    if kind == "preference":
        return rec["chosen"] + "\n>\n" + rec["rejected"]
    # the same source at other parameter values, sizes or on another target is another measurement
    return (rec["code"] + json.dumps(rec.get("params", {}), sort_keys=True) + json.dumps(rec.get("sizes", {}), sort_keys=True)
            + rec.get("dtype", "") + rec["target"])


def _all_code(rec: dict[str, Any]) -> list[str]:
    keys = ("source_code", "target_code", "broken_code", "fixed_code", "before_code", "after_code", "chosen",
            "rejected", "code")
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
    per record type. Performance records are only exact-deduplicated: near-identical sources with
    different parameters are the point of that data."""
    kept: list[dict] = []
    stats = Counter()
    seen: set[str] = set()
    lsh: dict[str, MinHashLSH] = defaultdict(lambda: MinHashLSH(threshold=threshold, num_perm=64))
    for rec in records:
        key = code_key(rec)
        exact = hashlib.sha256((rec["record_type"] + normalize_source(key)).encode()).hexdigest()
        if exact in seen:
            stats["exact_duplicates"] += 1
            continue
        seen.add(exact)
        if rec["record_type"] != "performance":
            mh = _minhash(key)
            index = lsh[rec["record_type"]]
            if index.query(mh):
                stats["near_duplicates"] += 1
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


def to_chat(rec: dict[str, Any]) -> dict[str, Any] | None:
    kind = rec["record_type"]
    t = rec["target"]
    if kind == "translation" and rec["verdict"]["correct"]:
        user = (f"Translate this {rec['source_dialect'].upper()} kernel to {rec['target_dialect'].upper()} for "
                f"target {t}. Keep the kernel's name and signature.\n\n```cpp\n{rec['source_code']}\n```")
        answer = rec["target_code"]
    elif kind == "repair":
        user = (f"This {rec['dialect'].upper()} kernel fails ({rec['error_kind']}):\n{rec['error']}\n\nFix it.\n\n"
                f"```cpp\n{rec['broken_code']}\n```")
        answer = rec["fixed_code"]
    elif kind == "optimization" and rec["method"] == "device-events":
        user = (f"Make this {rec['dialect'].upper()} kernel faster on {t} without changing its results.\n\n"
                f"```cpp\n{rec['before_code']}\n```")
        answer = rec["after_code"]
    else:
        return None
    return {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user},
                         {"role": "assistant", "content": f"```cpp\n{answer}\n```"}],
            "record_id": rec["record_id"], "record_type": kind, "family": rec["provenance"]["family"]}


# Maps whose keys depend on the kernel (tunable names, size names, compilers): stored as JSON text in
# the shards so every shard of a type has one columnar schema (Arrow / Hugging Face datasets).
JSON_TEXT_FIELDS = ("params", "before_params", "after_params", "sizes", "versions.compilers",
                    "verdict.cases[].sizes", "chosen_verdict.cases[].sizes", "rejected_verdict.cases[].sizes")


def columnar(rec: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(rec))
    for key in ("params", "before_params", "after_params", "sizes"):
        if isinstance(out.get(key), dict):
            out[key] = json.dumps(out[key], sort_keys=True)
    if isinstance(out.get("versions", {}).get("compilers"), dict):
        out["versions"]["compilers"] = json.dumps(out["versions"]["compilers"], sort_keys=True)
    for vkey in ("verdict", "chosen_verdict", "rejected_verdict"):
        for case in (out.get(vkey) or {}).get("cases", []):
            if isinstance(case.get("sizes"), dict):
                case["sizes"] = json.dumps(case["sizes"], sort_keys=True)
    return out


def _atomic_gzip(path: Path, rows: list[dict]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".shard-")
    os.close(fd)
    # mtime=0: identical content gives an identical shard (stable sha256 across exports)
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for r in rows:
            gz.write((json.dumps(r, sort_keys=True) + "\n").encode())
    digest = hashlib.sha256(Path(tmp).read_bytes()).hexdigest()
    os.replace(tmp, path)
    return digest


def collect_records(run_dirs: list[Path]) -> list[dict]:
    records = []
    for run_dir in run_dirs:
        emitted = run_dir / "emit" / "records.jsonl"
        if emitted.exists():
            records += [json.loads(line) for line in emitted.read_text().splitlines() if line.strip()]
        else:
            records += build_run_records(run_dir)
    return records


def export(run_dirs: list[Path], out: Path, *, guard_path: str | Path | None = None, shard_size: int = 2000,
           near_threshold: float = 0.9) -> dict[str, Any]:
    out = Path(out)
    records = collect_records(run_dirs)
    for rec in records:
        validate_record(rec)
    guard = Guard.load(guard_path)
    clean, dropped = [], []
    for rec in records:
        why = guard.hit(rec)
        (dropped.append({"record_id": rec["record_id"], "reason": why}) if why else clean.append(rec))
    kept, dedup_stats = dedup(clean, near_threshold)
    split_of = assign_splits([r["provenance"]["family"] for r in kept])
    for r in kept:
        r["split"] = split_of[r["provenance"]["family"]]

    shards: dict[str, dict[str, Any]] = {}

    def write_group(prefix: str, rows: list[dict]) -> None:
        for split in SPLITS:
            part = [r for r in rows if r.get("split", split_of.get(r.get("family", ""), "")) == split]
            for i in range(0, len(part), shard_size):
                rel = f"{prefix}/{split}-{i // shard_size:05d}.jsonl.gz"
                chunk = part[i:i + shard_size]
                shards[rel] = {"sha256": _atomic_gzip(out / rel, chunk), "records": len(chunk), "split": split}

    for kind in sorted({r["record_type"] for r in kept}):
        write_group(f"raw/{kind}", [columnar(r) for r in kept if r["record_type"] == kind])
    chats = []
    for r in kept:
        chat = to_chat(r)
        if chat:
            chat["split"] = r["split"]
            chats.append(chat)
    write_group("sft", chats)
    prefs = [{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"], "margin": r["margin"],
              "ranking_basis": r["ranking_basis"], "record_id": r["record_id"], "split": r["split"]}
             for r in kept if r["record_type"] == "preference"]
    write_group("preference", prefs)

    manifest = {
        "format": "portkern-dataset/1",
        "versions": {"portkern": __version__, "git_revision": git_revision()},
        "runs": [p.name for p in run_dirs],
        "records_in": len(records),
        "records_out": len(kept),
        "counts": {
            "by_type": dict(Counter(r["record_type"] for r in kept)),
            "by_library": dict(Counter(r["provenance"]["library"] for r in kept)),
            "by_target": dict(Counter(r["target"] for r in kept)),
            "by_split": dict(Counter(r["split"] for r in kept)),
            "sft": len(chats), "preference": len(prefs),
        },
        "families": {split: sorted(f for f, s in split_of.items() if s == split) for split in SPLITS},
        "dedup": {"exact_duplicates": dedup_stats.get("exact_duplicates", 0),
                  "near_duplicates": dedup_stats.get("near_duplicates", 0), "near_threshold": near_threshold},
        "contamination": {"guard": str(guard_path or DEFAULT_GUARD.name), "dropped": dropped},
        "shards": shards,
        "json_text_fields": list(JSON_TEXT_FIELDS),
    }
    out.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".manifest-")
    with os.fdopen(fd, "w") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True)
    os.replace(tmp, out / "manifest.json")
    return manifest
