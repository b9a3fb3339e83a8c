"""The dataset card (README.md): a YAML header Hugging Face ``datasets`` reads, and prose for people.

The header lists every config with its files per split, its features and its row counts per split;
``load_dataset`` checks those counts against the parquet files it reads, so the card cannot claim
rows the data does not have.
"""

from __future__ import annotations

from typing import Any

import yaml

from portkern.dataset.configs import CONFIGS, PROVENANCE_FIELDS, features

_PROVENANCE_DOC = {
    "run_id": "the portkern run the record came from",
    "library": "library the kernel belongs to",
    "kernel": "kernel entry of the library manifest",
    "family": "routine family; train/validation/test splits never share a family",
    "file": "source file, relative to the library folder",
    "file_sha256": "sha256 of that file's bytes when the run read it",
    "license": "SPDX identifier of that file's licence",
    "source_dialect": "dialect the library is written in (cuda or hip)",
    "target_dialect": "dialect of the target GPU",
    "target": "target GPU",
    "toolchain": "JSON text: compiler -> identity and version used by the run",
    "device": "where the evidence was taken: a GPU, the CPU emulator, or a roofline estimate",
    "date": "when the run started (ISO 8601, UTC)",
}


def _hf_license(licenses: set[str]) -> str:
    if len(licenses) == 1:
        only = next(iter(licenses))
        if only not in ("NOASSERTION", ""):
            return only.lower()
    return "other"


def _header(manifest: dict[str, Any]) -> dict[str, Any]:
    import datasets

    configs, infos = [], []
    licenses: set[str] = set()
    for spec in CONFIGS:
        info = manifest["configs"][spec.name]
        if not info["rows"]:
            continue  # a config without rows is not declared: it would not load
        licenses |= set(info["licenses"])
        entry: dict[str, Any] = {"config_name": spec.name}
        if spec.default:
            entry["default"] = True
        entry["data_files"] = [{"split": split, "path": paths} for split, paths in info["files"].items()]
        configs.append(entry)
        feats = datasets.DatasetInfo(features=features(spec))._to_yaml_dict()["features"]
        # load_dataset checks num_examples against the files it reads
        infos.append({"config_name": spec.name, "features": feats,
                      "splits": [{"name": split, "num_bytes": info["split_bytes"][split], "num_examples": n}
                                 for split, n in info["splits"].items()]})
    return {"license": _hf_license(licenses), "pretty_name": "portkern GPU kernel porting and tuning data",
            "language": ["en"], "tags": ["code", "cuda", "hip", "gpu-kernels", "portkern"],
            "task_categories": ["text-generation"], "configs": configs, "dataset_info": infos}


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_card(manifest: dict[str, Any]) -> str:
    header = yaml.safe_dump(_header(manifest), sort_keys=False, width=1000)
    c = manifest["counts"]
    configs = manifest["configs"]
    licenses = sorted({lic for info in configs.values() for lic in info["licenses"]})
    parts = [f"---\n{header}---\n",
             "# portkern GPU kernel data\n",
             "Records from portkern runs: GPU kernels of real libraries translated between CUDA and HIP, "
             "compiled with real compilers, validated against reference implementations, and tuned for a "
             "target GPU. Nothing here is invented: a pair exists only when the run verified it.\n",
             "```python\nfrom datasets import load_dataset\n"
             "sft = load_dataset(\"path/to/this/folder\", \"sft\")   # or preference, performance, repair, ...\n```\n",
             "## Configs and counts\n",
             _table(["config", "train", "validation", "test", "what it holds"],
                    [[f"`{s.name}`" + (" (default)" if s.default else ""),
                      *[configs[s.name]["splits"].get(sp, 0) for sp in ("train", "validation", "test")],
                      s.description] for s in CONFIGS]) + "\n",
             "A config with no rows in this export is not declared in the header (it could not be loaded); "
             "its row counts above are zero.\n",
             "Performance records: "
             f"{c['performance']['measured']} measured on a GPU, {c['performance']['predicted']} predicted by the "
             "roofline model. Only measured ones are in `performance` and in the optimization conversations of "
             "`sft`; predicted ones are in `performance_predicted`. The `timing_kind` column says which "
             "(`measured`, `predicted`, or `not-timed`).\n",
             f"Translation pairs whose two sides are the same code: {c['identity_pairs']} "
             "(such pairs are never written).\n",
             "## Splits\n",
             "Split by kernel family: every row of a family lies in one split, so a model is never tested on "
             "a routine it was trained on.\n",
             _table(["split", "families"], [[s, ", ".join(f) or "(none)"] for s, f in manifest["families"].items()])
             + "\n",
             "## Provenance\n",
             "Every row of every config has a `provenance` struct with these fields:\n",
             _table(["field", "meaning"], [[f"`{k}`", _PROVENANCE_DOC[k]] for k in PROVENANCE_FIELDS]) + "\n",
             f"Licences of the sources: {', '.join(licenses) or '(no rows)'}. Each row carries its own.\n",
             "## Schema\n"]
    for spec in CONFIGS:
        feats = features(spec)
        parts.append(f"`{spec.name}`: " + ", ".join(f"`{k}`" for k in feats) + "\n")
    parts += ["Code sits in fenced blocks in the conversations; maps whose keys depend on the kernel "
              "(`params`, `sizes`, `toolchain`) are JSON text. `raw/` holds the full schema-checked records "
              "(gzip JSON lines, schemas in portkern's `datasets/schema`).\n",
              "## Cleaning\n",
              f"Exact duplicates removed: {manifest['dedup']['exact_duplicates']}; near duplicates (MinHash, "
              f"Jaccard >= {manifest['dedup']['near_threshold']}): {manifest['dedup']['near_duplicates']}. "
              f"Records dropped by the contamination guard (public benchmark kernels): "
              f"{len(manifest['contamination']['dropped'])}.\n",
              "## Versions\n",
              f"portkern {manifest['versions']['portkern']} at {manifest['versions']['git_revision']}; "
              f"runs: {', '.join(manifest['runs']) or '(none)'}.\n"]
    return "\n".join(parts)
