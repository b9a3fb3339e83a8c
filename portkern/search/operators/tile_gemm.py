"""tile-gemm(M): a column-major NN gemm kernel's body becomes a register- and shared-memory-tiled SGEMM/DGEMM.

Applies to a kernel templated on ``int BM, BN, BK, TM, TN`` and ``typename T`` whose launch is the gemm
contract (block ``(BM / TM) * (BN / TN)`` threads, grid ``ceil_div(m, BM) x ceil_div(n, BN)``, these
template arguments passed through) and whose launch arguments are BLAS's ``m, n, k, alpha, A, lda, B,
ldb, beta, C, ldc`` (strides of a batch optional). The head, the template parameters and the launch
stay as they are; the body is replaced by:

- the original's own set-up of the scalars and the batch pointers (its declarations that read
  ``alpha``, ``beta``, ``A``, ``B``, ``C``, e.g. ``load_ptr_batch(A, blockIdx.z, ...)``), and its
  beta == 0 test when it has one (then, as in the original, C is not read when beta is zero);
- per k-slab of BK: the A slab (BM x BK, contiguous along m) stored k-major as it is read, with
  16-byte vector loads (float4, double2) along m; the B slab (BK x BN, contiguous along k) read with
  vector loads along k and stored transposed, k-major, its rows padded by 16 bytes (bit 2 of M) so
  the transposing stores of neighbouring k groups fall in other banks. A vector is loaded where, at
  run time, the pointer and the leading dimension keep it aligned and it lies wholly inside the
  matrix; element by element, zero outside, otherwise (the ragged edges). Each thread walks its own
  A and B pointers one slab at a time, with the rows and columns left from them computed once;
- each thread accumulates a TM x TN tile of outer products from registers: its rows are groups of
  up to 16 bytes, the groups of neighbouring threads adjacent (``g * DX * V + tx * V``), so the
  shared-memory reads of a wavefront are contiguous vectors; likewise its columns;
- bit 1 of M: double buffering. Two shared stages; the next slab is loaded into registers before
  the current one is computed and stored to the other stage after it, one barrier per slab (a
  single stage, still prefetching into registers, when two do not fit the static shared memory);
  without it, load, barrier, compute, barrier;
- C written with vector loads and stores along m where aligned and inside, element by element
  otherwise, ``alpha * acc`` / ``alpha * acc + beta * C`` exactly as the original's expression;
- bit 4 of M (NVIDIA): a register budget. The kernel's launch bounds (its kernel macro expanded in
  its own head) get a minimum of resident blocks: as many as the target's register file holds of
  threads needing their accumulators, fragments and prefetched slab elements plus 32 registers, in
  the element type's 32-bit registers (128 x 128 blocks of 8 x 8 in fp32 on sm_90: two blocks, 128
  registers, no spills; fp64 stays at one). Not offered on AMD, where clang turns the second bound
  into an occupancy floor of its own (launch-bounds covers it there).

``suggestions`` names the points the rewrite is built for (128 x 128 x 8 blocks of 8 x 8 with and
without the budget, 128 x 64 x 8, 64 x 64 x 8 of 4 x 4, 128 x 128 x 16); evolve and refine try them
before walking one change at a time.

Nothing assumes a wavefront width. Additions come in the original's order per element (k ascending),
but the tiling is new code: validated, not correct by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from portkern.model import Target
from portkern.search.operators.base import (
    Edit,
    KernelDef,
    KernelUnit,
    Operator,
    Rewrite,
    Suggestion,
    parse,
    text,
    walk,
)
from portkern.search.operators.launch_bounds import _function_macros, bounded_head
from portkern.search.operators.vectorize import PRELUDE as VECTOR_PRELUDE

MARK = "// tile-gemm("
TILE_PRELUDE = """// portkern tile-gemm helpers: elements per 16-byte vector, and the widest vector that divides a count
template <typename T>
struct portkern_tile_width
{
    static constexpr int value = 1;
};
template <>
struct portkern_tile_width<float>
{
    static constexpr int value = 4;
};
template <>
struct portkern_tile_width<double>
{
    static constexpr int value = 2;
};
template <int N, int W>
struct portkern_tile_fit
{
    static constexpr int value = (N % W == 0) ? W : portkern_tile_fit<N, W / 2>::value;
};
template <int N>
struct portkern_tile_fit<N, 1>
{
    static constexpr int value = 1;
};
// blocks of THREADS threads needing NEED registers each that REGS registers hold, between 1 and MAXB
template <int THREADS, int REGS, int MAXB, int NEED>
struct portkern_tile_blocks
{
    static constexpr int fit   = REGS / (THREADS * NEED);
    static constexpr int value = fit < 1 ? 1 : (fit > MAXB ? MAXB : fit);
};
"""

# Static shared memory a block may declare: 48 KiB on NVIDIA (more needs dynamic shared memory and
# an opt-in), the LDS size on AMD; the target's own figure when it is smaller.
STATIC_SHARED_BYTES = 49152

TILES = ("BM", "BN", "BK", "TM", "TN")
REQUIRED = ("m", "n", "k", "alpha", "A", "lda", "B", "ldb", "beta", "C", "ldc")
BUILTINS = {"blockIdx", "gridDim", "blockDim"}
DOUBLE_BUFFER, PAD, BLOCKS = 1, 2, 4
_SPACE = re.compile(r"\s+")


@dataclass
class _Gemm:
    formals: dict[str, str]              # launch argument name -> the kernel's parameter name
    prologue: list[str]                  # the original's declarations of scalars and batch pointers
    names: dict[str, str]                # "alpha", "beta", "A", "B", "C" -> the name the body uses
    beta_flag: str                       # the original's beta == 0 flag ("" when it has none)
    flag_decl: str                       # its declaration


def _template_params(template_head: str) -> dict[str, int]:
    """Template parameter name -> position, from ``template <typename I, int BM, ...>``."""
    inner = template_head[template_head.find("<") + 1: template_head.rfind(">")]
    out = {}
    for i, part in enumerate(p.strip() for p in inner.split(",")):
        m = re.fullmatch(r"(?:typename|class|int|unsigned|unsigned int|size_t)\s+([A-Za-z_]\w*)(?:\s*=.*)?", part)
        if not m:
            return {}
        out[m.group(1)] = i
    return out


def _formal_names(fn: Node, data: bytes) -> list[str]:
    decl = fn.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    params = decl.child_by_field_name("parameters") if decl is not None else None
    if params is None:
        return []
    out = []
    for p in params.named_children:
        if p.type != "parameter_declaration":
            return []
        names = [n for n in walk(p) if n.type == "identifier"]
        if not names:
            return []
        out.append(text(names[-1], data))
    return out


def _flat(s: str) -> str:
    return _SPACE.sub("", str(s)).replace("//", "/")


def _launch_matches(unit: KernelUnit, kernel: KernelDef, tparams: dict[str, int]) -> list | None:
    """The kernel's launches if every one keeps the gemm contract with these template parameters."""
    launches = [launch for launch in unit.launches if launch.symbol == kernel.name]
    if not launches:
        return None
    for launch in launches:
        targs = [_flat(a) for a in launch.template_args]
        if len(targs) != len(tparams) or any(targs[tparams[t]] != t for t in TILES + ("T",)):
            return None
        block = [_flat(b) for b in launch.block]
        if block[0] not in ("(BM/TM)*(BN/TN)", "(BN/TN)*(BM/TM)") or any(b != "1" for b in block[1:]):
            return None
        grid = [_flat(g) for g in launch.grid]
        if "BM" not in grid[0] or "BN" not in grid[1] or "BN" in grid[0] or "BM" in grid[1]:
            return None
    return launches


