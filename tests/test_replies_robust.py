"""Reply checking takes linear time on hostile replies and accepts any Unicode."""

from __future__ import annotations

import time

import pytest

from portkern.llm.replies import check_reply, extract_code_block, strip_comments_and_strings

ORIGINAL = "__global__ void k(float* x, int n) { int i = threadIdx.x; if (i < n) x[i] = 0; }\n"


def test_a_lone_surrogate_is_text_not_a_crash():
    reply = "```cuda\n__global__ void k(float* x, int n) { /* \ud800 */ int i = threadIdx.x; if (i < n) x[i] = 1; }\n```"
    verdict = check_reply(reply, symbol="k", original=ORIGINAL, dialect="cuda")
    assert verdict.accepted, verdict.reason
    verdict.code.encode("utf-8")


HOSTILE = {
    "open comments": "/*" * 200_000,
    "open quotes": '"' * 400_000,
    "open chars": "'" * 400_000,
    "fence lines": "```\n" * 100_001,
    "open includes": "#include <a\n" * 40_000,
    "long word": "cuda" + "A" * 400_000,
    "nested fences": "```cuda\n" + "x```" * 100_000 + "\n```",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_replies_are_checked_in_linear_time(name):
    body = HOSTILE[name]
    start = time.perf_counter()
    for reply in (body, f"```cuda\n{body}\n```"):
        verdict = check_reply(reply, symbol="k", original=ORIGINAL, dialect="cuda")
        assert not verdict.accepted and verdict.reason
    strip_comments_and_strings(body)
    assert time.perf_counter() - start < 5.0


def test_fences_are_found_as_before():
    assert extract_code_block("text\n```cpp\nint a;\n```\nmore") == ("int a;\n", "")
    assert extract_code_block("```\na\n```\n```\nb\n```")[1].startswith("2 fenced")
    assert extract_code_block("no code")[1] == "no fenced code block in the reply"
    assert strip_comments_and_strings('a /* x */ b "s" // c\n\'q\' /* open') == 'a   b ""  \n\' \'  '
