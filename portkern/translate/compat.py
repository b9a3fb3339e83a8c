"""Rewrites that need a small stand-in because the target lacks a CUDA facility with the same meaning.

* cache-hinted loads/stores (``__ldcs``, ``__stcg``...) -> nontemporal builtins or plain accesses
  (the hint changes caching, never values);
* ``cooperative_groups::reduce`` and the ``meta_group_*`` tile queries, which HIP's cooperative
  groups do not provide -> helpers appended after the includes, built on ``thread_block_tile::shfl_xor``.
* CUDA's SIMD-in-word intrinsics (``__vmaxs4``, ``__vadd2``, ``__vcmpgtu4``, ``__vsadu4``, ``__dp4a``...),
  which HIP lacks -> ``portkern_*`` functions computing lane by lane (only those the file calls);
* HIP -> CUDA: CCCL 3 dropped ``cub::Max``/``cub::Min``/``cub::Sum`` -> ``cuda::maximum<>`` ...;
  rocWMMA fragments -> ``nvcuda::wmma`` where CUDA has the shape (reported otherwise).
The helpers are plain CUDA/HIP, so a file translated back to CUDA still compiles.
"""

from __future__ import annotations

from portkern.translate.maps import SIMD_INTRINSICS, MapTables, load_maps, parse_version
from portkern.translate.source import SourceEdit

NONTEMPORAL_PREAMBLE = """
#ifndef PORTKERN_NONTEMPORAL_COMPAT
#define PORTKERN_NONTEMPORAL_COMPAT
// Streaming (evict-first) loads/stores: the nontemporal builtins take scalars only, so vector types
// (int4, float2...) are accessed plainly (same values; only the caching hint is lost).
template <typename T>
__device__ inline T portkern_nontemporal_load(const T* p)
{
#if defined(__HIP__)
    if constexpr(__is_arithmetic(T) || __is_pointer(T))
        return __builtin_nontemporal_load(p);
    else
        return *p;
#else
    return __ldcs(p);
#endif
}
template <typename T>
__device__ inline void portkern_nontemporal_store(T v, T* p)
{
#if defined(__HIP__)
    if constexpr(__is_arithmetic(T) || __is_pointer(T))
        __builtin_nontemporal_store(v, p);
    else
        *p = v;
#else
    __stcs(p, v);
#endif
}
#endif
"""

CG_PREAMBLE = """
#ifndef PORTKERN_CG_COMPAT
#define PORTKERN_CG_COMPAT
// cooperative_groups::reduce / meta_group_* stand-ins (not provided by HIP's cooperative groups).
// meta_group_* assume the tile was partitioned from the whole thread block.
template <typename T> struct portkern_cg_plus { __device__ T operator()(T a, T b) const { return a + b; } };
template <typename T> struct portkern_cg_less { __device__ T operator()(T a, T b) const { return b < a ? b : a; } };
template <typename T> struct portkern_cg_greater { __device__ T operator()(T a, T b) const { return a < b ? b : a; } };
template <typename T> struct portkern_cg_bit_and { __device__ T operator()(T a, T b) const { return a & b; } };
template <typename T> struct portkern_cg_bit_or { __device__ T operator()(T a, T b) const { return a | b; } };
template <typename T> struct portkern_cg_bit_xor { __device__ T operator()(T a, T b) const { return a ^ b; } };
template <typename Tile, typename T, typename Op>
__device__ inline T portkern_cg_reduce(const Tile& tile, T value, Op op)
{
    for(unsigned int offset = tile.size() / 2; offset > 0; offset /= 2)
        value = op(value, tile.shfl_xor(value, offset));
    return value;
}
template <typename Tile>
__device__ inline unsigned int portkern_cg_meta_group_size(const Tile& tile)
{
    return (cooperative_groups::this_thread_block().size() + tile.size() - 1) / tile.size();
}
template <typename Tile>
__device__ inline unsigned int portkern_cg_meta_group_rank(const Tile& tile)
{
    return cooperative_groups::this_thread_block().thread_rank() / tile.size();
}
#endif
"""

_CG_OPS = {"plus", "less", "greater", "bit_and", "bit_or", "bit_xor"}
_CG_NAMESPACES = {"cg", "cooperative_groups"}


