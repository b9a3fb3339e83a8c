"""The operator contract and the syntax-tree helpers operators share.

An operator is a source-to-source rewrite of one kernel unit: it finds the kernel functions a
kernel's launches name in the tree-sitter tree of the unit and returns new unit text (and, when it
changes how much work a thread does, new launch specs). It never edits the library; what it
returns becomes a search candidate, which the pipeline compiles, validates and times like any other.
An operator that does not apply returns None.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from tree_sitter import Node

from portkern.ingest.treesitter import parser
from portkern.library import LaunchSpec
from portkern.model import Target
from portkern.search.operators.view import View, view_of

# Every concrete operator, by name: a subclass of Operator that sets ``name`` registers itself.
OPERATORS: dict[str, type[Operator]] = {}


@dataclass
class KernelUnit:
    """What an operator rewrites: a unit's source and how its kernels are launched."""

    source: str
    launches: list[LaunchSpec]
    dialect: str = "hip"                 # "hip" | "cuda"
    # Kernels an operator may rewrite; [] = every launched kernel. The search passes the kernel's own
    # symbol, so a shared finalize kernel (one definition for many reductions) stays as the library has it
    # and the patch, which edits the kernel's own definition, carries everything a candidate changed.
    rewritable: list[str] = field(default_factory=list)
    # Kernels whose launches earlier steps shrank in x (symbol -> factor): the host code that launches them
    # must do the same, which the patch carries (``portkern.emit.patch``).
    grid_shrink: dict[str, int] = field(default_factory=dict)
    # The value expressions of the kernel's size arguments (name -> expression), and those earlier steps
    # divided (name -> factor: the candidate's value is ceil_div(expression, factor)).
    sizes: dict[str, str] = field(default_factory=dict)
    size_scale: dict[str, int] = field(default_factory=dict)
    # Macros the target's device compile defines (``view.device_defines``): with them, operators read the
    # unit with the ``#if`` branches the target does not compile marked out (``portkern.search.operators.view``).
    defines: dict[str, str] = field(default_factory=dict)

    @property
    def symbols(self) -> list[str]:
        return list(self.rewritable) or list(dict.fromkeys(launch.symbol for launch in self.launches))


@dataclass(frozen=True)
class Suggestion:
    """A point an operator is built for: e.g. tile-gemm(3) with BM=BN=128, TM=TN=8, BK=8 and launch-bounds(2)."""

    params: tuple[tuple[str, int], ...]  # tunable values (the others stay at the kernel's defaults)
    arg: int                             # the operator's own argument
    steps: tuple[tuple[str, int], ...] = ()   # other operators' steps that go with it
    why: str = ""                        # one line: what the point is for


@dataclass
class Rewrite:
    """An operator's result: the new unit and launches, and what was done (one line)."""

    source: str
    launches: list[LaunchSpec]
    label: str                           # "grid-stride(4)": the operator and its argument
    description: str                     # one line for the patch, the report and the dataset
    edits: list[str] = field(default_factory=list)   # where it changed the unit, e.g. "axpy_kernel"
    grid_shrink: dict[str, int] = field(default_factory=dict)   # kernel -> factor its grid's x was divided by
    size_scale: dict[str, int] = field(default_factory=dict)    # size argument -> factor its value was divided by


