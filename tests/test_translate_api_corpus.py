"""Translation of small files written from the documented CUDA/HIP/ROC API names (tests/corpus_api),
scored against the hand-written other side in each direction the manifest names: identifier agreement,
names left unconverted, ROC-library spellings with --roc."""

from __future__ import annotations

from pathlib import Path

import pytest

from portkern.translate.corpus_eval import load_corpus, score_file

CORPUS = Path(__file__).resolve().parent / "corpus_api"
FILES = load_corpus(CORPUS)
CHECKS = [(f, to) for f in FILES for to in f.targets]
IDS = [f"{f.name}->{to}" for f, to in CHECKS]
IDENT_FLOOR = 0.99


@pytest.fixture(scope="module")
def scores():
    return {f"{f.name}->{to}": score_file(f, compile_code=False, to=to) for f, to in CHECKS}


def test_corpus_covers_every_library_both_directions_and_roc():
    assert len(FILES) * 2 >= 100                          # files written (CUDA and HIP sides)
    assert sum(1 for f in FILES if f.direction == "both") >= 30
    assert any(f.direction == "cuda" for f in FILES) and any(f.direction == "hip" for f in FILES)
    roc = {f.name for f in FILES if f.roc}
    assert len(roc) >= 8
    text = "\n".join(f.cuda_path.read_text() for f in FILES)
    for marker in ("cudaMemPool", "cudaGraph", "cudaExternalMemory", "cuMem", "cublas", "cublasLt", "cusparse",
                   "curand", "cudnn", "cufft", "cusolver", "nvrtc", "cuCmulf", "cub::", "_st*", "__vmaxu4"):
        assert marker in text, marker
    hip_side = "\n".join(f.hip_path.read_text() for f in FILES if f.roc)
    for marker in ("rocblas_", "rocsparse_", "rocrand_", "miopen", "rocsolver_"):
        assert marker in hip_side, marker


@pytest.mark.parametrize("check", IDS)
def test_identifiers_agree_with_the_hand_written_side(scores, check):
    s = scores[check]
    assert s.ident_match >= IDENT_FLOOR, f"{check}: identifier agreement {s.ident_match:.3f}"
    unknown = [(u.name, u.line) for u in s.result.unconverted if u.reason == "unknown name"]
    assert unknown == [], f"{check}: unknown names {unknown}"
    # names left in the source dialect are only those documented without a counterpart
    left = set(s.leftover_cuda) - {u.name for u in s.result.unconverted if u.reason == "no counterpart"}
    assert not left, f"{check}: mapped names left unconverted {sorted(left)}"


def test_corpus_mean_identifier_agreement(scores):
    mean = sum(s.ident_match for s in scores.values()) / len(scores)
    print(f"{len(scores)} checks over {len(FILES) * 2} files: mean identifier agreement {mean:.4f}")
    assert mean >= 0.99