def cache_hints_to_hip(src: SourceEdit, tables: MapTables, local_names: set[str] | frozenset[str] = frozenset()
                       ) -> bool:
    """Rewrite cache-hinted loads/stores; True when the nontemporal helpers are needed. A hint the file
    overloads itself (``__ldcs`` for its own types) keeps its calls: ``own_hint_overloads`` adds template
    fallbacks for the other types, which overload resolution ranks below the file's own functions."""
    needed = False
    hints = set(tables.cache_hint_loads) | set(tables.cache_hint_stores)
    for si in src.where_any({n for n in hints if n not in local_names}):
        t = src.stok(si)
        if t.kind != "ident" or src.stext(si + 1) != "(":
            continue
        load = tables.cache_hint_loads.get(t.text)
        store = tables.cache_hint_stores.get(t.text)
        if load is None and store is None:
            continue
        close = src.match_close(si + 1)
        args = src.split_args(si + 1, close) if close > 0 else []
        if (load is not None and len(args) != 1) or (store is not None and len(args) != 2):
            continue
        how = load if load is not None else store
        if how != "plain":  # the builtins take scalars only: a helper that also takes int4, float2...
            how = "portkern_nontemporal_load" if load is not None else "portkern_nontemporal_store"
            needed = True
        if load is not None:
            src.queue_span(si, close + 1, _load_builder(src, how, args))
        else:
            src.queue_span(si, close + 1, _store_builder(src, how, args))
        src.count("device")
        src.hazard(si, "cache-hint", "info",
                   f"{t.text} is a cache hint; rewritten as a {'plain' if (load or store) == 'plain' else 'nontemporal'} "
                   "access (same values, caching may differ)", fixed=True)
    return needed


def own_hint_overloads(src: SourceEdit, tables: MapTables, local_names: set[str] | frozenset[str]) -> str:
    """Template fallbacks (HIP only) for cache-hint names the file overloads itself ("" when none)."""
    hints = set(tables.cache_hint_loads) | set(tables.cache_hint_stores)
    own = sorted(n for n in hints if n in local_names and src.where(n))
    if not own:
        return ""
    lines = ["#if defined(__HIP__) && !defined(PORTKERN_OWN_HINT_FALLBACKS)", "#define PORTKERN_OWN_HINT_FALLBACKS",
             "// the file overloads these CUDA cache hints for its own types; HIP has none for the others"]
    for n in own:
        if n in tables.cache_hint_loads:
            body = "return *p;" if tables.cache_hint_loads[n] == "plain" else "return portkern_nontemporal_load(p);"
            lines.append(f"template <typename T> __device__ inline T {n}(const T* p) {{ {body} }}")
        else:
            body = "*p = v;" if tables.cache_hint_stores[n] == "plain" else "portkern_nontemporal_store(v, p);"
            lines.append(f"template <typename T> __device__ inline void {n}(T* p, T v) {{ {body} }}")
    lines.append("#endif")
    return "\n".join(lines)


def _load_builder(src, how, args):
    def build() -> str:
        ptr = src.out_text(*args[0]).strip()
        return f"(*({ptr}))" if how == "plain" else f"{how}({ptr})"
    return build


def _store_builder(src, how, args):
    def build() -> str:
        ptr = src.out_text(*args[0]).strip()
        value = src.out_text(*args[1]).strip()
        return f"(*({ptr}) = ({value}))" if how == "plain" else f"{how}({value}, {ptr})"
    return build


def cache_hints_to_cuda(src: SourceEdit, tables: MapTables) -> None:
    streaming_load = next((k for k, v in tables.cache_hint_loads.items() if v == "__builtin_nontemporal_load"), None)
    streaming_store = next((k for k, v in tables.cache_hint_stores.items() if v == "__builtin_nontemporal_store"), None)
    for si in src.where("__builtin_nontemporal_load", "__builtin_nontemporal_store"):
        t = src.stok(si)
        if src.stext(si + 1) != "(" or src.sdirective[si]:
            continue
        if src.stext(si - 1) == "return" and src.stext(si - 2) == ")" and src.stext(si - 3) == ")":
            continue  # inside portkern_nontemporal_* (guarded for CUDA already)
        if t.text == "__builtin_nontemporal_load" and streaming_load:
            src.set_token(si, streaming_load)
            src.count("device")
        elif t.text == "__builtin_nontemporal_store" and streaming_store:
            close = src.match_close(si + 1)
            args = src.split_args(si + 1, close) if close > 0 else []
            if len(args) == 2:
                src.queue_span(si, close + 1, lambda a=args: f"{streaming_store}({src.out_text(*a[1]).strip()}, "
                                                             f"{src.out_text(*a[0]).strip()})")
                src.count("device")


