"""Score CUDA -> HIP translations against hand-written expected HIP files (tests/corpus).

A corpus folder holds ``cuda/<name>.cu``, ``hip/<name>.hip`` and ``corpus.yaml`` (per file: the offload
arch its device code must compile for, or ``names`` when it needs a library that is not installed;
``cuda_version`` (HIP -> CUDA target, 13.0 unless given); ``direction``: ``hip`` (the default: the CUDA file translated to HIP must give the HIP file), ``cuda``
(the HIP file translated to CUDA must give the CUDA file) or ``both``; ``roc: true`` when the HIP side
uses the ROCm-library names, translated with ``--roc``).
Hazards a file contains are marked in its CUDA source with ``// expect: kind[, kind]`` on their line.
Used by tests/test_translate_corpus.py and benchmarks/translate_corpus.py.
"""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from portkern.errors import ConfigError
from portkern.translate.engine import translate_source
from portkern.translate.maps import load_maps
from portkern.translate.records import TranslationResult
from portkern.translate.tokens import TRIVIA, include_target, tokenize

_EXPECT = re.compile(r"//\s*expect:\s*([\w\-, ]+)")


@dataclass
class CorpusFile:
    name: str
    cuda_path: Path
    hip_path: Path
    compile_arch: str            # "gfx942", "gfx90a", ... or "names"
    needs: str = ""
    direction: str = "hip"       # "hip" | "cuda" | "both"
    roc: bool = False
    cuda_version: str = "13.0"   # the CUDA release HIP -> CUDA output targets

    @property
    def targets(self) -> list[str]:
        return ["hip", "cuda"] if self.direction == "both" else [self.direction]

    def expected_hazards(self) -> set[tuple[int, str]]:
        """(line, kind) pairs marked with ``// expect:`` in the CUDA source."""
        found: set[tuple[int, str]] = set()
        for line_no, line in enumerate(self.cuda_path.read_text().splitlines(), start=1):
            m = _EXPECT.search(line)
            if m:
                found |= {(line_no, k.strip()) for k in m.group(1).split(",") if k.strip()}
        return found


@dataclass
class FileScore:
    name: str
    ident_match: float           # matched identifiers / max(len(expected), len(translated))
    token_match: float           # the same over every significant token
    leftover_cuda: list[str]     # CUDA names (or headers) left in the output that have a HIP counterpart
    missing_hazards: list[tuple[int, str]]
    compile_arch: str
    compile_ok: bool | None      # None: not compiled (names only, or no clang)
    compile_error: str = ""
    result: TranslationResult | None = field(default=None, repr=False)


def load_corpus(root: Path) -> list[CorpusFile]:
    manifest = root / "corpus.yaml"
    if not manifest.is_file():
        raise ConfigError(f"{manifest}: corpus manifest not found", hint="create corpus.yaml listing the files")
    spec = yaml.safe_load(manifest.read_text()) or {}
    files = []
    for name, opts in (spec.get("files") or {}).items():
        cu, hip = root / "cuda" / f"{name}.cu", root / "hip" / f"{name}.hip"
        if not cu.is_file() or not hip.is_file():
            raise ConfigError(f"{manifest}: '{name}' needs both {cu.name} and {hip.name}",
                              hint="add the missing file or drop the entry")
        opts = opts or {}
        direction = str(opts.get("direction", "hip"))
        if direction not in ("hip", "cuda", "both"):
            raise ConfigError(f"{manifest}: '{name}': direction '{direction}'", hint="use hip, cuda or both")
        files.append(CorpusFile(name, cu, hip, str(opts.get("compile", "names")), str(opts.get("needs", "")),
                                direction=direction, roc=bool(opts.get("roc", False)),
                                cuda_version=str(opts.get("cuda_version", "13.0"))))
    return files