class Operator(abc.ABC):
    name: ClassVar[str] = ""             # set it, and the class is registered under that name
    description: ClassVar[str] = ""      # one line: what the rewrite does
    vendors: ClassVar[tuple[str, ...]] = ()   # target vendors it applies to; () = every vendor
    by_construction: ClassVar[bool] = False   # True: the result computes the same values by construction
    order: ClassVar[int] = 50            # sequences apply operators by this rank (loop shape before unrolling)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            return
        if cls.name in OPERATORS and OPERATORS[cls.name] is not cls:
            raise TypeError(f"operator '{cls.name}' is defined twice: {OPERATORS[cls.name].__qualname__} "
                            f"and {cls.__qualname__}")
        if not cls.description or "\n" in cls.description:
            raise TypeError(f"operator '{cls.name}' needs a one-line description")
        OPERATORS[cls.name] = cls

    def applies_to(self, target: Target) -> bool:
        return not self.vendors or target.vendor in self.vendors

    @abc.abstractmethod
    def arguments(self, target: Target) -> list[int]:
        """The argument values worth trying on this target (read widths from the target, never assume one)."""

    @abc.abstractmethod
    def apply(self, unit: KernelUnit, arg: int, target: Target) -> Rewrite | None:
        """The rewritten unit, or None when the operator does not apply to it."""

    def label(self, arg: int) -> str:
        return f"{self.name}({arg})"

    def suggestions(self, tunables: dict[str, list[int]], target: Target) -> list[Suggestion]:
        """Points the rewrite is built for: tunable values (among ``tunables``, the kernel's declared space),
        the operator's argument and steps of other operators that go with it, best first. A search tries
        these before walking one change at a time. None by default."""
        return []

    def rewrite_kernels(self, unit: KernelUnit, arg: int,
                        edit: Callable[[KernelDef, bytes], list[Edit] | None],
                        describe: Callable[[list[str]], str], *, prelude: str = "",
                        shrink: Callable[[KernelDef], int] | None = None) -> Rewrite | None:
        """Run ``edit`` on each rewritable kernel's own definition; a Rewrite of every edit made (described
        by ``describe(names of the kernels changed)``), or None when no kernel was changed. ``prelude``
        (device helpers the edits call) goes once before the first changed kernel, unless already there.
        ``shrink(kernel)`` (called after ``edit`` changed it): the factor the kernel's launches divide their
        grid's x by (1 = as they are)."""
        data, kernels = kernel_definitions(unit)
        edits: list[Edit] = []
        changed: list[str] = []
        first = None
        factors: dict[str, int] = {}
        for kernel in kernels:
            found = edit(kernel, data)
            if found:
                edits.extend(found)
                changed.append(kernel.name)
                first = kernel if first is None else first
                factor = shrink(kernel) if shrink is not None else 1
                if factor > 1:
                    factors[kernel.name] = factor
        if not edits:
            return None
        if prelude and first is not None and prelude.splitlines()[0] not in unit.source:
            edits.append(Edit(first.start, first.start, prelude.rstrip("\n") + "\n\n"))
        names = sorted(set(n for n in changed if n), key=changed.index)
        source = splice(unit, edits)
        if source is None:
            return None
        return Rewrite(source=source, launches=shrink_grids(unit.launches, factors),
                       label=self.label(arg), description=describe(names), edits=names, grid_shrink=factors)


def shrink_grids(launches: list[LaunchSpec], factors: dict[str, int]) -> list[LaunchSpec]:
    """The launches with the grid's x of every launch of a kernel in ``factors`` divided by its factor
    (rounded up, so at least one block)."""
    out = []
    for launch in launches:
        factor = factors.get(launch.symbol, 1)
        if factor > 1 and launch.grid:
            grid = list(launch.grid)
            grid[0] = f"ceil_div({grid[0]}, {factor})"
            launch = LaunchSpec(launch.symbol, list(launch.template_args), grid, list(launch.block),
                                launch.shared_bytes, list(launch.args))
        out.append(launch)
    return out


def uses_block_position(node: Node, data: bytes, skip: Node | list[Node] | None = None) -> bool:
    """Whether anything under ``node`` (outside ``skip``, one node or several) may read blockIdx.x or
    gridDim.x (HIP's hipBlockIdx_x and hipGridDim_x too, or the whole blockIdx/gridDim): a kernel that
    does not, apart from its index, computes the same for any number of blocks in x that covers its range."""
    skipped = [] if skip is None else skip if isinstance(skip, list) else [skip]
    for n in walk(node):
        if any(s.start_byte <= n.start_byte and n.end_byte <= s.end_byte for s in skipped):
            continue
        if n.type != "identifier":
            continue
        name = text(n, data)
        if name in ("hipBlockIdx_x", "hipGridDim_x"):
            return True
        if name in ("blockIdx", "gridDim"):
            parent = n.parent
            member = parent.child_by_field_name("field") if parent is not None and parent.type == "field_expression" else None
            if member is None or text(member, data) not in ("y", "z"):
                return True
    return False


# --------------------------------------------------------------------------- syntax-tree helpers


@dataclass
class Edit:
    start: int                           # byte offsets into the unit
    end: int
    text: str


def apply_edits(source: bytes, edits: list[Edit]) -> str:
    """Splice non-overlapping edits into the source (applied back to front)."""
    out = source
    last = len(source) + 1
    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        if e.end > last:
            raise ValueError("overlapping edits")
        out = out[:e.start] + e.text.encode("utf-8") + out[e.end:]
        last = e.start
    return out.decode("utf-8")


