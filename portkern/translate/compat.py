"""Rewrites that need a small stand-in because the target lacks a CUDA facility with the same meaning.

* cache-hinted loads/stores (``__ldcs``, ``__stcg``...) -> nontemporal builtins or plain accesses
  (the hint changes caching, never values);
* ``cooperative_groups::reduce`` and the ``meta_group_*`` tile queries, which HIP's cooperative
  groups do not provide -> helpers appended after the includes, built on ``thread_block_tile::shfl_xor``.
The helpers are plain CUDA/HIP, so a file translated back to CUDA still compiles.
"""

from __future__ import annotations

from portkern.translate.maps import MapTables
from portkern.translate.source import SourceEdit

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


def cache_hints_to_hip(src: SourceEdit, tables: MapTables) -> None:
    for si in src.where_any(set(tables.cache_hint_loads) | set(tables.cache_hint_stores)):
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
        if load is not None:
            src.queue_span(si, close + 1, _load_builder(src, load, args))
        else:
            src.queue_span(si, close + 1, _store_builder(src, store, args))
        src.count("device")
        src.hazard(si, "cache-hint", "info",
                   f"{t.text} is a cache hint; rewritten as a {'plain' if (load or store) == 'plain' else 'nontemporal'} "
                   "access (same values, caching may differ)", fixed=True)


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
        if src.stext(si + 1) != "(":
            continue
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
    last = -1
    for ti, t in enumerate(src.toks):
        if t.kind == "include":
            last = ti
    if last < 0:
        src.out[0] = text.lstrip("\n") + "\n" + src.out[0] if src.out else text
        return
    src.out[last] = src.out[last] + "\n" + text.strip("\n")