def cooperative_groups_to_hip(src: SourceEdit) -> bool:
    """Rewrite cg::reduce, cg::plus<T>... and tile.meta_group_*(); True when the helpers are needed."""
    needed = False
    for si in src.where("reduce", "meta_group_size", "meta_group_rank", *_CG_OPS):
        if si < 2:
            continue
        t = src.stok(si)
        if t.kind != "ident":
            continue
        scoped = src.stext(si - 1) == "::" and src.stext(si - 2) in _CG_NAMESPACES
        if scoped and t.text == "reduce" and src.stext(si + 1) == "(":
            src.queue_span(si - 2, si + 1, lambda: "portkern_cg_reduce")
            needed = True
            src.count("device")
            src.hazard(si, "cooperative-groups", "warning",
                       "cooperative_groups::reduce is not in HIP; replaced by a shfl_xor tile reduction "
                       "(portkern_cg_reduce)", fixed=True,
                       span=(src.statement_start(si), src.statement_end(si)))
        elif scoped and t.text in _CG_OPS and src.stext(si + 1) == "<":
            src.queue_span(si - 2, si + 1, lambda name=t.text: f"portkern_cg_{name}")
            needed = True
        elif t.text in ("meta_group_size", "meta_group_rank") and src.stext(si - 1) in (".", "->") and \
                src.stext(si + 1) == "(" and src.stext(si + 2) == ")":
            obj = si - 2
            if src.stok(obj).kind != "ident":
                continue
            arrow = src.stext(si - 1) == "->"
            src.queue_span(obj, si + 3, lambda o=obj, name=t.text, a=arrow:
                           f"portkern_cg_{name}({'*' if a else ''}{src.out_text(o, o + 1)})")
            needed = True
            src.count("device")
            src.hazard(si, "cooperative-groups", "warning",
                       f"thread_block_tile::{t.text} is missing from older HIP; replaced by a helper that assumes "
                       "the tile was partitioned from the whole block", fixed=True)
    return needed


def insert_after_includes(src: SourceEdit, text: str) -> None:
    """Append ``text`` after the last top-level #include (or at the top of the file)."""
    last = src.include_tis[-1] if src.include_tis else -1
    if last < 0:
        src.out[0] = text.lstrip("\n") + "\n" + src.out[0] if src.out else text
        return
    src.out[last] = src.out[last] + "\n" + text.strip("\n")


# ---------------------------------------------------------------- SIMD-in-word intrinsics (CUDA -> HIP)

_SIMD_EXPR = {
    "add": "(int)(ua + ub)", "sub": "(int)(ua - ub)",
    "addss": "portkern_simd_clamp(sa + sb, SMIN, SMAX)", "subss": "portkern_simd_clamp(sa - sb, SMIN, SMAX)",
    "addus": "portkern_simd_clamp((int)(ua + ub), 0, UMAX)", "subus": "portkern_simd_clamp((int)ua - (int)ub, 0, UMAX)",
    "avgu": "(int)((ua + ub + 1) >> 1)", "haddu": "(int)((ua + ub) >> 1)",
    "absdiffs": "portkern_simd_abs(sa - sb)", "absdiffu": "portkern_simd_abs((int)ua - (int)ub)",
    "maxs": "(sa > sb ? sa : sb)", "maxu": "(int)(ua > ub ? ua : ub)",
    "mins": "(sa < sb ? sa : sb)", "minu": "(int)(ua < ub ? ua : ub)",
    "abs": "portkern_simd_abs(sa)", "absss": "portkern_simd_clamp(portkern_simd_abs(sa), SMIN, SMAX)",
    "neg": "-sa", "negss": "portkern_simd_clamp(-sa, SMIN, SMAX)",
    "sads": "portkern_simd_abs(sa - sb)", "sadu": "portkern_simd_abs((int)ua - (int)ub)",
}
_SIMD_CMP = {"eq": "ua == ub", "ne": "ua != ub", "ges": "sa >= sb", "geu": "ua >= ub", "gts": "sa > sb",
             "gtu": "ua > ub", "les": "sa <= sb", "leu": "ua <= ub", "lts": "sa < sb", "ltu": "ua < ub"}
