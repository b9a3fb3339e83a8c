"""Search strategies driven by a fake evaluation function (no compiler), the way the pipeline drives them.

Model replies come from FakeOllamaServer (a stand-in speaking Ollama's wire format) through the real
client, so prompts, reply checks and records are exercised too.
"""

from __future__ import annotations

import math
import re

import pytest
from llm_server import FakeOllamaServer, free_port

from portkern.errors import ConfigError
from portkern.library import ArgSpec, KernelSpec, LaunchSpec
from portkern.llm import LLMClient, MemoryRecorder, make_provider
from portkern.model import BenchResult, CaseResult, ValidationResult
from portkern.search import (
    STRATEGIES,
    Budget,
    Candidate,
    Evaluation,
    SearchContext,
    Strategy,
    get_strategy,
    strategy_names,
)
from portkern.search.evolve import population
from portkern.search.judge import step_forward
from portkern.targets import get_target

UNIT = """#include <hip/hip_runtime.h>
template <typename T, int NB>
__global__ void scale_kernel(int n, T alpha, T* x)
{
    // variant: VARIANT
    int i = blockIdx.x * NB + threadIdx.x;
    if (i < n) x[i] *= alpha;
}
"""


def unit(variant: str) -> str:
    return UNIT.replace("VARIANT", variant)


def reply(variant: str) -> str:
    return f"Here is a faster version.\n```cpp\n{unit(variant)}```\n"


def kernel_spec(tunables=None) -> KernelSpec:
    return KernelSpec(name="scale", family="scal", file="scale.hip", symbol="scale_kernel", dtypes=["float32"],
                      args=[ArgSpec("n", "size", dtype="int32", value="n"), ArgSpec("alpha", "scalar"),
                            ArgSpec("x", "inout", shape="n")],
                      launches=[LaunchSpec("scale_kernel", ["T", "NB"], ["(n + NB - 1) / NB", "1", "1"],
                                           ["NB", "1", "1"], "0", ["n", "alpha", "x"])],
                      reference="reference.py:scale", sizes_validate=[{"n": 1000}], sizes_bench=[{"n": 1 << 22}],
                      bytes_moved="8 * n", flops="n", tunables=tunables or {}, defaults={"NB": 256})


def context(tunables=None, llm=None, budget=None, **kw) -> SearchContext:
    base = Candidate(id="scale/rules-0", kernel="scale", source=unit("base correct=1 ms=1.0"), params={},
                     origin="rules")
    return SearchContext(kernel=kernel_spec(tunables), library=None, target=get_target("mi300x"), dialect="hip",
                         base=base, budget=budget or {}, llm=llm, **kw)


def evaluate(c: Candidate, spread_ms: float = 0.02, sweep_cost=None) -> Evaluation:
    """Fake evaluation: the variant marker says whether it compiles, is correct, and how fast it is."""
    marker = re.search(r"variant: (.*)", c.source).group(1)
    if "nocompile" in marker:
        return Evaluation(candidate=c, compiled=False, compile_error="unit.hip:5:5: error: expected ';'")
    correct = "correct=1" in marker
    ms = float(re.search(r"ms=([\d.]+)", marker).group(1))
    if sweep_cost is not None:
        ms *= sweep_cost(c.params)
    case = CaseResult(sizes={"n": 1000}, dtype="float32", seed=1, passed=correct, max_abs_error=0.0 if correct else 1.0,
                      failure="" if correct else "mismatch")
    val = ValidationResult(kernel="scale", backend="emu", device="cpu-emulator (wave64)", wavefront=64,
                           passed=correct, cases=[case], failure="" if correct else "mismatch")
    bench = [BenchResult(kernel="scale", sizes={"n": 1 << 22}, dtype="float32", method="estimate", device="mi300x",
                         median_ms=ms, spread_ms=spread_ms, bytes_moved=8 * (1 << 22), flops=1 << 22)]
    return Evaluation(candidate=c, compiled=True, validation=val, bench=bench if correct else [],
                      score_ms=ms if correct else 0.0, spread_ms=spread_ms if correct else 0.0, gpu_seconds=0.5)


def drive(strategy, ctx, max_rounds: int = 50, **eval_kw) -> list[Evaluation]:
    """The pipeline's loop, in miniature: the base first, then whatever the strategy proposes."""
    history = [evaluate(ctx.base, **eval_kw)]
    for _ in range(max_rounds):
        proposed = strategy.propose(ctx, history)
        if not proposed:
            return history
        history.extend(evaluate(c, **eval_kw) for c in proposed)
    raise AssertionError("strategy never finished")


def fake_client(server: FakeOllamaServer, recorder=None) -> LLMClient:
    provider = make_provider({"provider": "ollama", "ollama_host": server.url, "model": "qwen2.5-coder:7b",
                              "timeout_s": 5.0})
    return LLMClient(provider, run_id="t", retries=0, seed=100, recorder=recorder)


