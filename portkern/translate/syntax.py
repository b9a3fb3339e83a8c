"""Syntax-tree facts the token rules need: where functions are and which run on the device."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import tree_sitter
import tree_sitter_cuda

# Node types whose children may hold function definitions.
_CONTAINERS = frozenset({
    "translation_unit", "template_declaration", "namespace_definition", "declaration_list",
    "linkage_specification", "preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif",
    "preproc_elifdef", "class_specifier", "struct_specifier", "field_declaration_list",
})


@dataclass(frozen=True)
class FunctionSpan:
    name: str
    start_line: int                  # 1-based, inclusive
    end_line: int
    is_kernel: bool                  # __global__
    is_device: bool                  # __global__ or __device__ (runs on the GPU)


@functools.lru_cache(maxsize=1)
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_cuda.language()))


@functools.lru_cache(maxsize=2)
def _parse(text: str) -> tuple[tree_sitter.Tree, bytes]:
    source = text.encode("utf-8", errors="surrogatepass")
    return _parser().parse(source), source


def first_syntax_error(text: str) -> tuple[int, str] | None:
    """(line, text near it) of the first region the grammar could not parse, or None."""
    tree, source = _parse(text)
    if not tree.root_node.has_error:
        return None
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            near = source[node.start_byte:node.end_byte].decode("utf-8", errors="replace").strip()
            near = near.splitlines()[0][:60] if near else node.type
            return node.start_point[0] + 1, near
        stack.extend(reversed([c for c in node.children if c.has_error or c.is_missing]))
    return None


def function_spans(text: str) -> list[FunctionSpan]:
    tree, source = _parse(text)
    spans: list[FunctionSpan] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        for child in node.children:
            if child.type == "function_definition":
                spans.append(_span_of(child, source))
            elif child.type in _CONTAINERS or child.type == "ERROR":
                stack.append(child)
    spans.sort(key=lambda s: s.start_line)
    return spans


def _span_of(node, source: bytes) -> FunctionSpan:
    body = node.child_by_field_name("body")
    head_end = body.start_byte if body is not None else node.end_byte
    head = source[node.start_byte:head_end].decode("utf-8", errors="replace")
    # Qualifiers may sit before the template head, which belongs to the parent node.
    parent = node.parent
    if parent is not None and parent.type == "template_declaration":
        head = source[parent.start_byte:head_end].decode("utf-8", errors="replace")
    declarator = node.child_by_field_name("declarator")
    name = ""
    while declarator is not None:
        inner = declarator.child_by_field_name("declarator")
        if inner is None:
            name = declarator.text.decode("utf-8", errors="replace") if declarator.text else ""
            break
        if declarator.type == "function_declarator":
            name = inner.text.decode("utf-8", errors="replace") if inner.text else ""
            break
        declarator = inner
    is_kernel = "__global__" in head
    return FunctionSpan(name=name, start_line=node.start_point[0] + 1, end_line=node.end_point[0] + 1,
                        is_kernel=is_kernel, is_device=is_kernel or "__device__" in head)


class FunctionIndex:
    """Line -> innermost function span."""

    def __init__(self, spans: list[FunctionSpan]):
        self.spans = spans
        self._by_line: dict[int, FunctionSpan] = {}
        for s in spans:  # sorted by start: later (inner) spans overwrite outer ones
            for line in range(s.start_line, s.end_line + 1):
                self._by_line[line] = s

    def at(self, line: int) -> FunctionSpan | None:
        return self._by_line.get(line)

    def in_device_code(self, line: int) -> bool:
        s = self.at(line)
        return bool(s and s.is_device)
