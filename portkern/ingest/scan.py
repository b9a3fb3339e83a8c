"""One source file -> its macros, includes and top-level declarations (kernels, helpers, types, ...).

Two passes per file: ``read_preprocessor`` collects ``#define``s and ``#include``s (so the whole
tree's macro table is known), then ``scan_file`` expands declaration macros, parses, and records
every top-level declaration with the names it defines and the names it refers to.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from tree_sitter import Node

from portkern.ingest import conditions as cond
from portkern.ingest import launches as launch_mod
from portkern.ingest import macros as mac
from portkern.ingest.model import Param, SharedDecl, SkippedRegion, TemplateParam
from portkern.ingest.treesitter import captures, parser, text_of

_IDENT = re.compile(rb"[A-Za-z_]\w*")
# Only these carry code ingest catalogs; everything else at top level is skipped silently.
_SILENT_TOP = {"comment", ";", "preproc_call", "static_assert_declaration", "#endif", "{", "}"}


@dataclass
class Include:
    target: str                      # the path inside <> or ""
    system: bool                     # <...>
    text: str                        # the line as written
    line: int
    condition: str = ""


@dataclass
class Item:
    """One top-level declaration, with what it defines and what it refers to."""

    kind: str                        # kernel | function | prototype | type | variable | alias | using | instantiation
    names: list[str]
    file: str
    line: int
    end_line: int
    start: int                       # offsets in the original text (latin-1 characters = bytes)
    end: int
    text: str                        # original text
    refs: set[str] = field(default_factory=set)
    namespaces: list[str] = field(default_factory=list)   # opening lines of enclosing scopes
    condition: str = ""
    scope: str = ""                  # out-of-class member definitions: the class they belong to
    macro: str = ""                  # macro whose expansion the declaration starts in
    declared_by: str = ""            # kernel / device-helper macro in its declaration specifiers
    expanded_text: str = ""          # text after declaration-macro expansion (instantiations)
    order: int = 0
    # functions
    is_global: bool = False
    is_device: bool = False
    is_host: bool = False
    launch_sites: list = field(default_factory=list)
    shared: list[SharedDecl] = field(default_factory=list)
    asm: bool = False
    # kernels
    template_params: list[TemplateParam] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    launch_bounds: list[str] = field(default_factory=list)
    static: bool = False
    template_args: list[str] = field(default_factory=list)  # instantiations
    # functions: names of parameters and local variables, which are never references to the tree
    locals: set[str] = field(default_factory=set)

    @property
    def qualified_name(self) -> str:
        spaces = [n.split(" ", 1)[1].rstrip(" {") for n in self.namespaces if n.startswith("namespace ")]
        spaces = [s for s in spaces if s and s != "{"]
        return "::".join([*spaces, self.names[0]]) if self.names else ""


@dataclass
class FileIndex:
    file: str
    lines: int
    dialect_hint: str = ""           # "hip" | "cuda" | "" (from includes and API names)
    macros: list[mac.MacroDef] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    skipped: list[SkippedRegion] = field(default_factory=list)
    # #if chains reduced to one branch because their braces balance only per configuration
    configured: list[cond.Choice] = field(default_factory=list)


# --------------------------------------------------------------------------- pass 1: preprocessor


_DIRECTIVE_START = re.compile(rb"^[ \t]*#", re.M)


def directives_only(source: bytes) -> bytes:
    """The file with every line that is not a preprocessor directive blanked (line numbers kept).

    Parsing only the directives is several times cheaper than parsing the file, and is all the
    first pass needs.
    """
    if not _DIRECTIVE_START.search(source):
        return b""
    out = []
    keep = False
    for line in source.split(b"\n"):
        stripped = line.lstrip()
        if keep or stripped.startswith(b"#"):
            out.append(line)
            keep = line.rstrip(b"\r").endswith(b"\\")
        else:
            out.append(b"")
    return b"\n".join(out)


def read_preprocessor(rel: str, source: bytes) -> tuple[list[mac.MacroDef], list[Include]]:
    directives = directives_only(source)
    if not directives:
        return [], []
    tree = parser().parse(directives)
    source = directives
    defs: list[mac.MacroDef] = []
    includes: list[Include] = []
    found = captures("defines", tree.root_node)
    for node in found.get("def", []):
        name_node = node.child_by_field_name("name")
        if name_node is None:
            continue
        params_node = node.child_by_field_name("parameters")
        value = node.child_by_field_name("value")
        params = None
        if params_node is not None:
            params = [text_of(c, source).strip() for c in params_node.named_children]
            if text_of(params_node, source).replace(" ", "").endswith("...)") and "..." not in params \
                    and not any(p.endswith("...") for p in params):
                params.append("...")
        body = mac.join_continuations(text_of(value, source)).strip() if value is not None else ""
        m = mac.MacroDef(name=text_of(name_node, source), params=params, body=body, file=rel,
                         line=node.start_point[0] + 1, end_line=node.end_point[0] + 1,
                         condition=_condition_of(node, source), text=text_of(node, source).rstrip())
        m.kind = mac.classify(body)
        defs.append(m)
    for node in found.get("include", []):
        path = node.child_by_field_name("path")
        if path is None:
            continue
        raw = text_of(path, source)
        includes.append(Include(target=raw.strip('<>"'), system=raw.startswith("<"),
                                text=text_of(node, source).strip(), line=node.start_point[0] + 1,
                                condition=_condition_of(node, source)))
    return defs, includes


# --------------------------------------------------------------------------- conditions


_CONDITIONALS = ("preproc_if", "preproc_ifdef", "preproc_elif", "preproc_else", "preproc_elifdef")


def _condition_of(node: Node, source: bytes) -> str:
    """The preprocessor condition ``node`` sits under, as one ``#if`` expression ("" = unconditional)."""
    parts: list[str] = []
    child = node
    parent = node.parent
    while parent is not None:
        if parent.type in _CONDITIONALS and parent.child_by_field_name("alternative") != child:
            branch = _branch_condition(parent, source)
            if branch:
                parts.append(branch)
        child = parent
        parent = parent.parent
    return " && ".join(reversed(parts))