def significant_tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) of every token that is not whitespace or a comment."""
    return [(t.kind, t.text) for t in tokenize(text) if t.kind not in TRIVIA]


def match_rate(expected: list[str], actual: list[str]) -> float:
    if not expected and not actual:
        return 1.0
    sm = difflib.SequenceMatcher(None, expected, actual, autojunk=False)
    matched = sum(b.size for b in sm.get_matching_blocks())
    return matched / max(len(expected), len(actual))


def leftover_cuda_names(text: str) -> list[str]:
    """Identifiers and #include targets still spelled the CUDA way although the tables map them."""
    tables = load_maps()
    mapped = {c for c, e in tables.to_hip.items() if e.category != "headers"}
    headers = {e.cuda for e in tables.entries if e.category == "headers"}
    left: list[str] = []
    toks = [t for t in tokenize(text) if t.kind not in TRIVIA]
    for i, t in enumerate(toks):
        if t.kind == "ident" and t.text in mapped and not (i and toks[i - 1].text in (".", "->")):
            left.append(t.text)
        elif t.kind == "include" and include_target(t.text)[1] in headers:
            left.append(include_target(t.text)[1])
    return left


def clang_path() -> str | None:
    return shutil.which("clang-19") or shutil.which("clang")


def compile_device_only(text: str, arch: str, clang: str) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory(prefix="portkern_corpus_") as tmp:
        src = Path(tmp) / "unit.hip"
        src.write_text(text)
        cmd = [clang, "-x", "hip", f"--offload-arch={arch}", "--offload-device-only", "-nogpulib", "-std=c++17",
               "-O1", "-S", str(src), "-o", str(Path(tmp) / "unit.s")]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    errors = [ln for ln in proc.stderr.splitlines() if "error:" in ln]
    return proc.returncode == 0, "\n".join(errors[:5])


def leftover_hip_names(text: str, roc: bool = False) -> list[str]:
    """Identifiers still spelled the HIP (or, with ``roc``, ROC) way although the tables map them to CUDA."""
    tables = load_maps()
    mapped = set(tables.to_cuda) | set(tables.hip_aliases) | (set(tables.roc_to_cuda) if roc else set())
    toks = [t for t in tokenize(text) if t.kind not in TRIVIA]
    return [t.text for i, t in enumerate(toks) if t.kind == "ident" and t.text in mapped and
            not (i and toks[i - 1].text in (".", "->")) and not t.text.startswith("__builtin")]


def score_file(cf: CorpusFile, *, compile_code: bool = True, launch_syntax: str = "chevron",
               to: str = "hip") -> FileScore:
    """Translate one side of ``cf`` to ``to`` and compare with the other side, written by hand."""
    if to == "cuda":
        result = translate_source(cf.hip_path.read_text(), "cuda", roc=cf.roc, filename=cf.hip_path.name,
                                  cuda_version=cf.cuda_version)
        expected = significant_tokens(cf.cuda_path.read_text())
        actual = significant_tokens(result.text)
        ident = match_rate([t for k, t in expected if k == "ident"], [t for k, t in actual if k == "ident"])
        token = match_rate([t for _, t in expected], [t for _, t in actual])
        return FileScore(cf.name, ident, token, leftover_hip_names(result.text, cf.roc), [], cf.compile_arch, None,
                         "", result)
    result = translate_source(cf.cuda_path.read_text(), "hip", launch_syntax=launch_syntax,
                              filename=cf.cuda_path.name, roc=cf.roc)
    expected = significant_tokens(cf.hip_path.read_text())
    actual = significant_tokens(result.text)
    ident = match_rate([t for k, t in expected if k == "ident"], [t for k, t in actual if k == "ident"])
    token = match_rate([t for _, t in expected], [t for _, t in actual])
    reported = {(h.line, h.kind) for h in result.hazards}
    missing = sorted(cf.expected_hazards() - reported)
    ok: bool | None = None
    err = ""
    clang = clang_path()
    if compile_code and cf.compile_arch != "names" and clang:
        ok, err = compile_device_only(result.text, cf.compile_arch, clang)
    return FileScore(cf.name, ident, token, leftover_cuda_names(result.text), missing, cf.compile_arch, ok, err,
                     result)
