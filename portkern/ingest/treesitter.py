"""The tree-sitter CUDA grammar (it parses HIP as well) and the queries ingest runs over it."""

from __future__ import annotations

from functools import lru_cache

import tree_sitter_cuda
from tree_sitter import Language, Node, Parser, Query, QueryCursor

# Names a declaration refers to; all captured in C, filtered in Python.
_REFS_QUERY = """
(identifier) @ref
(type_identifier) @ref
(namespace_identifier) @ref
"""

# What a function body holds that ingest reports: launches, inline asm, shared declarations.
_BODY_QUERY = """
(call_expression) @call
(gnu_asm_expression) @asm
(declaration) @decl
"""

_DEFINES_QUERY = """
(preproc_def) @def
(preproc_function_def) @def
(preproc_include) @include
"""


@lru_cache(maxsize=1)
def language() -> Language:
    return Language(tree_sitter_cuda.language())


def parser() -> Parser:
    return Parser(language())


@lru_cache(maxsize=1)
def _queries() -> dict[str, Query]:
    lang = language()
    return {"refs": Query(lang, _REFS_QUERY), "body": Query(lang, _BODY_QUERY),
            "defines": Query(lang, _DEFINES_QUERY), "errors": Query(lang, "(ERROR) @error (MISSING) @missing")}


def captures(query_name: str, node: Node) -> dict[str, list[Node]]:
    return QueryCursor(_queries()[query_name]).captures(node)


def text_of(node: Node, source: bytes) -> str:
    return source[node.start_byte:node.end_byte].decode("latin-1")