def _own_condition(node: Node, source: bytes) -> str:
    if node.type in ("preproc_if", "preproc_elif"):
        c = node.child_by_field_name("condition")
        return f"({text_of(c, source).strip()})" if c is not None else ""
    if node.type in ("preproc_ifdef", "preproc_elifdef"):
        name = node.child_by_field_name("name")
        if name is None:
            return ""
        negate = text_of(node.children[0], source).strip() in ("#ifndef", "#elifndef")
        return f"{'!' if negate else ''}defined({text_of(name, source)})"
    return ""


def _is_include_guard(node: Node, source: bytes) -> bool:
    if node.type != "preproc_ifdef" or node.child_by_field_name("alternative") is not None \
            or text_of(node.children[0], source).strip() != "#ifndef":
        return False
    name = node.child_by_field_name("name")
    for c in node.named_children:
        if c == name or c.type == "comment":
            continue
        if c.type == "preproc_def":
            n = c.child_by_field_name("name")
            return n is not None and name is not None and text_of(n, source) == text_of(name, source) \
                and c.child_by_field_name("value") is None
        return False
    return False


def _branch_condition(branch: Node, source: bytes) -> str:
    """Condition under which the body of one branch of an #if chain is compiled."""
    own = "" if _is_include_guard(branch, source) else _own_condition(branch, source)
    parts: list[str] = []
    node = branch
    while node.parent is not None and node.parent.type in _CONDITIONALS \
            and node.parent.child_by_field_name("alternative") == node:
        node = node.parent
        earlier = _own_condition(node, source)
        if earlier:
            parts.append(f"!({earlier})" if not earlier.startswith("(") else f"!{earlier}")
    parts.reverse()
    if own:
        parts.append(own)
    return " && ".join(parts)


# --------------------------------------------------------------------------- pass 2: declarations


@dataclass
class _Ctx:
    rel: str
    source: bytes                    # parsed (expanded) text
    original: str                    # original text
    expanded: mac.ExpandedText
    table: mac.MacroTableIndex
    launch_macros: set[str]
    index: FileIndex
    order: int = 0
    configured: bool = False         # branches of #if chains were blanked for the parser


_PRAGMA_LINE = re.compile(rb"^[ \t]*#[ \t]*pragma[^\n]*", re.M)


# ``struct ROCBLAS_EXPORT name {``: an attribute spelled through a macro (visibility, alignment)
# between the class key and the name, which a parser that does not preprocess reads as the name.
_CLASS_ATTRIBUTE_MACRO = re.compile(rb"\b(?:struct|class|union)\s+([A-Z_][A-Z0-9_]*)(?=\s+[A-Za-z_]\w*\s*(?:[:{]|final\b))")


