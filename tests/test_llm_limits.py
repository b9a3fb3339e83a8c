"""Per-call time and token limits of the model client, and a bounded, recorded model path through
`portkern port`, against ``SlowOpenAIStandIn``: a real HTTP server on loopback that stands in for a
slow OpenAI-compatible model server (canned replies, streamed a word at a time)."""

from __future__ import annotations

import json
import re
import sqlite3
import time

import pytest
from llm_server import SlowOpenAIStandIn

from portkern.errors import ModelError
from portkern.llm.cache import ResponseCache
from portkern.llm.client import LLMClient
from portkern.llm.providers.openai import OpenAIProvider
from portkern.llm.records import MemoryRecorder
from portkern.search.budget import run_budget

WORDS = "the kernel is already fast enough, I would keep it as it is"


def _client(url: str, **kw) -> LLMClient:
    return LLMClient(OpenAIProvider(url, "stand-in", timeout_s=30.0), retries=2, backoff_s=0.05,
                     recorder=MemoryRecorder(), **kw)


def test_a_reply_streamed_past_the_time_limit_is_cut_kept_and_not_cached(tmp_path):
    with SlowOpenAIStandIn(WORDS, token_s=0.05, endless=True) as server:
        client = _client(server.url, call_seconds=1.0, cache=ResponseCache(tmp_path / "llm"))
        t0 = time.monotonic()
        answer = client.ask("ask", "say something")
        elapsed = time.monotonic() - t0
        call = answer.call
        assert 0.9 <= elapsed < 3.0, elapsed
        assert call.cut.startswith("time limit (1 s") and call.attempts == 1 and not call.error
        assert call.reply.startswith("the kernel is") and 3 <= call.tokens_out < 40
        assert client.usage.cut_replies == 1 and client.recorder.calls == [call]
        client.ask("ask", "say something")       # a cut reply is not what the model says: asked again
        assert len(server.chat_bodies) == 2 and server.chat_bodies[0]["stream"] is True


def test_a_silent_server_cannot_hold_a_call_past_its_limit():
    with SlowOpenAIStandIn(WORDS, silent_s=20.0) as server:
        client = _client(server.url, call_seconds=30.0)
        t0 = time.monotonic()
        answer = client.ask("ask", "say something", time_limit_s=0.8)   # the search's wall budget is tighter
        assert time.monotonic() - t0 < 2.5
        assert answer.call.reply == "" and answer.call.cut.startswith("time limit (0.8 s")
        assert len(server.chat_bodies) == 1                              # no retry past the limit


def test_a_server_that_ignores_max_tokens_is_cut_at_the_token_limit():
    with SlowOpenAIStandIn(WORDS, endless=True) as server:
        call = _client(server.url, max_tokens=20).ask("ask", "say something").call
        assert call.tokens_out == 20 and len(call.reply.split()) == 20
        assert call.cut == "token limit (20 tokens)"
        assert server.chat_bodies[0]["max_tokens"] == 20


def test_a_server_that_stops_at_max_tokens_is_not_cut():
    with SlowOpenAIStandIn(" ".join([WORDS] * 5), honour_max_tokens=True) as server:
        call = _client(server.url, max_tokens=20).ask("ask", "say something").call
        assert call.tokens_out == 20 and call.cut == ""


def test_an_unreachable_server_fails_within_the_call_limit():
    with SlowOpenAIStandIn(WORDS) as server:
        url = server.url
    client = _client(url, call_seconds=1.5)
    client.backoff_s = 5.0                        # a backoff longer than the limit is cut short too
    t0 = time.monotonic()
    with pytest.raises(ModelError, match="within 1.5 s"):
        client.ask("ask", "say something")
    assert time.monotonic() - t0 < 3.0 and client.recorder.calls[0].error


def test_the_run_budget_bounds_candidates_model_calls_and_wall_time_together():
    b = run_budget(2, {"max_model_calls": 16, "max_wall_seconds": 1800.0, "max_gpu_seconds": 300.0})
    assert b["max_candidates"] == 2 and b["max_model_calls"] == 4 and b["max_wall_seconds"] == 720.0
    tight = run_budget(8, {"max_model_calls": 3, "max_wall_seconds": 100.0})
    assert tight["max_model_calls"] == 3 and tight["max_wall_seconds"] == 100.0


# --------------------------------------------------------------------------- through `portkern port`


