"""The DAG and the local executor: dependencies, failure policy, cache reuse, growth while running.

The stages here are small real computations registered for the test (a real g++ compile where a
subprocess matters); the pipeline's own stages are exercised end to end in test_pipeline_port.py.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading

import pytest

from portkern.errors import CompileError, StoreError
from portkern.pipeline.dag import RESULT, Dep, StageResult, Task, TaskGraph, execute_task
from portkern.pipeline.local import LocalExecutor
from portkern.pipeline.stages import stage

CALLS: dict[str, int] = {}
LOCK = threading.Lock()


def _count(name: str) -> None:
    with LOCK:
        CALLS[name] = CALLS.get(name, 0) + 1


@stage("test-digest", version=1)
def digest_stage(text: str) -> dict:
    _count("test-digest")
    return {"digest": hashlib.sha256(text.encode()).hexdigest(), "text": text}


@stage("test-concat", version=1)
def concat_stage(a: str, b: str) -> dict:
    _count("test-concat")
    return {"text": a + b}


@stage("test-gxx", version=1, toolchain=("compile",), cacheable_failures=("compile",))
def gxx_stage(source: str, workdir: str) -> dict:
    """Compile C++ with the real g++: a subprocess, as compilers are in the pipeline."""
    _count("test-gxx")
    src = f"{workdir}/{hashlib.sha256(source.encode()).hexdigest()[:12]}.cpp"
    with open(src, "w") as f:
        f.write(source)
    proc = subprocess.run(["g++", "-c", "-o", src + ".o", src], capture_output=True, text=True)
    if proc.returncode != 0:
        raise CompileError(f"g++ rejected {src}", log=proc.stderr)
    return {"object_bytes": len(open(src + ".o", "rb").read())}


@stage("test-join", version=1, cacheable=False)
def join_stage(**parts: StageResult) -> dict:
    return {"statuses": {k: v.status for k, v in sorted(parts.items())}}


def run_graph(graph: TaskGraph, cache_root, on_result=None, max_workers=2):
    seen: list[StageResult] = []

    def record(task, res):
        seen.append(res)
        if on_result:
            on_result(task, res)

    results = LocalExecutor(max_workers=max_workers).run(
        graph, cache_root=str(cache_root) if cache_root else None, toolchain={"compile": "g++ test"},
        on_start=lambda t: None, on_result=record)
    return results, seen


def test_graph_rejects_unknown_dependencies_duplicates_and_cycles():
    g = TaskGraph()
    g.add(Task(id="a", stage="test-digest", kernel="k", inputs={"text": "x"}))
    with pytest.raises(StoreError):
        g.add(Task(id="a", stage="test-digest", kernel="k", inputs={"text": "x"}))
    with pytest.raises(StoreError):
        g.add(Task(id="b", stage="test-digest", kernel="k", deps={"text": Dep("missing", "text")}))
    # A task cannot name itself upstream (the only way to close a cycle when tasks are added in order).
    with pytest.raises(StoreError):
        g.add(Task(id="c", stage="test-digest", kernel="k", after=["c"]))
    assert len(g) == 1


def test_inputs_flow_along_edges_and_results_are_cached(tmp_path):
    def build():
        g = TaskGraph()
        g.add(Task(id="k/a", stage="test-digest", kernel="k", inputs={"text": "left"}))
        g.add(Task(id="k/b", stage="test-digest", kernel="k", inputs={"text": "right"}))
        g.add(Task(id="k/c", stage="test-concat", kernel="k", deps={"a": Dep("k/a", "text"), "b": Dep("k/b", "text")}))
        g.add(Task(id="k/d", stage="test-digest", kernel="k", deps={"text": Dep("k/c", "text")}))
        return g

    CALLS.clear()
    first, _ = run_graph(build(), tmp_path)
    assert first["k/d"].payload["digest"] == hashlib.sha256(b"leftright").hexdigest()
    assert all(not r.cached and r.cache_key for r in first.values())
    assert CALLS == {"test-digest": 3, "test-concat": 1}
    second, _ = run_graph(build(), tmp_path)
    assert all(r.cached for r in second.values())
    assert CALLS == {"test-digest": 3, "test-concat": 1}  # nothing recomputed
    assert second["k/d"].payload == first["k/d"].payload


def test_failure_skips_dependents_and_the_run_goes_on(tmp_path):
    if not shutil.which("g++"):
        pytest.skip("g++ is not installed")
    g = TaskGraph()
    g.add(Task(id="good.compile", stage="test-gxx", kernel="good", inputs={"source": "int f() { return 1; }\n",
                                                                          "workdir": str(tmp_path)}))
    g.add(Task(id="bad.compile", stage="test-gxx", kernel="bad", inputs={"source": "int f() { return }\n",
                                                                        "workdir": str(tmp_path)}))
    for k in ("good", "bad"):
        g.add(Task(id=f"{k}.digest", stage="test-digest", kernel=k, inputs={"text": k}, after=[f"{k}.compile"]))
        g.add(Task(id=f"{k}.again", stage="test-digest", kernel=k, deps={"text": Dep(f"{k}.digest", "text")}))
    g.add(Task(id="join", stage="test-join", kernel="all", join=True,
               deps={"good": Dep("good.again", RESULT), "bad": Dep("bad.again", RESULT)}))
    results, _ = run_graph(g, tmp_path / "cache")
    assert results["good.compile"].status == "ok" and results["good.compile"].payload["object_bytes"] > 0
    bad = results["bad.compile"]
    assert bad.status == "failed" and bad.cause == "compile" and "expected" in bad.reason  # g++'s own message
    assert results["bad.digest"].status == "skipped" and results["bad.digest"].cause == "dependency-failed"
    assert "bad.compile failed (compile)" in results["bad.digest"].reason
    assert results["bad.again"].status == "skipped" and "bad.digest was skipped" in results["bad.again"].reason
    assert results["good.again"].status == "ok"
    assert results["join"].payload["statuses"] == {"bad": "skipped", "good": "ok"}
    # A compile error is a fact about the source: cached, so a rerun does not call the compiler again.
    CALLS.clear()
    again, _ = run_graph(g_copy(g), tmp_path / "cache")
    assert again["bad.compile"].cached and again["bad.compile"].status == "failed"
    assert "test-gxx" not in CALLS


def g_copy(g: TaskGraph) -> TaskGraph:
    out = TaskGraph()
    for t in g.tasks():
        out.add(t)
    return out


def test_internal_errors_become_failed_results(tmp_path):
    g = TaskGraph()
    g.add(Task(id="x", stage="test-concat", kernel="k", inputs={"a": "1", "b": 2}))  # str + int: TypeError
    results, _ = run_graph(g, tmp_path)
    assert results["x"].status == "failed" and results["x"].cause == "internal"
    assert "TypeError" in results["x"].reason
    # Machine-side failures are not cached: a rerun computes again.
    assert not any(tmp_path.rglob("*.json"))


def test_unkeyable_input_fails_the_task_instead_of_caching(tmp_path):
    task = Task(id="x", stage="test-digest", kernel="k", inputs={"text": object()})
    res = execute_task(task, {}, str(tmp_path), {})
    assert res.status == "failed" and res.cause == "store" and "no stable content" in res.reason


def test_graph_grows_while_running(tmp_path):
    """A notify task's callback adds new tasks (as the search does); the executor runs them too."""
    g = TaskGraph()
    g.add(Task(id="r1", stage="test-digest", kernel="k", inputs={"text": "seed"}, notify=True))
    rounds = []

    def expand(task, res):
        if task.notify and len(rounds) < 3:
            rounds.append(task.id)
            n = len(rounds) + 1
            g.add(Task(id=f"r{n}", stage="test-digest", kernel="k", deps={"text": Dep(task.id, "digest")},
                       notify=True))

    results, seen = run_graph(g, None, on_result=expand)
    assert sorted(results) == ["r1", "r2", "r3", "r4"]
    assert results["r4"].payload["text"] == results["r3"].payload["digest"]
    assert [r.task for r in seen] == ["r1", "r2", "r3", "r4"]