def configure(original_bytes: bytes, config: cond.Configuration | None) -> tuple[bytes, list[cond.Choice]]:
    """The text the parser sees: pragmas and class attribute macros blanked, and #if chains whose
    braces balance only per configuration reduced to one branch (same length, so offsets into the
    original hold; units keep the original text)."""
    # A pragma between ``for(...)`` and its body is legal C++ the grammar rejects.
    blanked = _PRAGMA_LINE.sub(lambda m: b" " * len(m.group(0)), original_bytes)
    blanked = _CLASS_ATTRIBUTE_MACRO.sub(
        lambda m: m.group(0)[:m.start(1) - m.start(0)] + b" " * len(m.group(1)), blanked)
    if config is None:
        return blanked, []
    return cond.select_branches(blanked, config)


def scan_file(rel: str, original_bytes: bytes, table: mac.MacroTableIndex, defines: list[mac.MacroDef],
              includes: list[Include], configured: tuple[bytes, list[cond.Choice]] | None = None) -> FileIndex:
    """Declarations of one file. ``configured`` is what ``configure`` returned for it (default: no
    configuration, pragmas blanked); units keep the original text."""
    original = original_bytes.decode("latin-1")
    index = FileIndex(file=rel, lines=original.count("\n") + 1, macros=defines, includes=includes)
    blanked, index.configured = configured if configured is not None else configure(original_bytes, None)
    positions = _declaration_macro_positions(blanked, table)
    expanded = mac.expand_declaration_macros(blanked.decode("latin-1"), positions, table)
    source = expanded.text.encode("latin-1") if expanded.expansions else blanked
    tree = parser().parse(source)
    ctx = _Ctx(rel, source, original, expanded, table, table.names_of_kind(mac.KIND_LAUNCH), index,
               configured=bool(index.configured))
    index.dialect_hint = _dialect_hint(rel, includes, source)
    _report_errors(tree.root_node, ctx)
    _walk(tree.root_node, ctx, [], "")
    return index


# Comments, string literals and directive lines: where a macro name is not an invocation.
_NOT_CODE = re.compile(rb'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|^[ \t]*#(?:[^\n]*\\\r?\n)*[^\n]*', re.S | re.M)


def _declaration_macro_positions(source: bytes, table: mac.MacroTableIndex) -> list[tuple[int, str]]:
    pattern = table.invocation_pattern()
    if pattern is None or not pattern.search(source):
        return []
    skip = [(m.start(), m.end()) for m in _NOT_CODE.finditer(source)]
    starts = [a for a, _ in skip]
    out = []
    for tok in pattern.finditer(source):
        i = bisect.bisect_right(starts, tok.start()) - 1
        if i >= 0 and tok.start() < skip[i][1]:
            continue
        out.append((tok.start(), tok.group(0).decode("latin-1")))
    return out


def _dialect_hint(rel: str, includes: list[Include], source: bytes) -> str:
    """The file's own dialect markers (HIP also accepts ``<<<>>>``, so chevrons alone say nothing)."""
    targets = [i.target for i in includes]
    if rel.endswith(".hip") or any(t.startswith("hip/") for t in targets) or b"hipLaunchKernelGGL" in source:
        return "hip"
    if rel.endswith((".cu", ".cuh")) or any(t.startswith(("cuda", "cooperative_groups", "cub/")) for t in targets):
        return "cuda"
    return ""


def _report_errors(root: Node, ctx: _Ctx) -> None:
    if not root.has_error:
        return
    found = captures("errors", root)
    seen_lines: set[int] = set()
    for kind in ("error", "missing"):
        for node in found.get(kind, []):
            line = node.start_point[0] + 1
            if line in seen_lines:
                continue
            seen_lines.add(line)
            snippet = text_of(node, ctx.source).strip().splitlines()
            near = (snippet[0][:60] if snippet else node.type)
            reason = (f"syntax error near '{near}'" if kind == "error" else f"missing '{node.type}'")
            macro = next((w for w in _IDENT.findall(ctx.source[node.start_byte:node.end_byte + 1])
                          if w.decode("latin-1") in ctx.table.defs), None)
            if macro:
                reason += f" (macro '{macro.decode('latin-1')}' may need to be listed in the library's macro table)"
            ctx.index.skipped.append(SkippedRegion(ctx.rel, line, node.end_point[0] + 1, reason))