_UNARY = {"abs", "absss", "neg", "negss"}

SIMD_BASE = """
#ifndef PORTKERN_SIMD_BASE
#define PORTKERN_SIMD_BASE
// Stand-ins for CUDA's SIMD-in-word intrinsics (lanes of 8 or 16 bits in a 32-bit word), lane by lane.
__host__ __device__ inline int portkern_simd_clamp(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
__host__ __device__ inline int portkern_simd_abs(int v) { return v < 0 ? -v : v; }
#endif
"""


def simd_function(name: str) -> str:
    """C++ source of the stand-in for one CUDA SIMD intrinsic (``__vmaxs4`` -> ``portkern_vmaxs4``)."""
    lanes, op = SIMD_INTRINSICS[name]
    fn = "portkern_" + name[2:]
    if op == "dp4a":
        body = []
        for sign, t in (("s", "int"), ("u", "unsigned int")):
            ext = ("(int)(signed char)((a >> (8 * i)) & 0xffu) * (int)(signed char)((b >> (8 * i)) & 0xffu)"
                   if sign == "s" else "((a >> (8 * i)) & 0xffu) * ((b >> (8 * i)) & 0xffu)")
            body.append(f"__host__ __device__ inline {t} {fn}({t} a, {t} b, {t} c)\n{{\n"
                        f"    for(int i = 0; i < 4; ++i)\n        c += {ext};\n    return c;\n}}\n")
        return f"#ifndef PORTKERN_{name.upper()}\n#define PORTKERN_{name.upper()}\n" + "".join(body) + "#endif\n"
    bits = 32 // lanes
    mask = (1 << bits) - 1
    if op.startswith("cmp"):
        expr = f"({_SIMD_CMP[op[3:]]}) ? {mask} : 0"
    elif op.startswith("set"):
        expr = f"({_SIMD_CMP[op[3:]]}) ? 1 : 0"
    else:
        expr = _SIMD_EXPR[op]
    expr = expr.replace("SMIN", str(-(1 << (bits - 1)))).replace("SMAX", str((1 << (bits - 1)) - 1)) \
        .replace("UMAX", str(mask))
    params = "unsigned int a" if op in _UNARY else "unsigned int a, unsigned int b"
    sad = op in ("sads", "sadu")
    lines = [
        f"#ifndef PORTKERN_{name.upper()}", f"#define PORTKERN_{name.upper()}",
        f"__host__ __device__ inline unsigned int {fn}({params})", "{",
        "    unsigned int r = 0;",
        f"    for(int i = 0; i < {lanes}; ++i)", "    {",
        f"        const unsigned int ua = (a >> ({bits} * i)) & {mask}u;",
        f"        const unsigned int ub = {'0u' if op in _UNARY else f'(b >> ({bits} * i)) & {mask}u'};",
        f"        const int sa = (int)ua - (int)((ua & {1 << (bits - 1)}u) << 1);",
        f"        const int sb = (int)ub - (int)((ub & {1 << (bits - 1)}u) << 1);",
        "        (void)sa; (void)sb;",
        f"        const int v = {expr};",
        "        r += (unsigned int)v;" if sad else f"        r |= ((unsigned int)v & {mask}u) << ({bits} * i);",
        "    }", "    return r;", "}", "#endif", ""]
    return "\n".join(lines)