def _scripted_replies():
    """First call: streams forever, slowly (cut at the time limit); second: the unit with wrong results;
    third: the unit that does not compile; later ones: nothing useful."""
    count = {"n": 0}

    def reply(body):
        count["n"] += 1
        prompt = body["messages"][-1]["content"]
        unit = re.search(r"```cpp\n(.*?)\n```", prompt, re.S).group(1)
        if count["n"] == 1:
            return "thinking " * 5000, 0.02
        if count["n"] == 2:
            return "```cpp\n" + unit.replace("*= alpha;", "*= alpha + alpha;") + "\n```"
        if count["n"] == 3:
            return "```cpp\n" + unit.replace("*= alpha;", "*= alpha +;") + "\n```"
        return "no idea"
    return reply


@pytest.mark.slow
def test_port_refine_stays_within_its_budget_and_records_every_model_call(tmp_path):
    from portkern.config import load_config
    from portkern.pipeline.run import PortOptions, port

    with SlowOpenAIStandIn(_scripted_replies()) as server:
        cfg_file = tmp_path / "portkern.yaml"
        cfg_file.write_text(json.dumps({"llm": {"provider": "openai", "openai_base_url": server.url,
                                                "model": "stand-in", "call_seconds": 2.0, "retries": 0,
                                                "max_tokens": 4096},
                                        "cache_dir": str(tmp_path / "cache")}))
        runs = tmp_path / "runs"
        t0 = time.monotonic()
        summary = port(PortOptions(library="blas", target="mi300x", kernels=["scal"], budget=3, strategy="refine",
                                   run_id="bounded", runs_dir=str(runs), cache_dir=str(tmp_path / "cache")),
                       config=load_config(cfg_file, environ={}))
        elapsed = time.monotonic() - t0
    model = summary["model"]
    outcomes = [c["outcome"] for c in model["list"]]
    assert outcomes == ["no code", "wrong", "does not compile"], model["list"]
    assert model["list"][0]["cut"].startswith("time limit (2 s") and model["cut"] == 1
    assert model["calls"] <= run_budget(3)["max_model_calls"] and elapsed < 120
    assert any(n.startswith("model: 3 call(s) to stand-in") for n in summary["notes"]), summary["notes"]
    con = sqlite3.connect(runs / "index.sqlite")
    rows = con.execute("SELECT outcome, reject_reason, candidate_id FROM model_calls WHERE run_id = 'bounded' "
                       "ORDER BY rowid").fetchall()
    con.close()
    assert [r[0] for r in rows] == outcomes and "reply cut: time limit" in rows[0][1]
    report = (runs / "bounded" / "emit" / "report.md").read_text()
    section = report[report.index("## Model calls"):]
    assert "3 call(s) to stand-in" in section and section.count("| scal | optimize |") == 3
    assert "**does not compile**" in section and "**wrong**" in section and "time limit" in section
    records = [json.loads(line) for line in (runs / "bounded" / "emit" / "records.jsonl").read_text().splitlines()]
    calls = [r for r in records if r["record_type"] == "model_call"]
    assert [r["outcome"] for r in calls] == outcomes and all(r["prompt"] and r["kind"] == "optimize" for r in calls)
    assert calls[0]["cut"].startswith("time limit") and calls[0]["reply"].startswith("thinking")
    # the operators' suggested point for scal (vectorize(4)) is one of the three candidates, tried first
    assert calls[1]["candidate"] == "scal/refine-3" and "alpha + alpha" in calls[1]["reply"]


def test_the_ollama_provider_keeps_the_same_time_limit():
    """Ollama's wire format through the official client, against the Ollama stand-in holding its reply back."""
    from llm_server import FakeOllamaServer

    from portkern.llm.providers.ollama import OllamaProvider

    with FakeOllamaServer(reply="```cpp\n__global__ void k() {}\n```", delay_s=3.0) as server:
        client = LLMClient(OllamaProvider(server.url, "qwen2.5-coder:7b", timeout_s=30.0), retries=2,
                           recorder=MemoryRecorder(), call_seconds=0.8)
        t0 = time.monotonic()
        call = client.ask("ask", "say something").call
        assert time.monotonic() - t0 < 2.5
        assert call.cut == "time limit (0.8 s)" and call.reply == "" and call.attempts == 1
        assert server.chat_bodies()[0]["stream"] is True
