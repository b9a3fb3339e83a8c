"""`portkern port --strategy refine|evolve|sweep` end to end, with a real model server on loopback
(llama.cpp's OpenAI-compatible server with a tiny real GGUF model) and with none."""

from __future__ import annotations

import json
import sqlite3

import pytest
from llm_server import LLAMA_MODEL_ALIAS, LlamaCppServer, free_port, gemma_model_path, llama_server_missing

from portkern.config import load_config
from portkern.pipeline.run import PortOptions, port
from portkern.search.outcomes import OUTCOMES

pytestmark = pytest.mark.xdist_group("llama-port")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    missing = llama_server_missing()
    if missing:
        pytest.skip(missing)
    folder = tmp_path_factory.mktemp("llama-port")
    srv = LlamaCppServer(gemma_model_path(folder), log=folder / "server.log").start()
    yield srv
    srv.stop()


def _config(tmp_path, **llm):
    cfg_file = tmp_path / "portkern.yaml"
    # a cache of this test's own, so every reply is really requested from the server
    cfg_file.write_text(json.dumps({"llm": llm, "search": {"max_model_calls": 2},
                                    "cache_dir": str(tmp_path / "cache")}))
    return load_config(cfg_file, environ={})


def _rows(runs, sql):
    con = sqlite3.connect(runs / "index.sqlite")
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql)]
    finally:
        con.close()


@pytest.mark.llmserver
@pytest.mark.parametrize("strategy", ["refine", "evolve"])
def test_model_strategy_end_to_end_with_a_real_server(server, tmp_path, strategy):
    cfg = _config(tmp_path, provider="openai", openai_base_url=server.url, model=LLAMA_MODEL_ALIAS,
                  max_tokens=48, temperature=0.0, timeout_s=120.0, retries=1, concurrency=1)
    runs = tmp_path / "runs"
    summary = port(PortOptions(library="blas", target="mi300x", kernels=["scal"], budget=3, strategy=strategy,
                               run_id=f"model-{strategy}", runs_dir=str(runs), cache_dir=str(tmp_path / "cache")),
                   config=cfg)
    kernel = summary["kernels"][0]
    assert kernel["status"] in ("ported", "improved"), kernel
    calls = _rows(runs, f"SELECT * FROM model_calls WHERE run_id = 'model-{strategy}'")
    assert 1 <= len(calls) <= 2, "the model-call budget (2) bounds the calls"
    for call in calls:
        # evolve asks about its best candidate so far (the vectorized seed, helpers included), a prompt the
        # tiny test model may answer with nothing at all: recorded as "no code" with its reason
        assert call["model"] == LLAMA_MODEL_ALIAS and call["seconds"] > 0
        assert call["tokens_out"] > 0 or call["outcome"] == "no code"
        assert call["outcome"] in OUTCOMES and call["outcome"] != "not evaluated"
        if call["outcome"] == "no code":
            assert call["reject_reason"], "a rejected reply is recorded with its reason"
    assert not any("no model server" in n for n in summary["notes"])


def test_model_strategy_without_a_server_runs_the_operator_search(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    cfg = _config(tmp_path, provider="ollama", ollama_host=dead)
    runs = tmp_path / "runs"
    summary = port(PortOptions(library="blas", target="mi300x", kernels=["scal"], budget=2, strategy="refine",
                               run_id="no-model", runs_dir=str(runs), cache_dir=str(tmp_path / "cache")), config=cfg)
    assert any(f"no model server at {dead}" in n and "ollama serve" in n for n in summary["notes"]), summary["notes"]
    origins = {r["origin"] for r in _rows(runs, "SELECT origin FROM candidates WHERE run_id = 'no-model'")}
    # Operators and tunables carry on without a model; without a GPU the sweep points whose estimate
    # cannot beat the base are proposed but not run, and the run says so.
    search_end = summary["kernels"][0]["search_end"]
    assert origins & {"operator", "sweep"} or "cannot tell the sweep points from the base" in search_end, search_end
    assert summary["kernels"][0]["status"] in ("ported", "improved")
    assert _rows(runs, "SELECT * FROM model_calls WHERE run_id = 'no-model'") == []