IN_FLIGHT = {"now": 0, "max": 0}


@stage("test-sleep", version=1, cacheable=False)
def sleep_stage(seconds: float) -> dict:
    """A subprocess that waits, tracking how many run at once."""
    with LOCK:
        IN_FLIGHT["now"] += 1
        IN_FLIGHT["max"] = max(IN_FLIGHT["max"], IN_FLIGHT["now"])
    try:
        subprocess.run(["sleep", str(seconds)], check=True)
    finally:
        with LOCK:
            IN_FLIGHT["now"] -= 1
    return {}


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_cpu_stages_run_up_to_the_worker_count_at_once(workers):
    IN_FLIGHT.update(now=0, max=0)
    g = TaskGraph()
    for i in range(6):
        g.add(Task(id=f"s{i}", stage="test-sleep", kernel="k", inputs={"seconds": 0.2}))
    results, _ = run_graph(g, None, max_workers=workers)
    assert all(r.status == "ok" for r in results.values())
    assert IN_FLIGHT["max"] == workers


def test_device_stages_run_one_per_gpu_slot():
    IN_FLIGHT.update(now=0, max=0)
    g = TaskGraph()
    for i in range(4):
        g.add(Task(id=f"d{i}", stage="test-sleep", kernel="k", inputs={"seconds": 0.1}, needs_gpu=True))
    LocalExecutor(max_workers=4, gpu_slots=1).run(g, cache_root=None, toolchain={}, on_start=lambda t: None,
                                                  on_result=lambda t, r: None)
    assert IN_FLIGHT["max"] == 1