def simd_to_hip(src: SourceEdit, local_names: set[str] | frozenset[str] = frozenset()) -> str:
    """``__vmaxs4(a, b)`` -> ``portkern_vmaxs4(a, b)``; returns the helper source to insert ("" if none)."""
    used: list[str] = []
    for si in src.where_any({n for n in SIMD_INTRINSICS if n in src.by_text and n not in local_names}):
        t = src.stok(si)
        if t.kind != "ident" or src.stext(si + 1) != "(" or src.stext(si - 1) in (".", "->", "::"):
            continue
        src.set_token(si, "portkern_" + t.text[2:])
        src.count("device")
        if t.text not in used:
            used.append(t.text)
    if not used:
        return ""
    return SIMD_BASE + "".join(simd_function(n) for n in sorted(used))


# CUDA's integer min/max device functions by type (CUDA Math API, integer intrinsics); HIP declares none
# of these names, so they become helpers of the same meaning.
INT_MINMAX = {"umin": ("unsigned int", "<"), "umax": ("unsigned int", ">"),
              "llmin": ("long long", "<"), "llmax": ("long long", ">"),
              "ullmin": ("unsigned long long", "<"), "ullmax": ("unsigned long long", ">")}


def int_minmax_to_hip(src: SourceEdit, local_names: set[str] | frozenset[str] = frozenset()) -> str:
    """``umin(a, b)`` -> ``portkern_umin(a, b)`` (and the other typed min/max); the helpers to insert."""
    used: list[str] = []
    for si in src.where_any({n for n in INT_MINMAX if n in src.by_text and n not in local_names}):
        t = src.stok(si)
        if t.kind != "ident" or src.stext(si + 1) != "(" or src.stext(si - 1) in (".", "->", "::"):
            continue
        src.set_token(si, "portkern_" + t.text)
        src.count("device")
        if t.text not in used:
            used.append(t.text)
    out = []
    for name in sorted(used):
        ty, op = INT_MINMAX[name]
        out.append(f"#ifndef PORTKERN_{name.upper()}\n#define PORTKERN_{name.upper()}\n"
                   f"__host__ __device__ inline {ty} portkern_{name}({ty} a, {ty} b) {{ return a {op} b ? a : b; }}\n"
                   "#endif\n")
    return "".join(out)


# ---------------------------------------------------------------- HIP -> CUDA: AMD device functions

# HIP device functions with no CUDA name (hip/amd_detail/amd_device_functions.h), as helpers with HIP's
# meaning on a 32-lane warp. Bit fields: the offset and width are taken modulo the word size, a zero
# width extracts 0, an insert keeps the bits outside the field. Lanes: __lane_id and __smid read the
# PTX special registers; __mbcnt_lo counts the mask's set bits of the lanes below this one (plus base),
# and __mbcnt_hi adds nothing, a warp having no lanes 32-63. Clocks: __clock64 is clock64, and
# wall_clock64 (a constant-rate counter) reads the global timer, which counts nanoseconds.
AMD_DEVICE_FUNCTIONS = {
    "__bitextract_u32": """__device__ static inline unsigned int portkern_bitextract_u32(unsigned int v, unsigned int at, unsigned int bits)
{
    at &= 31u;
    bits &= 31u;
    return bits == 0u ? 0u : (v >> at) & ((1u << bits) - 1u);
}
""",
    "__bitextract_u64": """__device__ static inline unsigned long long portkern_bitextract_u64(unsigned long long v, unsigned int at, unsigned int bits)
{
    at &= 63u;
    bits &= 63u;
    return bits == 0u ? 0ull : (v >> at) & ((1ull << bits) - 1ull);
}
""",
    "__bitinsert_u32": """__device__ static inline unsigned int portkern_bitinsert_u32(unsigned int v, unsigned int field, unsigned int at, unsigned int bits)
{
    at &= 31u;
    unsigned int mask = (1u << (bits & 31u)) - 1u;
    return (v & ~(mask << at)) | ((field & mask) << at);
}
""",
    "__bitinsert_u64": """__device__ static inline unsigned long long portkern_bitinsert_u64(unsigned long long v, unsigned long long field, unsigned int at, unsigned int bits)
{
    at &= 63u;
    unsigned long long mask = (1ull << (bits & 63u)) - 1ull;
    return (v & ~(mask << at)) | ((field & mask) << at);
}
""",
    "__lastbit_u32_u32": """__device__ static inline unsigned int portkern_lastbit_u32_u32(unsigned int v)
{
    return v == 0u ? ~0u : (unsigned int)(__ffs((int)v) - 1);
}
""",
    "__lastbit_u32_u64": """__device__ static inline unsigned int portkern_lastbit_u32_u64(unsigned long long v)
{
    return v == 0ull ? ~0u : (unsigned int)(__ffsll((long long)v) - 1);
}
""",
    "__lane_id": """__device__ static inline unsigned int portkern_lane_id()
{
    unsigned int lane;
    asm volatile("mov.u32 %0, %%laneid;" : "=r"(lane));
    return lane;
}
""",
    "__smid": """__device__ static inline unsigned int portkern_smid()
{
    unsigned int sm;
    asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
    return sm;
}
""",
    "__mbcnt_lo": """__device__ static inline unsigned int portkern_mbcnt_lo(unsigned int mask, unsigned int base)
{
    unsigned int below;
    asm("mov.u32 %0, %%lanemask_lt;" : "=r"(below));
    return __popc(mask & below) + base;
}
""",
    "__mbcnt_hi": """__device__ static inline unsigned int portkern_mbcnt_hi(unsigned int mask, unsigned int base)
{
    (void)mask;
    return base;
}
""",
    "__clock64": """__device__ static inline long long portkern_clock64()
{
    return clock64();
}
""",
    "wall_clock64": """__device__ static inline unsigned long long portkern_wall_clock64()
{
    unsigned long long ns;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(ns));
    return ns;
}
""",
}