# --------------------------------------------------------------------------- sweep


def test_sweep_covers_the_cartesian_product_when_it_fits():
    ctx = context({"NB": [64, 128, 256], "UNROLL": [1, 2]})
    history = drive(get_strategy("sweep"), ctx)
    points = {tuple(sorted(ev.candidate.params.items())) for ev in history if ev.candidate.origin == "sweep"}
    assert len(points) == 5                         # 6 points; the base already ran at the defaults (NB=256, UNROLL=1)
    assert (("NB", 256), ("UNROLL", 1)) not in points
    assert all(ev.candidate.source == ctx.base.source for ev in history)


def test_sweep_goes_greedy_within_budget_and_finds_a_separable_optimum():
    space = {"NB": [32, 64, 128, 256, 512], "UNROLL": [1, 2, 4, 8], "VEC": [1, 2, 4]}

    def cost(p):  # best at NB=128, UNROLL=4, VEC=2 (defaults NB=256, UNROLL=1, VEC=1)
        return (1 + abs(math.log2(p.get("NB", 256)) - 7) * 0.3 + abs(math.log2(p.get("UNROLL", 1)) - 2) * 0.2
                + abs(math.log2(p.get("VEC", 1)) - 1) * 0.1)

    ctx = context(space, budget={"max_candidates": 20})
    history = drive(get_strategy("sweep"), ctx, sweep_cost=cost)
    swept = [ev for ev in history if ev.candidate.origin == "sweep"]
    assert len(swept) <= 20                         # 60 points would not fit
    assert any("greedy" in n for n in ctx.notes)
    winner = min((ev for ev in history if ev.correct), key=lambda ev: ev.score_ms)
    assert {k: winner.candidate.params.get(k) for k in space} == {"NB": 128, "UNROLL": 4, "VEC": 2}


def test_sweep_stops_on_a_spent_gpu_budget():
    # GPU time is known only after a batch ran, so the search stops at the first batch that spends it.
    ctx = context({"NB": [64, 128, 256], "UNROLL": [1, 2, 4]}, budget={"max_gpu_seconds": 1.0})
    history = drive(get_strategy("sweep", mode="greedy"), ctx)
    assert len(history) == 3 and any("GPU-time budget spent (1.5/1 s)" in n for n in ctx.notes)


def test_sweep_without_tunables_says_so():
    ctx = context()
    assert get_strategy("sweep").propose(ctx, [evaluate(ctx.base)]) == []
    assert "declares no tunable parameters" in ctx.notes[0]


def test_unknown_strategy_is_a_config_error():
    with pytest.raises(ConfigError, match="use one of sweep, evolve, refine"):
        get_strategy("anneal")


def test_strategies_register_themselves_and_the_cli_offers_them():
    from portkern.cli.cmd_port import command

    assert strategy_names() == ["sweep", "evolve", "refine"]
    assert {n: STRATEGIES[n].needs_model for n in strategy_names()} == {"sweep": False, "evolve": True,
                                                                         "refine": True}

    class Exhaustive(Strategy):
        name = "exhaustive-test"

        def propose(self, ctx, history):
            return []

    try:
        assert "exhaustive-test" in strategy_names() and not Exhaustive.needs_model
        assert isinstance(get_strategy("exhaustive-test"), Exhaustive)
        with pytest.raises(TypeError, match="defined twice"):
            type("Again", (Strategy,), {"name": "exhaustive-test", "propose": lambda self, c, h: []})
    finally:
        STRATEGIES.pop("exhaustive-test")
    option = next(p for p in command.params if p.name == "strategy")
    assert list(option.type.choices) == ["sweep", "evolve", "refine"]


# --------------------------------------------------------------------------- the keep/revert rule


def ev_at(ms: float, spread: float, correct: bool = True, name: str = "x") -> Evaluation:
    return evaluate(Candidate(id=name, kernel="scale", source=unit(f"correct={int(correct)} ms={ms}")),
                    spread_ms=spread)


def test_keep_only_when_faster_beyond_the_noise():
    cur = ev_at(1.0, 0.05)
    assert not step_forward(ev_at(0.97, 0.05), cur)[0]          # inside the spread
    assert step_forward(ev_at(0.90, 0.05), cur)[0]
    assert not step_forward(ev_at(0.995, 0.0), ev_at(1.0, 0.0))[0]   # a 0.5% gain with no spread: under the floor
    assert not step_forward(ev_at(0.5, 0.01, correct=False), cur)[0]
    broken = ev_at(1.0, 0.0, correct=False)
    assert step_forward(ev_at(2.0, 0.0), broken) == (True, "now correct")


# --------------------------------------------------------------------------- refine


