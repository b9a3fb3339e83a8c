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


def test_directive_flags_at_line_starts_only():
    text = "/* c */ # if X\nint a = b # c;\n#define S(x) #x \\\n  # y\n  #include <a.h> z\nq\n#"
    flags = {(t.text, t.start): t.directive for t in tokenize(text)}
    by_text = {}
    for (tx, _), d in flags.items():
        by_text.setdefault(tx, []).append(d)
    assert by_text["if"] == [True] and by_text["X"] == [True]        # a comment may come before the '#'
    assert by_text["/* c */"] == [False]                             # ...but is not part of the directive
    assert by_text["a"] == [False] and by_text["c"] == [False]       # '#' in mid-line starts nothing
    assert by_text["y"] == [True]                                    # continued macro body
    assert by_text["z"] == [True] and by_text["q"] == [False]        # an include line, then code
    assert by_text["#"][-1] is True                                  # a '#' at the very end of the file


def test_source_edit_builds_all_tokens_only_when_asked():
    from portkern.translate.source import SourceEdit

    src = SourceEdit("#include <x.h>\n// note\nint  a = 1;\n", "k.cu")
    assert src._toks is None and [t.text for t in src.stoks] == ["#include <x.h>", "int", "a", "=", "1", ";"]
    toks = src.toks
    assert "".join(t.text for t in toks) == src.text and toks[src.sig[1]] is src.stoks[1]
    assert src.token(src.include_tis[0]).kind == "include" and src.token(1).kind == "nl"


def test_quoted_includes_skip_comments_and_strings():
    from portkern.translate.tokens import quoted_includes

    text = '#include "a.h"\n/* #include "b.h" */\nconst char* s = "#include \\"c.h\\"";\n  # include_next ""\n'
    assert quoted_includes(text) == ["a.h", ""]


def test_scan_for_edits_agrees_with_the_full_token_lists():
    """SourceEdit's scan (kinds of significant tokens only, directives found from the texts) gives the same
    texts, significant tokens, kinds, include tokens and directive flags as the full token lists."""
    from portkern.translate.tokens import (
        TRIVIA,
        directive_flags,
        scan_significant,
        significant_flags,
        token_parts,
    )

    cases = [TRICKY, "/* c */ # if X\nint a = b # c;\n#define S(x) #x \\\n  # y\n  #include <a.h> z\nq\n#",
             "#include <a.h>\n#include \"b.h\" // c\n  # include <c.h>\nint x; # define Y\n", "", "#", "\n#\n"]
    for text in cases:
        values, kinds, _, directive = token_parts(text)
        v2, significant, sig, stexts, skinds, includes, regions = scan_significant(text)
        assert v2 == values and directive_flags(regions, len(values)) == directive
        assert significant_flags(regions, sig) == [directive[i] for i in sig]
        assert significant == [k not in TRIVIA for k in kinds]
        assert sig == [i for i, k in enumerate(kinds) if k not in TRIVIA]
        assert stexts == [values[i] for i in sig]
        assert skinds == [k for k in kinds if k not in TRIVIA]
        assert includes == [i for i, k in enumerate(kinds) if k == "include"]