def amd_device_functions_to_cuda(src: SourceEdit, local_names: set[str] | frozenset[str] = frozenset()) -> str:
    """``__bitextract_u32(v, at, bits)`` -> ``portkern_bitextract_u32(...)``, ``__lane_id()`` ->
    ``portkern_lane_id()`` and the other AMD device functions above; returns the helper source to insert
    ("" if none)."""
    used: list[str] = []
    for si in src.where_any({n for n in AMD_DEVICE_FUNCTIONS if n in src.by_text and n not in local_names}):
        name = src.stext(si)
        if src.stext(si + 1) != "(" or src.stext(si - 1) in (".", "->", "::"):
            continue
        src.set_token(si, "portkern_" + name.lstrip("_"))
        if name == "wall_clock64":
            src.hazard(si, "clock-rate", "warning", "wall_clock64 now reads the global timer, which counts "
                       "nanoseconds; HIP's counter runs at hipDeviceAttributeWallClockRate kHz, so divide by "
                       "1e6 kHz where the code converts ticks to time", span=(si, si + 1))
        src.count("device")
        if name not in used:
            used.append(name)
    if not used:
        return ""
    return "\n" + "".join(AMD_DEVICE_FUNCTIONS[n] for n in sorted(used))


# ---------------------------------------------------------------- HIP -> CUDA library idioms

# CCCL 3 (CUDA 13) removed CUB's functor structs; the libcu++ functors replace them.
CUB_FUNCTORS = {"Max": ("cuda::maximum<>", "cuda/functional"), "Min": ("cuda::minimum<>", "cuda/functional"),
                "Sum": ("cuda::std::plus<>", "cuda/std/functional"),
                "Equality": ("cuda::std::equal_to<>", "cuda/std/functional"),
                "Inequality": ("cuda::std::not_equal_to<>", "cuda/std/functional")}


def cub_functors_to_cuda(src: SourceEdit, cuda_version: str = "13.0") -> list[str]:
    """``cub::Max()`` / ``hipcub::Max()`` -> ``cuda::maximum<>()`` for CUDA >= 13; returns headers to add."""
    if parse_version(cuda_version) < (13,):
        return []
    headers: list[str] = []
    for si in src.where_any(CUB_FUNCTORS):
        if si < 2 or src.stext(si - 1) != "::" or src.stext(si - 2) not in ("cub", "hipcub"):
            continue
        if src.stext(si - 3) == "::":
            continue  # some_ns::cub::Max: not CUB's
        new, header = CUB_FUNCTORS[src.stext(si)]
        src.queue_span(si - 2, si + 1, lambda n=new: n)
        src.count("cub")
        if header not in headers:
            headers.append(header)
    return headers


