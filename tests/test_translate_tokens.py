from __future__ import annotations

from portkern.translate.tokens import include_target, tokenize

TRICKY = r'''#include <cuda_runtime.h>
  #  include "local/helpers.cuh"
#define LAUNCH(k) k<<<1, 32>>>() \
    /* continued */ + cudaMalloc
const char* s = "cudaMalloc(\"x\") // not a comment";
auto r = R"raw(cudaFree ")" still raw)raw";
char c = '"'; int n = 0x1fu + 1'000 + .5e-3f;
// cudaMemcpy in a line comment
/* cudaMemcpy
   in a block comment */ a<<<b, c>>>(d);
'''


def test_tokens_reproduce_the_source_exactly():
    assert "".join(t.text for t in tokenize(TRICKY)) == TRICKY


def test_strings_comments_and_includes_are_single_tokens():
    toks = tokenize(TRICKY)
    kinds = {t.text: t.kind for t in toks}
    assert kinds['"cudaMalloc(\\"x\\") // not a comment"'] == "string"
    assert kinds['R"raw(cudaFree ")" still raw)raw"'] == "string"
    assert kinds["'\"'"] == "char"
    assert kinds["// cudaMemcpy in a line comment"] == "comment"
    assert kinds["0x1fu"] == "number"
    assert kinds["1'000"] == "number"
    includes = [t for t in toks if t.kind == "include"]
    assert [include_target(t.text) for t in includes] == [("<", "cuda_runtime.h"), ('"', "local/helpers.cuh")]
    idents = [t.text for t in toks if t.kind == "ident"]
    assert idents.count("cudaMalloc") == 1      # only the one in the macro body
    assert "cudaFree" not in idents and "cudaMemcpy" not in idents


def test_directive_flag_covers_continued_macro_bodies_only():
    toks = tokenize(TRICKY)
    cuda_malloc = next(t for t in toks if t.kind == "ident" and t.text == "cudaMalloc")
    assert cuda_malloc.directive            # after a backslash-newline, still in the #define
    s_decl = next(t for t in toks if t.text == "s")
    assert not s_decl.directive
    assert [t.text for t in toks if t.kind == "punct" and t.text in ("<<<", ">>>")] == ["<<<", ">>>", "<<<", ">>>"]