def parse(source: str) -> tuple[bytes, Node]:
    data = source.encode("utf-8")
    return data, parser().parse(data).root_node


def text(node: Node, data: bytes) -> str:
    return data[node.start_byte:node.end_byte].decode("utf-8")


def function_name(fn: Node) -> str:
    decl = fn.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    if decl is None:
        return ""
    inner = decl.child_by_field_name("declarator")
    return inner.text.decode("utf-8") if inner is not None and inner.text else ""


def kernel_functions(root: Node, names: list[str]) -> list[Node]:
    """Definitions (with bodies) of the functions called ``names``, in source order."""
    wanted = set(names)
    found: list[Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        for child in node.children:
            if child.type == "function_definition" and child.child_by_field_name("body") is not None:
                if function_name(child) in wanted:
                    found.append(child)
            elif child.named_child_count and child.type not in ("compound_statement",):
                stack.append(child)
    return sorted(found, key=lambda n: n.start_byte)


@dataclass
class KernelDef:
    """One kernel's own definition in a unit: the function node, its name, its body and its head."""

    node: Node                           # the function_definition
    name: str
    body: Node                           # the compound statement
    head: str                            # text from the definition's start (after the template head) to its body
    template_head: str                   # "template <...>" before the definition; "" when not a template
    start: int                           # byte offset where the definition begins, template head included
    head_start: int = -1                 # byte offset where ``head`` begins


def unit_view(unit: KernelUnit) -> View | None:
    """The unit as the target's device compile sees its ``#if`` chains, when that differs from parsing it
    as written (``portkern.search.operators.view``)."""
    if not unit.defines:
        return None
    return view_of(unit.source.encode("utf-8"), tuple(sorted(unit.defines.items())))


def splice(unit: KernelUnit, edits: list[Edit]) -> str | None:
    """The unit with the edits (offsets into ``kernel_definitions``' bytes) made; None when they would
    touch a branch the target does not compile."""
    view = unit_view(unit)
    if view is not None and not view.guarded(edits):
        return None
    return apply_edits(unit.source.encode("utf-8"), edits)


def kernel_definitions(unit: KernelUnit) -> tuple[bytes, list[KernelDef]]:
    """The bytes operators read (the unit, or its view for the target: same offsets) and the definitions
    of the kernels an operator may rewrite, in source order. Edits on them are made with ``splice``."""
    view = unit_view(unit)
    if view is not None:
        data, root = view.data, parser().parse(view.data).root_node
    else:
        data, root = parse(unit.source)
    out = []
    for fn in kernel_functions(root, unit.symbols):
        body = fn.child_by_field_name("body")
        parent = fn.parent
        template_head, start, head_start = "", fn.start_byte, fn.start_byte
        if parent is not None and parent.type == "template_declaration":
            template_head, start = data[parent.start_byte:fn.start_byte].decode("utf-8"), parent.start_byte
        else:
            # A kernel-declaring macro between the template head and the name (``template <...>
            # KERNEL(NB) name(...)``) makes the parser end the template declaration before the function.
            prev = fn.prev_sibling
            params = prev.child_by_field_name("parameters") if prev is not None and prev.type == "template_declaration" else None
            if params is not None and not data[prev.end_byte:fn.start_byte].strip():
                template_head, start, head_start = "template " + text(params, data), prev.start_byte, params.end_byte
        out.append(KernelDef(node=fn, name=function_name(fn), body=body,
                             head=data[head_start:body.start_byte].decode("utf-8").lstrip(),
                             template_head=template_head, start=start, head_start=head_start))
    return data, out


def indent_of(node: Node, data: bytes) -> str:
    """The text between the start of the node's line and the node (its indentation when the node opens the line)."""
    line_start = data.rfind(b"\n", 0, node.start_byte) + 1
    return data[line_start:node.start_byte].decode("utf-8")


def walk(node: Node):
    """Every node below ``node`` (pre-order)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def identifiers(node: Node, data: bytes) -> set[str]:
    return {text(n, data) for n in walk(node) if n.type == "identifier"}


def has_syntax_errors(source: str) -> bool:
    _, root = parse(source)
    return root.has_error


_IDENT = re.compile(r"[A-Za-z_]\w*")


def is_name(s: str) -> bool:
    return bool(_IDENT.fullmatch(s))