# rocWMMA type names -> CUDA's (the namespace itself maps rocwmma -> nvcuda::wmma)
ROCWMMA_TYPES = {"float16_t": "__half", "hfloat16_t": "__half", "bfloat16_t": "__nv_bfloat16",
                 "float32_t": "float", "float64_t": "double", "int8_t": "signed char", "uint8_t": "unsigned char",
                 "int32_t": "int", "uint32_t": "unsigned int"}
# (M, N, K) shapes nvcuda::wmma provides, by the kind of input element.
WMMA_SHAPES = {"half": {(16, 16, 16), (32, 8, 16), (8, 32, 16)}, "int8": {(16, 16, 16), (32, 8, 16), (8, 32, 16)},
               "double": {(8, 8, 4)}}
_WMMA_INPUT_KIND = {"float16_t": "half", "hfloat16_t": "half", "bfloat16_t": "half", "__half": "half",
                    "half": "half", "__nv_bfloat16": "half", "int8_t": "int8", "uint8_t": "int8",
                    "float64_t": "double", "double": "double"}


def rocwmma_to_cuda(src: SourceEdit) -> None:
    """rocWMMA element types -> CUDA's; fragments whose shape CUDA lacks are reported (not rewritten)."""
    for si in src.where_any(ROCWMMA_TYPES):
        if si >= 2 and src.stext(si - 1) == "::" and src.stext(si - 2) == "rocwmma":
            src.queue_span(si - 2, si + 1, lambda n=ROCWMMA_TYPES[src.stext(si)]: n)
            src.count("device")
    reported: set[tuple[int, int, int]] = set()
    for si in src.where("fragment"):
        if not (si >= 2 and src.stext(si - 1) == "::" and src.stext(si - 2) == "rocwmma" and src.stext(si + 1) == "<"):
            continue
        args = _template_args(src, si + 1)
        if len(args) < 5:
            continue
        dims = [a[-1] if len(a) == 1 else "" for a in args[1:4]]
        if not all(d.isdigit() for d in dims):
            continue  # shape given by template parameters: checked by the compiler where instantiated
        shape = (int(dims[0]), int(dims[1]), int(dims[2]))
        use = args[0][-1] if args[0] else ""
        kind = _WMMA_INPUT_KIND.get(args[4][-1] if args[4] else "", "") if use in ("matrix_a", "matrix_b") else ""
        valid = WMMA_SHAPES[kind] if kind else set().union(*WMMA_SHAPES.values())
        if shape not in valid and shape not in reported:
            reported.add(shape)
            src.hazard(si, "wmma", "error",
                       f"rocWMMA fragment shape {shape[0]}x{shape[1]}x{shape[2]} has no nvcuda::wmma counterpart "
                       "(CUDA: 16x16x16, 32x8x16, 8x32x16 for half/bf16/int8, 8x8x4 for double); retile by hand",
                       span=(src.statement_start(si), src.statement_end(si)))


def _template_args(src: SourceEdit, open_si: int) -> list[list[str]]:
    """Texts of the significant tokens of each top-level template argument after ``<`` at ``open_si``."""
    args: list[list[str]] = [[]]
    depth = 0
    for si in range(open_si + 1, min(open_si + 200, len(src.sig))):
        text = src.stext(si)
        if text in ("<", "(", "["):
            depth += 1
        elif text in (")", "]"):
            depth -= 1
        elif text in (">", ">>"):
            if depth == 0:
                return args
            depth -= len(text)
            if depth < 0:
                return args
        elif text == "," and depth == 0:
            args.append([])
            continue
        args[-1].append(text)
    return []


def rule_overridable_names() -> frozenset[str]:
    """CUDA names a rule rewrites unless the project defines them itself (its own ``__ldcs`` overloads,
    its own ``__vmaxs4``...): a project-wide translation collects their definitions first."""
    tables = load_maps()
    return frozenset(tables.cache_hint_loads) | frozenset(tables.cache_hint_stores) | frozenset(SIMD_INTRINSICS)


# ---------------------------------------------------------------- HIP-only device spellings (HIP -> CUDA)