def _free_names(node: Node, data: bytes, declared: str) -> set[str]:
    """Identifiers a declaration reads: not the name it declares, not a called function's name."""
    out = set()
    for n in walk(node):
        if n.type != "identifier":
            continue
        parent = n.parent
        if parent is not None and parent.type == "call_expression" and parent.child_by_field_name("function") == n:
            continue
        name = text(n, data)
        if name != declared:
            out.add(name)
    return out


def _declared_name(decl: Node, data: bytes) -> str:
    found = decl.child_by_field_name("declarator")
    if found is None or found.type != "init_declarator":
        return ""
    inner = found.child_by_field_name("declarator")
    while inner is not None and inner.type in ("pointer_declarator", "reference_declarator"):
        inner = inner.child_by_field_name("declarator") or (inner.named_children[-1] if inner.named_children else None)
    return text(inner, data) if inner is not None and inner.type == "identifier" else ""


def _analyse(kernel: KernelDef, data: bytes, formals: dict[str, str]) -> _Gemm | None:
    body = kernel.body
    if MARK in text(body, data):
        return None                                  # already tiled
    roles = {formals[r]: r for r in ("alpha", "beta", "A", "B", "C")}
    names = {r: formals[r] for r in ("alpha", "beta", "A", "B", "C")}
    known = set(formals.values()) | BUILTINS
    prologue: list[str] = []
    flag, flag_decl = "", ""
    for stmt in body.named_children:
        if stmt.type != "declaration" or "__shared__" in text(stmt, data):
            continue
        name = _declared_name(stmt, data)
        if not name:
            continue
        free = _free_names(stmt, data, name)
        if free & set(roles) and free <= known:
            source_roles = {roles[f] for f in free if f in roles}
            if len(source_roles) != 1:
                return None
            role = source_roles.pop()
            prologue.append(text(stmt, data))
            names[role] = name
            known.add(name)
    beta = names["beta"]
    # The beta == 0 flag: a bool declaration that reads beta only (the original's own test, kept as it is).
    for stmt in body.named_children:
        if stmt.type == "declaration" and re.match(r"(const\s+)?bool\b", text(stmt, data)):
            name = _declared_name(stmt, data)
            free = _free_names(stmt, data, name)
            if name and free == {beta}:
                flag, flag_decl = name, text(stmt, data)
    # Every test of beta must go through that flag, and the flag must pick alpha * acc alone (C unread).
    for node in walk(body):
        cond = None
        if node.type in ("conditional_expression", "if_statement"):
            cond = node.child_by_field_name("condition")
        elif node.type == "binary_expression" and text(node.child_by_field_name("operator"), data) in ("==", "!="):
            cond = node
        if cond is None:
            continue
        idents = {text(n, data) for n in walk(cond) if n.type == "identifier"}
        if beta in idents and not _inside(node, flag_decl, data):
            return None
        if flag and flag in idents:
            if node.type != "conditional_expression" or _flat(text(cond, data)) != flag:
                return None
            chosen = node.child_by_field_name("consequence")
            if chosen is None or beta in {text(n, data) for n in walk(chosen) if n.type == "identifier"}:
                return None
    # The body must index each matrix with its leading dimension (column-major storage).
    body_text = text(body, data)
    for ld in ("lda", "ldb", "ldc"):
        if not re.search(rf"\*\s*{re.escape(formals[ld])}\b", body_text):
            return None
    return _Gemm(formals=formals, prologue=prologue, names=names, beta_flag=flag, flag_decl=flag_decl)