def _walk(node: Node, ctx: _Ctx, namespaces: list[str], condition: str) -> None:
    children = node.children
    is_conditional = node.type in _CONDITIONALS
    i = 0
    while i < len(children):
        child = children[i]
        t = child.type
        field_name = node.field_name_for_child(i)
        i += 1
        if is_conditional and field_name in ("condition", "name", "alternative"):
            continue
        if t in ("preproc_if", "preproc_ifdef"):
            branch: Node | None = child
            while branch is not None:
                _walk(branch, ctx, namespaces, _and(condition, _branch_condition(branch, ctx.source)))
                branch = branch.child_by_field_name("alternative")
            continue
        if t == "namespace_definition":
            body = child.child_by_field_name("body")
            name = child.child_by_field_name("name")
            inline = any(c.type == "inline" for c in child.children)
            opener = f"{'inline ' if inline else ''}namespace {text_of(name, ctx.source) + ' ' if name else ''}{{"
            if body is not None:
                _walk(body, ctx, [*namespaces, opener], condition)
            continue
        if t == "linkage_specification":
            body = child.child_by_field_name("body")
            value = child.child_by_field_name("value")
            opener = f"extern {text_of(value, ctx.source)} {{" if value is not None else 'extern "C" {'
            if body is not None and body.type == "declaration_list":
                _walk(body, ctx, [*namespaces, opener], condition)
            elif body is not None:
                _guarded_item(body, child, ctx, [*namespaces, opener], condition, child)
            continue
        if t in _SILENT_TOP or t.startswith("preproc_") or t.startswith("#") or not child.is_named:
            continue
        if t == "ERROR":
            # an error region may still hold declarations the parser recovered
            _walk(child, ctx, namespaces, condition)
            continue
        end_node = child
        if i < len(children) and children[i].type == ";" and t.endswith("_specifier"):
            end_node = children[i]
        _guarded_item(child, child, ctx, namespaces, condition, end_node)


def _guarded_item(node: Node, outer: Node, ctx: _Ctx, namespaces: list[str], condition: str,
                  end_node: Node) -> None:
    try:
        _item(node, outer, ctx, namespaces, condition, end_node)
    except Exception as exc:  # noqa: BLE001 - one odd declaration must never stop a file
        ctx.index.skipped.append(SkippedRegion(ctx.rel, outer.start_point[0] + 1, outer.end_point[0] + 1,
                                               f"declaration not understood ({type(exc).__name__}: {exc})"))


def _and(a: str, b: str) -> str:
    return f"{a} && {b}" if a and b else (a or b)


# --------------------------------------------------------------------------- one declaration