def dynamic_shared_to_cuda(src: SourceEdit) -> None:
    """``HIP_DYNAMIC_SHARED(T, name)`` -> ``extern __shared__ __align__(16) T name[];`` (what HIP's macro
    declares; CUDA has no macro for it)."""
    for si in src.where("HIP_DYNAMIC_SHARED"):
        if src.stext(si + 1) != "(" or src.stext(si - 1) in (".", "->", "::", "define"):
            continue
        close = src.match_close(si + 1)
        args = src.split_args(si + 1, close) if close > 0 else []
        if len(args) != 2:
            continue
        end = close + 2 if src.stext(close + 1) == ";" else close + 1
        kind, name = (src.out_text(a, b).strip() for a, b in args)
        src.queue_span(si, end, lambda k=kind, n=name: f"extern __shared__ __align__(16) {k} {n}[];")
        src.count("device")


# HIP declares atomicMax/atomicMin for float and double; CUDA only for integers. Overloads (compare and
# swap loops that return the old value, as HIP's do) let the calls compile unchanged.
FLOAT_ATOMICS_PREAMBLE = """\
#ifndef PORTKERN_FLOAT_ATOMIC_MINMAX
#define PORTKERN_FLOAT_ATOMIC_MINMAX
// atomicMax/atomicMin on float and double, as HIP provides them (added by portkern translate).
__device__ inline float atomicMax(float* address, float val)
{
    unsigned int* word = reinterpret_cast<unsigned int*>(address);
    unsigned int old = *word;
    while (__uint_as_float(old) < val) {
        const unsigned int assumed = old;
        old = atomicCAS(word, assumed, __float_as_uint(val));
        if (old == assumed) break;
    }
    return __uint_as_float(old);
}
__device__ inline float atomicMin(float* address, float val)
{
    unsigned int* word = reinterpret_cast<unsigned int*>(address);
    unsigned int old = *word;
    while (__uint_as_float(old) > val) {
        const unsigned int assumed = old;
        old = atomicCAS(word, assumed, __float_as_uint(val));
        if (old == assumed) break;
    }
    return __uint_as_float(old);
}
__device__ inline double atomicMax(double* address, double val)
{
    unsigned long long* word = reinterpret_cast<unsigned long long*>(address);
    unsigned long long old = *word;
    while (__longlong_as_double(static_cast<long long>(old)) < val) {
        const unsigned long long assumed = old;
        old = atomicCAS(word, assumed, static_cast<unsigned long long>(__double_as_longlong(val)));
        if (old == assumed) break;
    }
    return __longlong_as_double(static_cast<long long>(old));
}
__device__ inline double atomicMin(double* address, double val)
{
    unsigned long long* word = reinterpret_cast<unsigned long long*>(address);
    unsigned long long old = *word;
    while (__longlong_as_double(static_cast<long long>(old)) > val) {
        const unsigned long long assumed = old;
        old = atomicCAS(word, assumed, static_cast<unsigned long long>(__double_as_longlong(val)));
        if (old == assumed) break;
    }
    return __longlong_as_double(static_cast<long long>(old));
}
#endif
"""


def float_atomics_to_cuda(src: SourceEdit, local_names=frozenset()) -> str:
    """The float/double atomicMax/atomicMin overloads when the file calls either and does not define its
    own ("" otherwise)."""
    if "atomicMax" in local_names or "atomicMin" in local_names:
        return ""
    calls = [si for si in src.where_any({"atomicMax", "atomicMin"} & set(src.by_text))
             if src.stext(si + 1) == "(" and src.stext(si - 1) not in (".", "->", "::")]
    return FLOAT_ATOMICS_PREAMBLE if calls else ""


def assert_header_for_cuda(src: SourceEdit) -> str:
    """``hip_runtime.h`` brings ``<assert.h>`` with it and ``cuda_runtime.h`` does not: a file that calls
    ``assert`` without including it itself gets ``#include <cassert>`` ("" otherwise)."""
    if "assert" not in src.by_text:
        return ""
    if any("assert" in src.token_text(ti) for ti in src.include_tis):
        return ""
    calls = [si for si in src.where("assert") if src.stext(si + 1) == "(" and src.stext(si - 1) not in (".", "->", "::")]
    return "#include <cassert>" if calls else ""