def _inside(node: Node, decl_text: str, data: bytes) -> bool:
    """Whether the node is part of the flag's own declaration."""
    p = node
    while p is not None:
        if p.type == "declaration":
            return bool(decl_text) and text(p, data) == decl_text
        p = p.parent
    return False


class TileGemm(Operator):
    name = "tile-gemm"
    description = ("a column-major gemm kernel rewritten as a register- and shared-memory-tiled outer product "
                   "with vector loads, padded k-major slabs, double buffering and a register budget (argument bits)")
    by_construction = False
    order = 1

    def arguments(self, target: Target) -> list[int]:
        # bit 1: double buffering; bit 2: padded B slab rows; bit 4 (NVIDIA): a register budget for several
        # resident blocks. Double buffering and padding first: the configuration that pays on both vendors.
        out = [DOUBLE_BUFFER | PAD, PAD, DOUBLE_BUFFER, 0]
        return ([DOUBLE_BUFFER | PAD | BLOCKS] if target.vendor == "nvidia" else []) + out

    def suggestions(self, tunables: dict[str, list[int]], target: Target) -> list[Suggestion]:
        """What fast SGEMM kernels without matrix units use, among the values the kernel declares: 128 x 128
        blocks of 8 x 8 results per thread (256 threads) and slabs of 8 k, with the register budget (NVIDIA: 128
        registers, two resident blocks, no spills on sm_90) and without; 128 x 64 blocks of 8 x 8; 64 x 64 blocks
        of 4 x 4 (256 threads: more blocks for small or batched matrices); 128 x 128 with slabs of 16 k. The
        budget only where it costs no spills: for the others it caps registers below what they use."""
        full = DOUBLE_BUFFER | PAD
        budget = full | BLOCKS if full | BLOCKS in self.arguments(target) else full
        points = [((128, 128, 8, 8, 8), budget, "128 x 128 blocks, 8 x 8 per thread, k-slabs of 8"),
                  ((128, 128, 8, 8, 8), full, "128 x 128 blocks, 8 x 8 per thread, k-slabs of 8, no register budget"),
                  ((128, 64, 8, 8, 8), full, "128 x 64 blocks, 8 x 8 per thread, k-slabs of 8"),
                  ((64, 64, 8, 4, 4), full, "64 x 64 blocks, 4 x 4 per thread, k-slabs of 8"),
                  ((128, 128, 16, 8, 8), full, "128 x 128 blocks, 8 x 8 per thread, k-slabs of 16")]
        out = []
        for values, arg, why in points:
            point = dict(zip(TILES, values))
            threads = (point["BM"] // point["TM"]) * (point["BN"] // point["TN"])
            if all(v in tunables.get(k, []) for k, v in point.items()) and threads <= target.max_threads_per_block:
                params = tuple(sorted(point.items()))
                if not any(s.params == params and s.arg == arg for s in out):
                    out.append(Suggestion(params=params, arg=arg, why=why))
        return out

    def apply(self, unit: KernelUnit, arg: int, target: Target) -> Rewrite | None:
        if arg not in self.arguments(target):
            return None
        cap = min(int(target.shared_bytes_per_block or STATIC_SHARED_BYTES), STATIC_SHARED_BYTES)
        prelude = "".join(p + "\n" for p in (VECTOR_PRELUDE, TILE_PRELUDE) if p.splitlines()[0] not in unit.source)
        pending = [prelude] if prelude else []
        data, root = parse(unit.source)
        macros = _function_macros(root, data)

        def edit(kernel: KernelDef, data: bytes) -> list[Edit] | None:
            edits = self._rewrite(kernel, data, unit, arg, cap)
            if edits and arg & BLOCKS:
                # Blocks per SM whose share of the register file holds a thread's accumulators, fragments
                # and prefetched slab elements (each in 32-bit registers) and 32 more; at least 1.
                blocks = (f"portkern_tile_blocks<(BM / TM) * (BN / TN), {int(target.registers_per_cu)}, "
                          f"{int(target.max_blocks_per_cu)}, (TM * TN + TM + TN + (BM + BN) * BK / ((BM / TM) * (BN / TN))) "
                          f"* ((int(sizeof(T)) + 3) / 4) + 32>::value")
                head = bounded_head(kernel.head, kernel.template_head, macros, unit, kernel.name, blocks)
                if head is None:
                    return None
                edits.append(Edit(kernel.body.start_byte - len(kernel.head.encode()), kernel.body.start_byte, head))
            if edits and pending:
                edits.append(Edit(kernel.start, kernel.start, pending.pop()))   # before the template head
            return edits

        return self.rewrite_kernels(
            unit, arg, edit,
            lambda names: f"{', '.join(names)} tiled: TM x TN register outer products from k-major shared slabs, "
                          f"16-byte vector loads where aligned and inside, scalar at the edges, "
                          f"{'double-buffered' if arg & DOUBLE_BUFFER else 'single-buffered'}, "
                          f"{'padded' if arg & PAD else 'unpadded'} B slab"
                          + (", registers budgeted for the resident blocks they allow" if arg & BLOCKS else ""))

    def _rewrite(self, kernel: KernelDef, data: bytes, unit: KernelUnit, arg: int, cap: int) -> list[Edit] | None:
        tparams = _template_params(kernel.template_head)
        if not all(t in tparams for t in TILES + ("T",)):
            return None
        launches = _launch_matches(unit, kernel, tparams)
        if launches is None:
            return None
        formal_list = _formal_names(kernel.node, data)
        args = [str(a).strip() for a in launches[0].args]
        if len(args) != len(formal_list) or any(list(map(str, launch.args)) != list(map(str, launches[0].args))
                                                 for launch in launches):
            return None
        formals = dict(zip(args, formal_list))
        if not all(r in formals for r in REQUIRED):
            return None
        gemm = _analyse(kernel, data, formals)
        if gemm is None:
            return None
        return [Edit(kernel.body.start_byte, kernel.body.end_byte, _body(gemm, arg, cap))]


def _load(kleft: str) -> list[str]:
    """Statements loading the slab at the threads' A and B pointers into their registers and moving the
    pointers on by one slab; ``kleft`` is how much of k is left from the slab's start."""
    return [
        "#pragma unroll",
        "for(int pk_l = 0; pk_l < pk_la; ++pk_l)",
        "{",
        "    const int pk_v = pk_tid + pk_l * pk_nt;",
        "    if(pk_na % pk_nt != 0 && pk_v >= pk_na)",
        "        break;",
        f"    const bool pk_kin = pk_v / (BM / pk_va) < {kleft};",
        "    if(pk_vec_a && pk_kin && pk_ma[pk_l] >= pk_va)",
        "        portkern_vload<pk_va>(pk_pa[pk_l], pk_ra[pk_l]);",
        "    else",
        "    {",
        "#pragma unroll",
        "        for(int pk_q = 0; pk_q < pk_va; ++pk_q)",
        "            pk_ra[pk_l][pk_q] = (pk_kin && pk_q < pk_ma[pk_l]) ? pk_pa[pk_l][pk_q] : T(0);",
        "    }",
        "    pk_pa[pk_l] += pk_step_a;",
        "}",
        "#pragma unroll",
        "for(int pk_l = 0; pk_l < pk_lb; ++pk_l)",
        "{",
        "    const int pk_v = pk_tid + pk_l * pk_nt;",
        "    if(pk_nb % pk_nt != 0 && pk_v >= pk_nb)",
        "        break;",
        "    const int pk_r = (pk_v % (BK / pk_vb)) * pk_vb;",
        f"    if(pk_vec_b && pk_nin[pk_l] && pk_r + pk_vb <= {kleft})",
        "        portkern_vload<pk_vb>(pk_pb[pk_l], pk_rb[pk_l]);",
        "    else",
        "    {",
        "#pragma unroll",
        "        for(int pk_q = 0; pk_q < pk_vb; ++pk_q)",
        f"            pk_rb[pk_l][pk_q] = (pk_nin[pk_l] && pk_r + pk_q < {kleft}) ? pk_pb[pk_l][pk_q] : T(0);",
        "    }",
        "    pk_pb[pk_l] += BK;",
        "}",
    ]


def _store(stage: str) -> list[str]:
    """Statements storing the registers to shared stage ``stage``: A as read, B transposed (k-major)."""
    return [
        "#pragma unroll",
        "for(int pk_l = 0; pk_l < pk_la; ++pk_l)",
        "{",
        "    const int pk_v = pk_tid + pk_l * pk_nt;",
        "    if(pk_na % pk_nt != 0 && pk_v >= pk_na)",
        "        break;",
        f"    portkern_vstore<pk_va>(&pk_smem.a[{stage}][pk_v / (BM / pk_va)][(pk_v % (BM / pk_va)) * pk_va], pk_ra[pk_l]);",
        "}",
        "#pragma unroll",
        "for(int pk_l = 0; pk_l < pk_lb; ++pk_l)",
        "{",
        "    const int pk_v = pk_tid + pk_l * pk_nt;",
        "    if(pk_nb % pk_nt != 0 && pk_v >= pk_nb)",
        "        break;",
        "    const int pk_r = (pk_v % (BK / pk_vb)) * pk_vb, pk_c = pk_v / (BK / pk_vb);",
        "#pragma unroll",
        "    for(int pk_q = 0; pk_q < pk_vb; ++pk_q)",
        f"        pk_smem.b[{stage}][pk_r + pk_q][pk_c] = pk_rb[pk_l][pk_q];",
        "}",
    ]


def _compute(stage: str) -> list[str]:
    return [
        "#pragma unroll",
        "for(int pk_kk = 0; pk_kk < BK; ++pk_kk)",
        "{",
        "    T pk_a[TM], pk_b[TN];",
        "#pragma unroll",
        "    for(int pk_g = 0; pk_g < TM / pk_vm; ++pk_g)",
        f"        portkern_vload<pk_vm>(&pk_smem.a[{stage}][pk_kk][pk_g * pk_dx * pk_vm + pk_tx * pk_vm], pk_a + pk_g * pk_vm);",
        "#pragma unroll",
        "    for(int pk_g = 0; pk_g < TN / pk_vn; ++pk_g)",
        f"        portkern_vload<pk_vn>(&pk_smem.b[{stage}][pk_kk][pk_g * pk_dy * pk_vn + pk_ty * pk_vn], pk_b + pk_g * pk_vn);",
        "#pragma unroll",
        "    for(int pk_i = 0; pk_i < TM; ++pk_i)",
        "#pragma unroll",
        "        for(int pk_j = 0; pk_j < TN; ++pk_j)",
        "            pk_acc[pk_i][pk_j] += pk_a[pk_i] * pk_b[pk_j];",
        "}",
    ]


def _indent(lines: list[str], depth: int) -> list[str]:
    pad = "    " * depth
    return [ln if ln.startswith("#") or not ln else pad + ln for ln in lines]


def _epilogue(g: _Gemm) -> list[str]:
    alpha, beta, C = g.names["alpha"], g.names["beta"], g.names["C"]
    acc = "pk_acc[pk_g * pk_vm + pk_q][pk_j]"
    if g.beta_flag:
        vec = [f"if({g.beta_flag})",
               "{",
               "#pragma unroll",
               "    for(int pk_q = 0; pk_q < pk_vm; ++pk_q)",
               f"        pk_c[pk_q] = {alpha} * {acc};",
               "}",
               "else",
               "{",
               "    portkern_vload<pk_vm>(pk_cp, pk_c);",
               "#pragma unroll",
               "    for(int pk_q = 0; pk_q < pk_vm; ++pk_q)",
               f"        pk_c[pk_q] = {alpha} * {acc} + {beta} * pk_c[pk_q];",
               "}"]
        scalar = f"pk_e = {g.beta_flag} ? {alpha} * {acc} : {alpha} * {acc} + {beta} * pk_e;"
    else:
        vec = ["portkern_vload<pk_vm>(pk_cp, pk_c);",
               "#pragma unroll",
               "for(int pk_q = 0; pk_q < pk_vm; ++pk_q)",
               f"    pk_c[pk_q] = {alpha} * {acc} + {beta} * pk_c[pk_q];"]
        scalar = f"pk_e = {alpha} * {acc} + {beta} * pk_e;"
    return [
        f"const bool pk_vec_c = pk_vm > 1 && portkern_vec_aligned<pk_vm>({C}) && pk_ldc % pk_vm == 0;",
        "#pragma unroll",
        "for(int pk_j = 0; pk_j < TN; ++pk_j)",
        "{",
        "    const int64_t pk_col = pk_col0 + (pk_j / pk_vn) * pk_dy * pk_vn + pk_ty * pk_vn + pk_j % pk_vn;",
        "    if(pk_col >= pk_n)",
        "        continue;",
        "#pragma unroll",
        "    for(int pk_g = 0; pk_g < TM / pk_vm; ++pk_g)",
        "    {",
        "        const int64_t pk_row = pk_row0 + pk_g * pk_dx * pk_vm + pk_tx * pk_vm;",
        f"        auto* pk_cp = {C} + (pk_row + pk_col * pk_ldc);",
        "        if(pk_vec_c && pk_row + pk_vm <= pk_m)",
        "        {",
        "            T pk_c[pk_vm];",
        *_indent(vec, 3),
        "            portkern_vstore<pk_vm>(pk_cp, pk_c);",
        "        }",
        "        else",
        "        {",
        "#pragma unroll",
        "            for(int pk_q = 0; pk_q < pk_vm; ++pk_q)",
        "            {",
        "                if(pk_row + pk_q < pk_m)",
        "                {",
        "                    auto& pk_e = pk_cp[pk_q];",
        f"                    {scalar}",
        "                }",
        "            }",
        "        }",
        "    }",
        "}",
    ]


def _body(g: _Gemm, arg: int, cap: int) -> str:
    f = g.formals
    A, B = g.names["A"], g.names["B"]
    double = bool(arg & DOUBLE_BUFFER)
    lines = [
        f"{MARK}{arg}): {'double-buffered' if double else 'single-buffered'} shared slabs, "
        f"{'padded' if arg & PAD else 'unpadded'} B rows, TM x TN register outer products",
        *g.prologue,
        *([g.flag_decl] if g.flag_decl else []),
        "constexpr int pk_dx = BM / TM;   // threads along m",
        "constexpr int pk_dy = BN / TN;   // threads along n",
        "constexpr int pk_nt = pk_dx * pk_dy;",
        "constexpr int pk_vw = portkern_tile_width<T>::value;   // elements of a 16-byte vector (1: no vector type)",
        "constexpr int pk_va = portkern_tile_fit<BM, pk_vw>::value;   // A slab: vectors along m",
        "constexpr int pk_vb = portkern_tile_fit<BK, pk_vw>::value;   // B slab: vectors along k",
        "constexpr int pk_vm = portkern_tile_fit<TM, pk_vw>::value;   // a thread's rows, in groups of pk_vm",
        "constexpr int pk_vn = portkern_tile_fit<TN, pk_vw>::value;   // a thread's columns, in groups of pk_vn",
        "constexpr int pk_na = BM * BK / pk_va, pk_la = (pk_na + pk_nt - 1) / pk_nt;   // A vectors: per block, per thread",
        "constexpr int pk_nb = BN * BK / pk_vb, pk_lb = (pk_nb + pk_nt - 1) / pk_nt;   // B vectors",
        f"constexpr int pk_cap = {cap};   // static shared memory a block may declare",
        f"constexpr int pk_pad = ({int(bool(arg & PAD))} && (BK * BM + BK * (BN + pk_vw)) * int(sizeof(T)) <= pk_cap) ? pk_vw : 0;",
        "constexpr int pk_stage_bytes = (BK * BM + BK * (BN + pk_pad)) * int(sizeof(T));",
        f"constexpr int pk_stages = ({int(double)} && 2 * pk_stage_bytes <= pk_cap) ? 2 : 1;",
        "struct alignas(16) pk_slabs",
        "{",
        "    T a[pk_stages][BK][BM];            // A slab, k-major as it is stored in memory",
        "    T b[pk_stages][BK][BN + pk_pad];   // B slab transposed to k-major",
        "};",
        "__shared__ pk_slabs pk_smem;",
        "",
        "const int     pk_tid  = threadIdx.x;",
        "const int     pk_tx   = pk_tid % pk_dx;",
        "const int     pk_ty   = pk_tid / pk_dx;",
        "const int64_t pk_row0 = int64_t(blockIdx.x) * BM;",
        "const int64_t pk_col0 = int64_t(blockIdx.y) * BN;",
        f"const int64_t pk_m = {f['m']}, pk_n = {f['n']}, pk_k = {f['k']};",
        f"const int64_t pk_lda = {f['lda']}, pk_ldb = {f['ldb']}, pk_ldc = {f['ldc']};",
        "// Vector loads where the pointer and the leading dimension keep every column's vectors aligned.",
        f"const bool pk_vec_a = pk_va > 1 && portkern_vec_aligned<pk_va>({A}) && pk_lda % pk_va == 0;",
        f"const bool pk_vec_b = pk_vb > 1 && portkern_vec_aligned<pk_vb>({B}) && pk_ldb % pk_vb == 0;",
        "",
        "// Each thread's slab vectors: where they start in A and B, and whether they lie inside along m and n.",
        f"using pk_int = decltype(+{f['k']});   // the kernel's own size type",
        "const T* pk_pa[pk_la];",
        "pk_int   pk_ma[pk_la];   // rows of A left from the vector's first (0: none)",
        "#pragma unroll",
        "for(int pk_l = 0; pk_l < pk_la; ++pk_l)",
        "{",
        "    const int     pk_v  = pk_tid + pk_l * pk_nt;",
        "    const int64_t pk_gr = pk_row0 + (pk_v % (BM / pk_va)) * pk_va;",
        f"    pk_pa[pk_l] = {A} + (pk_gr + int64_t(pk_v / (BM / pk_va)) * pk_lda);",
        "    pk_ma[pk_l] = pk_gr < pk_m ? pk_int(pk_m - pk_gr) : pk_int(0);",
        "}",
        "const T* pk_pb[pk_lb];",
        "bool     pk_nin[pk_lb];   // the vector's column of B is inside",
        "#pragma unroll",
        "for(int pk_l = 0; pk_l < pk_lb; ++pk_l)",
        "{",
        "    const int     pk_v  = pk_tid + pk_l * pk_nt;",
        "    const int64_t pk_gc = pk_col0 + pk_v / (BK / pk_vb);",
        f"    pk_pb[pk_l]  = {B} + ((pk_v % (BK / pk_vb)) * pk_vb + pk_gc * pk_ldb);",
        "    pk_nin[pk_l] = pk_gc < pk_n;",
        "}",
        "const int64_t pk_step_a = BK * pk_lda;",
        "",
        "T pk_acc[TM][TN];",
        "#pragma unroll",
        "for(int pk_i = 0; pk_i < TM; ++pk_i)",
        "#pragma unroll",
        "    for(int pk_j = 0; pk_j < TN; ++pk_j)",
        "        pk_acc[pk_i][pk_j] = T(0);",
        "T pk_ra[pk_la][pk_va];   // the slabs on their way from global to shared memory",
        "T pk_rb[pk_lb][pk_vb];",
        "",
        f"if({f['k']} > 0)",
        "{",
        *_indent(_load(f["k"]), 1),
        *_indent(_store("0"), 1),
        "}",
        "__syncthreads();",
        "int pk_s = 0;   // the stage computed from",
        f"for(pk_int pk_k0 = 0; pk_k0 < {f['k']}; pk_k0 += BK)",
        "{",
        f"    const pk_int pk_kleft = {f['k']} - pk_k0 - BK;   // k left after this slab",
        "    const bool   pk_more  = pk_kleft > 0;",
    ]
    if double:
        lines += [
            "    if(pk_more)   // the next slab's global loads are in flight while this one is computed",
            "    {",
            *_indent(_load("pk_kleft"), 2),
            "    }",
            *_indent(_compute("pk_s"), 1),
            "    if(pk_stages == 1)",
            "        __syncthreads();   // one stage: every thread is done reading it",
            "    if(pk_more)",
            "    {",
            *_indent(_store("pk_s ^ (pk_stages - 1)"), 2),
            "    }",
            "    pk_s ^= pk_stages - 1;",
            "    __syncthreads();",
            "}",
        ]
    else:
        lines += [
            *_indent(_compute("pk_s"), 1),
            "    __syncthreads();",
            "    if(pk_more)",
            "    {",
            *_indent(_load("pk_kleft"), 2),
            *_indent(_store("0"), 2),
            "    }",
            "    __syncthreads();",
            "}",
        ]
    lines += ["", *_epilogue(g)]
    return "{\n" + "\n".join(_indent(lines, 1)) + "\n}"