def _item(node: Node, outer: Node, ctx: _Ctx, namespaces: list[str], condition: str,
          end_node: Node | None = None) -> None:
    end_node = end_node or outer
    inner = node
    template_params: list[TemplateParam] = []
    while inner.type == "template_declaration":
        plist = inner.child_by_field_name("parameters")
        if plist is not None and not template_params:
            template_params = _template_params(plist, ctx.source)
        named = [c for c in inner.named_children if c.type not in ("template_parameter_list", "comment")]
        if not named:
            return
        inner = named[-1]
    item = _new_item(outer, end_node, ctx, namespaces, condition)
    t = inner.type
    if t == "function_definition":
        _function(inner, item, ctx)
        item.template_params = template_params
    elif t == "declaration" or t == "field_declaration":
        _declaration(inner, item, ctx)
    elif t in ("struct_specifier", "class_specifier", "union_specifier", "enum_specifier"):
        item.kind = "type"
        item.names = _type_names(inner, ctx.source)
    elif t == "type_definition":
        item.kind = "type"
        item.names = [text_of(d, ctx.source) for d in inner.children_by_field_name("declarator")
                      if d.type == "type_identifier"]
        spec = inner.child_by_field_name("type")
        if spec is not None and spec.child_by_field_name("body") is not None:
            item.names += _type_names(spec, ctx.source)
    elif t in ("alias_declaration", "namespace_alias_definition", "concept_definition"):
        item.kind = "alias"
        name = inner.child_by_field_name("name")
        item.names = [text_of(name, ctx.source)] if name is not None else []
    elif t == "template_instantiation":
        _instantiation(inner, item, ctx)
    elif t in ("using_declaration",):
        item.kind = "using"
    elif t == "expression_statement":
        word = _IDENT.match(text_of(inner, ctx.source).encode("latin-1").strip())
        name = word.group(0).decode("latin-1") if word else "?"
        ctx.index.skipped.append(SkippedRegion(
            ctx.rel, item.line, item.end_line,
            f"file-scope macro invocation '{name}' not understood: its #define is not in the tree or does not "
            f"build a kernel, helper or instantiation (list it in the library's macro table)"))
        return
    else:
        return
    if not item.names and item.kind not in ("using",):
        return
    item.refs = _refs(outer, ctx, exclude=set(item.names) if item.kind in ("type", "alias", "variable") else set())
    item.refs -= item.locals
    if ctx.configured:
        # units keep every branch of the original text: macros of the branches the parser did not
        # see are needed as well
        item.refs |= {w for w in re.findall(r"[A-Za-z_]\w*", item.text) if w in ctx.table.defs} - item.locals
    if item.kind == "type":
        # the attribute macro the parser did not see is still one the declaration needs
        item.refs |= {m.decode("latin-1") for m in _CLASS_ATTRIBUTE_MACRO.findall(item.text.encode("latin-1"))}
    item.refs -= {p.name for p in template_params}
    ctx.index.items.append(item)


def _new_item(outer: Node, end_node: Node, ctx: _Ctx, namespaces: list[str], condition: str) -> Item:
    start = ctx.expanded.orig_start(outer.start_byte)
    end = ctx.expanded.orig_end(end_node.end_byte)
    ctx.order += 1
    exp = ctx.expanded.expansion_at(outer.start_byte)
    return Item(kind="", names=[], file=ctx.rel, line=outer.start_point[0] + 1,
                end_line=outer.end_point[0] + 1, start=start, end=end, text=ctx.original[start:end],
                namespaces=list(namespaces), condition=condition, order=ctx.order,
                macro=exp.name if exp is not None and exp.new_start <= outer.start_byte else "")


def _refs(node: Node, ctx: _Ctx, exclude: set[str]) -> set[str]:
    src = ctx.source
    out = {src[n.start_byte:n.end_byte].decode("latin-1") for n in captures("refs", node).get("ref", [])}
    for e in ctx.expanded.expansions_in(node.start_byte, node.end_byte):
        out.add(e.name)
        out.update(e.nested)
    return out - exclude


def _type_names(spec: Node, source: bytes) -> list[str]:
    names = []
    name = spec.child_by_field_name("name")
    if name is not None:
        names.append(text_of(name, source).split("<", 1)[0])
    if spec.type == "enum_specifier":
        body = spec.child_by_field_name("body")
        if body is not None:
            for e in body.named_children:
                if e.type == "enumerator":
                    n = e.child_by_field_name("name")
                    if n is not None:
                        names.append(text_of(n, source))
    return names


# --------------------------------------------------------------------------- functions


def _declarator_name(decl: Node | None, source: bytes) -> tuple[str, str, Node | None]:
    """(name, scope, function_declarator) of a (possibly pointer/reference-wrapped) declarator."""
    while decl is not None and decl.type in ("pointer_declarator", "reference_declarator", "attributed_declarator",
                                             "parenthesized_declarator"):
        inner = decl.child_by_field_name("declarator")
        decl = inner if inner is not None else (decl.named_children[-1] if decl.named_children else None)
    if decl is None or decl.type != "function_declarator":
        return "", "", None
    target = decl.child_by_field_name("declarator")
    if target is None:
        return "", "", decl
    scope = ""
    while target.type == "qualified_identifier":
        sc = target.child_by_field_name("scope")
        if sc is not None:
            scope = text_of(sc, source).split("<", 1)[0]
        nxt = target.child_by_field_name("name")
        if nxt is None:
            break
        target = nxt
    if target.type == "template_function":
        n = target.child_by_field_name("name")
        return (text_of(n, source) if n is not None else text_of(target, source)), scope, decl
    return text_of(target, source), scope, decl