def test_search_join_counts_device_seconds_for_the_gpu_budget():
    from portkern.pipeline.dag import StageResult
    from portkern.pipeline.stages import search_stage

    cand = {"id": "k/sweep-1", "kernel": "k", "source": "src", "params": {"NB": 64}, "origin": "sweep"}
    val = StageResult(stage="validate", task="k/sweep-1.validate", kernel="k", status="ok", seconds=2.5,
                      payload={"kernel": "k", "backend": "cuda", "device": "gpu", "wavefront": 32, "passed": True})
    ben = StageResult(stage="bench", task="k/sweep-1.bench", kernel="k", status="ok", seconds=4.0,
                      payload={"bench": [], "score_ms": 1.0, "spread_ms": 0.1, "method": "device-events"})
    out = search_stage([cand], **{"k/sweep-1|validate": val, "k/sweep-1|bench": ben})
    assert out["evaluations"][0]["gpu_seconds"] == 6.5
    emu = StageResult(stage="validate", task="k/sweep-1.validate", kernel="k", status="ok", seconds=9.0,
                      payload={"kernel": "k", "backend": "emu", "device": "cpu", "wavefront": 64, "passed": True})
    est = StageResult(stage="bench", task="k/sweep-1.bench", kernel="k", status="estimated", seconds=0.1,
                      payload={"bench": [], "score_ms": 1.0, "spread_ms": 0.0, "method": "estimate"})
    out = search_stage([cand], **{"k/sweep-1|validate": emu, "k/sweep-1|bench": est})
    assert out["evaluations"][0]["gpu_seconds"] == 0.0
    ben.cached = True
    out = search_stage([cand], **{"k/sweep-1|validate": val, "k/sweep-1|bench": ben})
    assert out["evaluations"][0]["gpu_seconds"] == 2.5


def test_a_base_timed_at_the_primary_point_still_gets_the_vendor_library():
    from portkern.library import load_library
    from portkern.pipeline.plan import GraphPlan
    from portkern.search.base import Candidate
    from portkern.targets import get_target

    lib = load_library("blas")
    kernel = lib.kernel("axpy")

    def bench_inputs(**flags):
        plan = GraphPlan(lib, get_target("h200"), True, **flags)
        state = plan.add_kernel(kernel, "digest")
        plan.add_round(state, [Candidate(id="axpy/sweep-1", kernel="axpy", source="", params={"NB": 512},
                                         origin="sweep", parent="axpy/rules-0")])
        return {t.candidate_id: t.inputs for t in plan.graph.tasks() if t.stage == "bench"}

    full = bench_inputs()
    assert full["axpy/rules-0"]["full"] and "vendor" not in full["axpy/rules-0"]
    data = bench_inputs(base_full=False)
    assert not data["axpy/rules-0"]["full"] and data["axpy/rules-0"]["vendor"] is True
    assert "vendor" not in data["axpy/sweep-1"]       # search candidates never time the vendor library
    assert "vendor" not in bench_inputs(base_full=False, base_vendor=False)["axpy/rules-0"]
