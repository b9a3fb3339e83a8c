"""Kernel launch sites: ``hipLaunchKernelGGL``, ``<<<...>>>``, the runtime launch APIs, and launch macros."""

from __future__ import annotations

import re

from tree_sitter import Node

from portkern.ingest import macros as mac
from portkern.ingest.model import LaunchSite, SharedDecl
from portkern.ingest.treesitter import parser, text_of

# Position of (kernel, grid, block, shared, stream, first kernel argument) in each launch API's arguments;
# None where the API has no such argument.
_API_LAYOUT: dict[str, tuple[int, int | None, int | None, int | None, int | None, int | None]] = {
    "hipLaunchKernelGGL": (0, 1, 2, 3, 4, 5),
    "hipExtLaunchKernelGGL": (0, 1, 2, 3, 4, 8),
    "hipLaunchKernel": (0, 1, 2, 4, 5, None),
    "cudaLaunchKernel": (0, 1, 2, 4, 5, None),
    "hipLaunchCooperativeKernel": (0, 1, 2, 4, 5, None),
    "cudaLaunchCooperativeKernel": (0, 1, 2, 4, 5, None),
    "hipLaunchKernelEx": (1, None, None, None, None, 2),
    "cudaLaunchKernelEx": (1, None, None, None, None, 2),
}
_CASTS = ("reinterpret_cast", "static_cast", "const_cast", "reinterpret_cast<const void*>")
_DYNAMIC_SHARED_MACROS = ("HIP_DYNAMIC_SHARED",)


def _squash(text: str) -> str:
    return " ".join(text.split())


def launch_from_call(call: Node, src: bytes, rel: str, function: str, launch_macros: set[str],
                     table: mac.MacroTableIndex, *, line: int = 0, macro: str = "") -> LaunchSite | None:
    """The launch ``call`` makes, or None when it launches nothing."""
    func = call.child_by_field_name("function")
    arglist = call.child_by_field_name("arguments")
    chevrons = next((c for c in call.children if c.type == "kernel_call_syntax"), None)
    line = line or call.start_point[0] + 1
    if chevrons is not None and func is not None:
        name, targs = kernel_expression(func, src)
        if not name:
            return None
        config = [_squash(text_of(c, src)) for c in chevrons.named_children if c.type != "comment"]
        config += ["0"] * (4 - len(config))
        args = [_squash(text_of(a, src)) for a in arglist.named_children if a.type != "comment"] if arglist else []
        return LaunchSite(kernel=name, file=rel, line=line, style="chevrons", template_args=targs,
                          grid=config[0], block=config[1], shared_bytes=config[2], stream=config[3], args=args,
                          function=function, in_macro=bool(macro), macro=macro)
    if func is None or func.type != "identifier" or arglist is None:
        return None
    callee = text_of(func, src)
    if callee in _API_LAYOUT:
        return _api_launch(callee, arglist, src, rel, function, line, macro)
    if callee in launch_macros:
        return _macro_launch(callee, call, src, rel, function, launch_macros, table, line)
    return None


def _api_launch(callee: str, arglist: Node, src: bytes, rel: str, function: str, line: int,
                macro: str) -> LaunchSite | None:
    args = [a for a in arglist.named_children if a.type != "comment"]
    k, g, b, s, st, first = _API_LAYOUT[callee]
    if len(args) <= k:
        return None
    name, targs = kernel_expression(args[k], src)
    if not name:
        return None

    def at(i: int | None, default: str = "") -> str:
        return _squash(text_of(args[i], src)) if i is not None and i < len(args) else default

    kernel_args = [_squash(text_of(a, src)) for a in args[first:]] if first is not None else []
    return LaunchSite(kernel=name, file=rel, line=line, style=callee, template_args=targs, grid=at(g),
                      block=at(b), shared_bytes=at(s, "0"), stream=at(st, "0"), args=kernel_args,
                      function=function, in_macro=bool(macro), macro=macro)


_WORD = re.compile(r"[A-Za-z_]\w*")