def _function(fn: Node, item: Item, ctx: _Ctx) -> None:
    src = ctx.source
    name, scope, fdecl = _declarator_name(fn.child_by_field_name("declarator"), src)
    item.names = [name] if name else []
    item.scope = scope
    for c in fn.children:
        if c.type == "__global__":
            item.is_global = True
        elif c.type == "__device__":
            item.is_device = True
        elif c.type == "__host__":
            item.is_host = True
        elif c.type == "launch_bounds":
            item.launch_bounds = [text_of(a, src).strip() for a in c.named_children]
        elif c.type == "storage_class_specifier" and text_of(c, src) == "static":
            item.static = True
        elif c.type == "attribute_specifier" and not item.launch_bounds:
            attr = text_of(c, src)
            if "amdgpu_flat_work_group_size" in attr:
                inner = attr.split("amdgpu_flat_work_group_size", 1)[1]
                scanned = mac.scan_arguments(inner, inner.index("(")) if "(" in inner else None
                if scanned and len(scanned[0]) == 2:
                    item.launch_bounds = [scanned[0][1]]
    item.kind = "kernel" if item.is_global else "function"
    head_end = fdecl.start_byte if fdecl is not None else fn.start_byte
    for e in ctx.expanded.expansions_in(item_start_byte(fn, ctx), head_end):
        if ctx.table.kind(e.name) in (mac.KIND_KERNEL, mac.KIND_DEVICE_HELPER):
            item.declared_by = e.name
            break
    plist = fdecl.child_by_field_name("parameters") if fdecl is not None else None
    if plist is not None:
        params = _params(plist, src)
        item.locals.update(p.name for p in params if p.name)
        if item.is_global:
            item.params = params
    body = fn.child_by_field_name("body")
    if body is None:
        return
    found = captures("body", body)
    if found.get("asm"):
        item.asm = True
    for decl in found.get("decl", []):
        for d in decl.children_by_field_name("declarator"):
            ident = _innermost_identifier(d)
            if ident is not None:
                item.locals.add(text_of(ident, src))
        shared = _shared_decl(decl, src, name)
        if shared is not None:
            shared.line = decl.start_point[0] + 1
            item.shared.append(shared)
    for call in found.get("call", []):
        site = launch_mod.launch_from_call(call, src, ctx.rel, name, ctx.launch_macros, ctx.table)
        if site is not None:
            item.launch_sites.append(site)
            continue
        dynamic = launch_mod.dynamic_shared(call, src, name)
        if dynamic is not None:
            item.shared.append(dynamic)


def item_start_byte(fn: Node, ctx: _Ctx) -> int:
    """Start of a function's declaration in the parsed text, its template header included."""
    parent = fn.parent
    return parent.start_byte if parent is not None and parent.type == "template_declaration" else fn.start_byte


def _params(plist: Node, source: bytes) -> list[Param]:
    out = []
    for p in plist.named_children:
        if p.type not in ("parameter_declaration", "optional_parameter_declaration", "variadic_parameter_declaration"):
            continue
        decl = p.child_by_field_name("declarator")
        ident = _innermost_identifier(decl)
        full = text_of(p, source)
        if p.type == "optional_parameter_declaration":
            dv = p.child_by_field_name("default_value")
            if dv is not None:
                full = source[p.start_byte:dv.start_byte].decode("latin-1").rstrip().rstrip("=").rstrip()
        if ident is None:
            out.append(Param(name="", type=" ".join(full.split())))
            continue
        a, b = ident.start_byte - p.start_byte, ident.end_byte - p.start_byte
        ptext = source[p.start_byte:p.end_byte].decode("latin-1")
        type_text = (ptext[:a] + ptext[b:len(full)]).strip()
        out.append(Param(name=text_of(ident, source), type=" ".join(type_text.split())))
    return out


def _innermost_identifier(decl: Node | None) -> Node | None:
    while decl is not None:
        if decl.type == "identifier":
            return decl
        inner = decl.child_by_field_name("declarator")
        if inner is None:
            named = [c for c in decl.named_children if c.type in ("identifier",) or c.type.endswith("declarator")]
            inner = named[-1] if named else None
        decl = inner
    return None


