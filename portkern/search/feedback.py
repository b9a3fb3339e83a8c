"""Turning an evaluated candidate into the next model request, and a reply into a new candidate.

Shared by ``refine`` and ``evolve``: the prompt kind follows from the evaluation (no compile ->
repair-compile; wrong results -> repair-validation; correct -> optimize).
"""

from __future__ import annotations

from typing import Any

from portkern.errors import ModelError, PortkernError
from portkern.llm import prompts
from portkern.llm.replies import reply_checker
from portkern.search.base import Candidate, Evaluation, SearchContext
from portkern.search.budget import BudgetTracker

ORIGIN_OF_KIND = {"translate": "model-translate", "repair-compile": "model-repair",
                  "repair-validation": "model-repair", "optimize": "model-optimize"}


def workload(ctx: SearchContext, ev: Evaluation | None) -> dict[str, Any]:
    """dtype, sizes, bytes and FLOPs of the primary bench case (from the bench result if timed)."""
    if ev is not None and ev.bench:
        b = ev.bench[0]
        if b.bytes_moved or b.flops:
            return {"dtype": b.dtype, "sizes": b.sizes, "bytes_moved": b.bytes_moved, "flops": b.flops, "bench": b}
    kernel = ctx.kernel
    sizes = dict((kernel.sizes_bench or kernel.sizes_validate or [{}])[0])
    dtype = kernel.dtypes[0] if kernel.dtypes else "float32"
    from portkern import expr
    from portkern.library import DTYPE_BYTES, kernel_env

    params = ev.candidate.params if ev is not None else ctx.base.params
    env = kernel_env(kernel, sizes, params)
    elem = DTYPE_BYTES.get(dtype, 4)
    try:
        bytes_moved = float(expr.evaluate(kernel.bytes_moved, env, elem)) if kernel.bytes_moved else 0.0
        flops = float(expr.evaluate(kernel.flops, env, elem)) if kernel.flops else 0.0
    except (PortkernError, KeyError, ValueError, ZeroDivisionError):
        # an expression using names only the harness binds: the prompt then shows zeros
        bytes_moved, flops = 0.0, 0.0
    bench = ev.bench[0] if ev is not None and ev.bench else None
    return {"dtype": dtype, "sizes": sizes, "bytes_moved": bytes_moved, "flops": flops, "bench": bench}


def next_request(ctx: SearchContext, ev: Evaluation, *, settled: bool = False) -> tuple[str, str]:
    """(prompt kind, prompt text) that moves ``ev`` forward."""
    symbol, target, source = ctx.kernel.symbol, ctx.target, ev.candidate.source
    if not ev.compiled:
        return "repair-compile", prompts.repair_compile_prompt(source=source, log=ev.compile_error, symbol=symbol,
                                                               target=target)
    if not ev.correct:
        if ev.validation is None:
            raise ValueError(f"candidate {ev.candidate.id} compiled but carries no validation result")
        return "repair-validation", prompts.repair_validation_prompt(source=source, validation=ev.validation,
                                                                     symbol=symbol, target=target)
    w = workload(ctx, ev)
    res = None
    if ev.resources is not None:
        res = ev.resources
    return "optimize", prompts.optimize_prompt(source=source, symbol=symbol, target=target, dtype=w["dtype"],
                                               sizes=w["sizes"], bytes_moved=w["bytes_moved"], flops=w["flops"],
                                               bench=w["bench"], resources=res,
                                               tunables=getattr(ctx.kernel, "tunables", {}),
                                               profile=ev.profile, settled=settled)


def translate_request(ctx: SearchContext) -> tuple[str, str]:
    return "translate", prompts.translate_prompt(original=ctx.original_source, rules_output=ctx.base.source,
                                                 hazards=ctx.hazards, symbol=ctx.kernel.symbol,
                                                 source_dialect="cuda" if ctx.dialect == "hip" else "hip",
                                                 target=ctx.target)


def _device_macros(ctx: SearchContext) -> tuple[str, ...]:
    macros = getattr(ctx.library, "macros", None)
    if macros is None:
        return ()
    return tuple(getattr(macros, "kernel", []) or []) + tuple(getattr(macros, "device_helper", []) or [])


def ask_model(ctx: SearchContext, tracker: BudgetTracker | None, *, kind: str, prompt: str, parent: Candidate,
              candidate_id: str, seed: int | None = None, temperature: float | None = None,
              time_limit_s: float | None = None) -> Candidate | None:
    """One model call; a Candidate when the reply passes the reply checks, else None (noted in ctx.notes).
    ``tracker`` None: the caller counts the call itself (parallel callers count up front). The call gets
    no more time than ``time_limit_s``, or what is left of the tracker's wall time."""
    client = ctx.llm
    if tracker is not None:
        tracker.model_calls += 1
        time_limit_s = tracker.wall_seconds_left() if time_limit_s is None else time_limit_s
    check = reply_checker(symbol=ctx.kernel.symbol, original=parent.source, dialect=ctx.dialect,
                          device_macros=_device_macros(ctx))
    try:
        answer = client.ask(kind, prompt, check=check, seed=seed, temperature=temperature,
                            kernel=ctx.kernel.name, candidate=candidate_id, time_limit_s=time_limit_s)
    except ModelError as exc:
        ctx.notes.append(f"{candidate_id}: model call failed: {exc.message}")
        return None
    if not answer.accepted:
        cut = f" (reply cut: {answer.call.cut})" if answer.call.cut else ""
        ctx.notes.append(f"{candidate_id}: reply rejected: {answer.call.reject_reason}{cut}")
        return None
    return Candidate(id=candidate_id, kernel=parent.kernel, source=answer.code, params=dict(parent.params),
                     origin=ORIGIN_OF_KIND[kind], parent=parent.id, prompt_kind=kind, prompt=prompt,
                     model=client.model, model_call=answer.call.call_id,
                     notes=[f"{kind} of {parent.id}" + (" (cached reply)" if answer.call.cached else "")])