def _expand_argument_lists(text: str, table: mac.MacroTableIndex) -> str:
    """Function-like macros that stand for several launch arguments (``KARGS(alpha, beta)`` for
    ``grid, threads, 0, stream, m, n, alpha, ...``), expanded once so the arguments can be counted."""
    out, cursor = [], 0
    for tok in _WORD.finditer(text):
        if tok.start() < cursor:
            continue
        m = table.first(tok.group(0))
        if m is None or not m.function_like or table.kind(m.name) != mac.KIND_OTHER or "," not in m.body:
            continue
        j = tok.end()
        while j < len(text) and text[j] in " \t\n":
            j += 1
        if j >= len(text) or text[j] != "(":
            continue
        scanned = mac.scan_arguments(text, j)
        if scanned is None:
            continue
        args, end = scanned
        out += [text[cursor:tok.start()], mac.substitute(m, args)]
        cursor = end
    return "".join(out) + text[cursor:]


def _macro_launch(name: str, call: Node, src: bytes, rel: str, function: str, launch_macros: set[str],
                  table: mac.MacroTableIndex, line: int) -> LaunchSite | None:
    expanded, _ = mac.expand_text(_expand_argument_lists(text_of(call, src), table), table)
    snippet = f"void portkern_launch_snippet() {{ {expanded}; }}".encode("latin-1")
    tree = parser().parse(snippet)
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "call_expression":
            site = launch_from_call(node, snippet, rel, function, set(), table, line=line, macro=name)
            if site is not None:
                return site
        stack.extend(reversed(node.children))
    # A launch macro whose definition is outside the tree: read it with hipLaunchKernelGGL's layout
    # (kernel, grid, block, shared bytes, stream, arguments...), the convention such macros follow.
    arglist = call.child_by_field_name("arguments")
    if arglist is not None and len(arglist.named_children) >= 5:
        return _api_launch("hipLaunchKernelGGL", arglist, src, rel, function, line, name)
    return None


def kernel_expression(node: Node, src: bytes) -> tuple[str, list[str]]:
    """(kernel name, template arguments) of a launched-kernel expression such as ``(k<NB, T>)``."""
    for _ in range(8):
        t = node.type
        if t == "parenthesized_expression" and node.named_children:
            node = node.named_children[0]
        elif t == "cast_expression" and node.child_by_field_name("value") is not None:
            node = node.child_by_field_name("value")
        elif t == "pointer_expression" and node.child_by_field_name("argument") is not None:
            node = node.child_by_field_name("argument")
        elif t == "call_expression":
            fn = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            if fn is not None and text_of(fn, src).split("<", 1)[0].strip() in _CASTS and args is not None \
                    and args.named_children:
                node = args.named_children[0]
            else:
                break
        else:
            break
    while node.type == "qualified_identifier" and node.child_by_field_name("name") is not None:
        node = node.child_by_field_name("name")
    if node.type == "identifier":
        return text_of(node, src), []
    if node.type == "template_function":
        name = node.child_by_field_name("name")
        args = node.child_by_field_name("arguments")
        targs = [_squash(text_of(a, src)) for a in args.named_children if a.type != "comment"] if args else []
        return (text_of(name, src) if name is not None else ""), targs
    # The expression did not parse as a template name (e.g. ``k < A, B >`` read as comparisons): read it
    # again where only a kernel name can stand.
    text = text_of(node, src)
    if "<<<" in text or "\n" in text:
        return "", []
    probe = f"void portkern_probe() {{ {text}<<<1, 1>>>(); }}".encode("latin-1")
    tree = parser().parse(probe)
    stack = [tree.root_node]
    while stack:
        n = stack.pop()
        if n.type == "call_expression" and any(c.type == "kernel_call_syntax" for c in n.children):
            fn = n.child_by_field_name("function")
            if fn is not None and fn.type in ("identifier", "template_function", "qualified_identifier"):
                return kernel_expression(fn, probe)
            return "", []
        stack.extend(n.children)
    return "", []


def dynamic_shared(call: Node, src: bytes, function: str) -> SharedDecl | None:
    """``HIP_DYNAMIC_SHARED(type, name)``: dynamic shared memory declared through HIP's macro."""
    func = call.child_by_field_name("function")
    args = call.child_by_field_name("arguments")
    if func is None or args is None or text_of(func, src) not in _DYNAMIC_SHARED_MACROS:
        return None
    parts = [text_of(a, src) for a in args.named_children]
    if len(parts) != 2:
        return None
    return SharedDecl(name=parts[1].strip(), type=parts[0].strip(), dims=[""], extern=True, function=function,
                      line=call.start_point[0] + 1)