def test_refine_keeps_real_gains_and_reverts_the_rest():
    replies = [reply("a correct=1 ms=0.98"),            # within noise: reverted
               reply("b correct=1 ms=0.70"),            # kept
               reply("c correct=0 ms=0.10"),            # wrong: reverted to b
               "I cannot help with that.",              # no code block: rejected, recorded
               reply("d correct=1 ms=0.69"),            # within noise of b: reverted
               reply("e correct=1 ms=0.69")]            # same again: patience runs out
    recorder = MemoryRecorder()
    with FakeOllamaServer(reply=replies) as server:
        ctx = context(llm=fake_client(server, recorder), budget={"max_model_calls": 10})
        strategy = get_strategy("refine", patience=3)
        history = drive(strategy, ctx)
        prompts = [b["messages"][-1]["content"] for b in server.chat_bodies()]
    assert [ev.candidate.id for ev in history][1:] == ["scale/refine-1", "scale/refine-2", "scale/refine-3",
                                                       "scale/refine-5"]
    assert any("kept scale/refine-2" in n for n in ctx.notes)
    assert any("reverted scale/refine-3 to scale/refine-2" in n for n in ctx.notes)
    # after the revert the next request starts from the kept kernel b, not from the wrong c
    assert "variant: b" in prompts[3] and "variant: b" in prompts[4]
    assert all(p.startswith("Make this correct HIP kernel unit faster") for p in prompts)
    assert [c.accepted for c in recorder.calls] == [True, True, True, False, True]
    assert recorder.calls[3].reject_reason == "no fenced code block in the reply"
    assert history[2].candidate.origin == "model-optimize" and history[2].candidate.model_call == recorder.calls[1].call_id
    assert any("optimisation attempts in a row gained nothing" in n for n in ctx.notes)


def test_refine_repairs_before_optimizing_and_translates_open_hazards_first():
    replies = [reply("t nocompile"), reply("r1 correct=0 ms=1"), reply("r2 correct=1 ms=1.0"),
               reply("o1 correct=1 ms=0.5")]
    with FakeOllamaServer(reply=replies) as server:
        ctx = context(llm=fake_client(server), budget={"max_model_calls": 4},
                      hazards=[{"line": 5, "kind": "warp-size", "message": "assumes 32 lanes"}],
                      original_source=unit("cuda original").replace("hip/hip_runtime.h", "cuda_runtime.h"))
        ctx.base = Candidate(id="scale/rules-0", kernel="scale", source=unit("base nocompile"), origin="rules")
        history = drive(get_strategy("refine"), ctx)
        prompts = [b["messages"][-1]["content"] for b in server.chat_bodies()]
    assert prompts[0].startswith("Translate this CUDA kernel unit to HIP")
    # the translation did not compile either: back to the base, whose compile error is repaired
    assert "does not compile" in prompts[1] and "variant: base" in prompts[1] and "expected ';'" in prompts[1]
    assert "gives wrong results" in prompts[2] and "variant: r1" in prompts[2]      # r1 compiles: kept
    assert prompts[3].startswith("Make this correct") and "variant: r2" in prompts[3]
    assert history[-1].score_ms == 0.5 and any("model-call budget spent" in n for n in ctx.notes)


def test_refine_without_a_server_is_skipped_and_operators_run():
    url = f"http://127.0.0.1:{free_port()}"
    ctx = context({"NB": [64, 128, 256]})
    strategy = get_strategy("refine", llm_config={"llm": {"provider": "ollama", "ollama_host": url,
                                                          "model": "qwen2.5-coder:7b", "openai_base_url": ""}})
    history = drive(strategy, ctx)
    assert ctx.skipped == [f"refine: skipped: no model server at {url}; start one with `ollama serve` and "
                           "`ollama pull qwen2.5-coder:7b`, or set llm.openai_base_url"]
    tried = [ev.candidate for ev in history[1:]]
    # one round of single changes to the base: operator steps and tunable moves, none repeated
    assert tried and all(c.parent == ctx.base.id for c in tried)
    assert len({(tuple(c.operators), tuple(sorted(c.params.items()))) for c in tried}) == len(tried)
    assert all(len(c.operators) == 1 for c in tried if c.origin == "operator")
    assert any(c.origin == "operator" for c in tried)
    # every variant costs the same here, so nothing is kept and refine says why it stopped
    assert any("no change to scale/rules-0 was faster beyond the noise" in n for n in ctx.notes), ctx.notes


# --------------------------------------------------------------------------- evolve


def test_population_is_the_fastest_correct():
    evs = [ev_at(1.0, 0, name="a"), ev_at(0.5, 0, correct=False, name="b"), ev_at(0.7, 0, name="c"),
           ev_at(0.9, 0, name="d")]
    assert [e.candidate.id for e in population(evs, 2)] == ["c", "d"]
    broken = [ev_at(1.0, 0, correct=False, name="w"),
              Evaluation(candidate=Candidate(id="n", kernel="scale", source=""), compiled=False)]
    assert [e.candidate.id for e in population(broken, 2)] == ["w", "n"]


