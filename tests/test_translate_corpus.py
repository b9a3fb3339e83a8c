"""CUDA -> HIP translation of a hand-written corpus of real-world CUDA idioms, scored against the HIP a
careful engineer writes for each file (tests/corpus): names, token agreement, device compile, hazards."""

from __future__ import annotations

from pathlib import Path

import pytest

from portkern.translate.corpus_eval import clang_path, compile_device_only, load_corpus, score_file

CORPUS = Path(__file__).resolve().parent / "corpus"
FILES = load_corpus(CORPUS)
IDS = [f.name for f in FILES]
IDENT_FLOOR = 0.95
TOKEN_FLOOR = 0.90


@pytest.fixture(scope="module")
def scores():
    return {f.name: score_file(f, compile_code=False) for f in FILES}


def test_corpus_is_realistic_size():
    assert len(FILES) >= 25
    assert {f.compile_arch for f in FILES} >= {"gfx942", "names"}


@pytest.mark.parametrize("name", IDS)
def test_no_mapped_cuda_name_left(scores, name):
    s = scores[name]
    assert s.leftover_cuda == [], f"{name}: CUDA names with a HIP counterpart left: {s.leftover_cuda}"
    unknown = [u for u in s.result.unconverted if u.reason == "unknown name"]
    assert unknown == [], f"{name}: unrecognised CUDA API names: {[(u.name, u.line) for u in unknown]}"


@pytest.mark.parametrize("name", IDS)
def test_agrees_with_hand_written_hip(scores, name):
    s = scores[name]
    print(f"{name}: identifiers {s.ident_match:.3f}, tokens {s.token_match:.3f}")
    assert s.ident_match >= IDENT_FLOOR, f"{name}: identifier agreement {s.ident_match:.3f} < {IDENT_FLOOR}"
    assert s.token_match >= TOKEN_FLOOR, f"{name}: token agreement {s.token_match:.3f} < {TOKEN_FLOOR}"


def test_corpus_totals(scores):
    mean_ident = sum(s.ident_match for s in scores.values()) / len(scores)
    exact = sum(s.ident_match == 1.0 for s in scores.values())
    print(f"mean identifier agreement {mean_ident:.4f}; {exact}/{len(scores)} files identical in identifiers")
    assert mean_ident >= 0.98


@pytest.mark.parametrize("name", IDS)
def test_every_marked_hazard_reported_with_its_line(scores, name):
    s = scores[name]
    assert s.missing_hazards == [], f"{name}: hazards not reported (line, kind): {s.missing_hazards}"
    for h in s.result.hazards:
        assert h.line > 0 and h.region.start_line <= h.line <= h.region.end_line


@pytest.mark.parametrize("name", IDS)
def test_no_unmarked_open_hazard(scores, name):
    """Findings left for a person (unfixed warnings/errors) are exactly the ones marked in the source."""
    cf = next(f for f in FILES if f.name == name)
    marked = cf.expected_hazards()
    extra = [(h.line, h.kind) for h in scores[name].result.unfixed_hazards() if (h.line, h.kind) not in marked]
    assert extra == [], f"{name}: unexpected open findings {extra}"


needs_clang = pytest.mark.skipif(clang_path() is None, reason="clang with the AMDGPU backend not installed")
COMPILED = [f for f in FILES if f.compile_arch != "names"]


@needs_clang
@pytest.mark.slow
@pytest.mark.parametrize("cf", COMPILED, ids=[f.name for f in COMPILED])
def test_translated_device_code_compiles(cf):
    s = score_file(cf, compile_code=True)
    assert s.compile_ok, f"{cf.name} ({cf.compile_arch}):\n{s.compile_error}"


@needs_clang
@pytest.mark.slow
@pytest.mark.parametrize("cf", COMPILED, ids=[f.name for f in COMPILED])
def test_expected_hip_compiles(cf):
    """The hand-written reference itself is valid HIP for the arch it names."""
    ok, err = compile_device_only(cf.hip_path.read_text(), cf.compile_arch, clang_path())
    assert ok, f"{cf.hip_path.name}:\n{err}"