def _template_params(plist: Node, source: bytes) -> list[TemplateParam]:
    out = []
    for p in plist.named_children:
        t = p.type
        if t in ("type_parameter_declaration", "variadic_type_parameter_declaration"):
            ident = next((c for c in p.named_children if c.type == "type_identifier"), None)
            out.append(TemplateParam(kind="type", name=text_of(ident, source) if ident else "",
                                     variadic=t.startswith("variadic")))
        elif t == "optional_type_parameter_declaration":
            name = p.child_by_field_name("name")
            default = p.child_by_field_name("default_type")
            out.append(TemplateParam(kind="type", name=text_of(name, source) if name else "",
                                     default=text_of(default, source) if default else ""))
        elif t in ("parameter_declaration", "optional_parameter_declaration", "variadic_parameter_declaration"):
            decl = p.child_by_field_name("declarator")
            ident = _innermost_identifier(decl)
            typ = p.child_by_field_name("type")
            default = p.child_by_field_name("default_value")
            out.append(TemplateParam(kind="value", name=text_of(ident, source) if ident else "",
                                     type=text_of(typ, source) if typ else "",
                                     default=text_of(default, source) if default else "",
                                     variadic=t.startswith("variadic")))
        elif t == "template_template_parameter_declaration":
            ident = [c for c in p.named_children if c.type in ("type_parameter_declaration",
                                                                "optional_type_parameter_declaration")]
            name = ""
            if ident:
                tid = next((c for c in ident[-1].named_children if c.type == "type_identifier"), None)
                name = text_of(tid, source) if tid else ""
            out.append(TemplateParam(kind="template", name=name))
    return out


def _shared_decl(decl: Node, source: bytes, function: str) -> SharedDecl | None:
    qualifiers = [text_of(c, source) for c in decl.children if c.type == "type_qualifier"]
    if "__shared__" not in qualifiers:
        return None
    extern = any(c.type == "storage_class_specifier" and text_of(c, source) == "extern" for c in decl.children)
    typ = decl.child_by_field_name("type")
    declarator = decl.child_by_field_name("declarator")
    dims: list[str] = []
    d = declarator
    while d is not None and d.type in ("array_declarator", "init_declarator", "attributed_declarator"):
        if d.type == "array_declarator":
            size = d.child_by_field_name("size")
            dims.insert(0, text_of(size, source) if size is not None else "")
        d = d.child_by_field_name("declarator")
    ident = _innermost_identifier(declarator)
    return SharedDecl(name=text_of(ident, source) if ident else "", type=text_of(typ, source) if typ else "",
                      dims=dims, extern=extern, function=function)


# --------------------------------------------------------------------------- other declarations


def _declaration(decl: Node, item: Item, ctx: _Ctx) -> None:
    src = ctx.source
    declarators = decl.children_by_field_name("declarator")
    fn_names = []
    for d in declarators:
        name, scope, fdecl = _declarator_name(d, src)
        if fdecl is not None and name:
            fn_names.append(name)
            item.scope = scope
    if fn_names:
        item.kind = "prototype"
        item.names = fn_names
        item.is_global = any(c.type == "__global__" for c in decl.children)
        return
    item.kind = "variable"
    for d in declarators:
        ident = _innermost_identifier(d)
        if ident is not None:
            item.names.append(text_of(ident, src))
    spec = decl.child_by_field_name("type")
    if spec is not None and spec.type.endswith("_specifier") and spec.child_by_field_name("body") is not None:
        item.names += _type_names(spec, src)


def _instantiation(node: Node, item: Item, ctx: _Ctx) -> None:
    src = ctx.source
    item.kind = "instantiation"
    declarator = node.child_by_field_name("declarator")
    fdecl = declarator
    while fdecl is not None and fdecl.type != "function_declarator":
        nxt = fdecl.child_by_field_name("declarator")
        fdecl = nxt if nxt is not None else None
    if fdecl is None:
        item.names = []
        return
    target = fdecl.child_by_field_name("declarator")
    while target is not None and target.type == "qualified_identifier":
        target = target.child_by_field_name("name")
    if target is None:
        return
    if target.type == "template_function":
        name = target.child_by_field_name("name")
        args = target.child_by_field_name("arguments")
        item.names = [text_of(name, src)] if name is not None else []
        if args is not None:
            item.template_args = [" ".join(text_of(a, src).split()) for a in args.named_children
                                  if a.type != "comment"]
    else:
        item.names = [text_of(target, src)]
    item.expanded_text = " ".join(text_of(node, src).split())
    item.is_global = any(c.type == "__global__" for c in node.children)