def test_evolve_breeds_from_the_fastest_correct_and_keeps_them():
    def reply_for(body):
        prompt = body["messages"][-1]["content"]
        seed = body["options"]["seed"]
        parent = re.search(r"variant: (\w+)", prompt).group(1)
        ms = {"base": 1.0}.get(parent, 0.6) * (0.9 if seed % 2 else 1.2)
        return reply(f"s{seed} correct={1 if seed % 3 else 0} ms={ms:.3f}")

    with FakeOllamaServer(reply=reply_for) as server:
        ctx = context(llm=fake_client(server), budget={"max_model_calls": 8, "max_candidates": 8})
        strategy = get_strategy("evolve", population_size=2, children=4)
        history = drive(strategy, ctx)
        bodies = server.chat_bodies()
    assert len(bodies) == 8                              # two generations of four
    assert len({b["options"]["seed"] for b in bodies}) == 8     # every rewrite asked with its own seed
    assert all(b["options"]["temperature"] == 0.7 for b in bodies)
    gen2_parents = {re.search(r"variant: (\w+)", b["messages"][-1]["content"]).group(1) for b in bodies[4:]}
    gen1 = [ev for ev in history if "-g1-" in ev.candidate.id]
    assert gen2_parents == {ev.candidate.source.split("variant: ")[1].split()[0]
                            for ev in population(history[: 1 + len(gen1)], 2)}
    fastest = min((ev for ev in history if ev.correct), key=lambda ev: ev.score_ms)
    assert "-g2-" in fastest.candidate.id and fastest.score_ms == pytest.approx(0.54)
    assert ctx.notes[-1].endswith(f"candidate budget spent (8/8); best {fastest.candidate.id}")


def operator_cost(c: Candidate) -> float:
    """Fake timing of operator candidates: four elements per thread, fewer blocks and unrolling help, a tight
    register cap hurts."""
    ms = 1.0
    ms *= {"grid-stride(2)": 0.8, "grid-stride(4)": 0.6, "grid-stride(8)": 0.7}.get(
        next((o for o in c.operators if o.startswith("grid-stride")), ""), 1.0)
    ms *= 0.9 if any(o.startswith("unroll") for o in c.operators) else 1.0
    ms *= 0.95 if any(o.startswith("fewer-blocks") for o in c.operators) else 1.0
    ms *= 1.5 if "launch-bounds(4)" in c.operators else 1.0
    return ms * (1.1 if c.params.get("NB") == 128 else 1.0)


def drive_operators(strategy, ctx) -> list[Evaluation]:
    def timed(c: Candidate) -> Evaluation:
        ev = evaluate(c)
        ev.score_ms *= operator_cost(c)
        return ev

    history = [timed(ctx.base)]
    for _ in range(50):
        proposed = strategy.propose(ctx, history)
        if not proposed:
            return history
        history.extend(timed(c) for c in proposed)
    raise AssertionError("strategy never finished")


def test_evolve_without_a_server_is_skipped_and_evolves_operator_sequences():
    url = f"http://127.0.0.1:{free_port()}"
    ctx = context({"NB": [128, 256]}, budget={"max_candidates": 24})
    strategy = get_strategy("evolve", llm_config={"llm": {"provider": "ollama", "ollama_host": url, "model": "m:1b"}})
    history = drive_operators(strategy, ctx)
    assert ctx.skipped[0].startswith(f"evolve: skipped: no model server at {url}")
    assert "ollama pull m:1b" in ctx.skipped[0]
    proposed = [ev.candidate for ev in history[1:]]
    assert 0 < len(proposed) <= 24
    keys = [(tuple(c.operators), tuple(sorted(c.params.items()))) for c in proposed]
    assert len(set(keys)) == len(keys), "no operator sequence is proposed twice"
    # sequences longer than one step come from mutation of, or crossover between, earlier candidates
    assert any(len(c.operators) >= 2 for c in proposed)
    assert all(c.parent for c in proposed) and all(c.notes[0].split(":")[0] for c in proposed)
    winner = min(history, key=lambda ev: ev.score_ms)
    assert "grid-stride(4)" in winner.candidate.operators and any(o.startswith("unroll") for o in winner.candidate.operators)
    assert "launch-bounds(4)" not in winner.candidate.operators
    assert any("operator search stopped" in n for n in ctx.notes), ctx.notes


def test_budget_reads_the_search_config_keys():
    b = Budget.from_dict({"max_candidates": "4", "max_wall_seconds": 10})
    assert (b.max_candidates, b.max_wall_seconds, b.max_model_calls) == (4, 10.0, 16)
