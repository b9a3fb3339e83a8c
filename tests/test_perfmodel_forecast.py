"""The model server's time forecast (perfmodel.llm_forecast): read from the reply, asked by a port for
its predicted candidates, recorded as model calls of kind "forecast", and measured by `model eval`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from llm_server import SlowOpenAIStandIn

from portkern.perfmodel import forecast
from portkern.perfmodel.data import Row
from portkern.perfmodel.evaluate import evaluate


@pytest.mark.parametrize("reply,value", [
    ("TIME_MS: 0.052", 0.052),
    ("I think it takes\nTIME_MS = 1.5e-1 milliseconds", 0.15),
    ("TIME_MS: \uff10.\uff15", 0.5),              # full-width digits
    ("TIME_MS: 12", 12.0),
    ("about 3 ms", None),                           # no answer line
    ("TIME_MS: -1", None),
    ("TIME_MS: 0", None),
    ("TIME_MS: inf", None),
    ("", None),
])
def test_a_forecast_is_one_positive_number_on_its_own_line(reply, value):
    got = forecast.parse(reply)
    assert got == pytest.approx(value) if value is not None else got is None
    assert forecast.check(reply).accepted == (value is not None)


def test_the_prompt_carries_the_work_the_resources_and_the_estimate():
    from portkern.library import load_library
    from portkern.model import ResourceReport
    from portkern.targets import get_target

    lib = load_library("blas")
    k = lib.kernel("dot")
    text = forecast.prompt(k, get_target("mi300x"), {"n": 4096}, "float32", 0.0123,
                           ResourceReport(symbol="dot", registers=40, shared_bytes=1024, occupancy_fraction=0.5),
                           "x" * (forecast.SOURCE_CHARS + 500), 32768.0, 8192.0)
    assert "mi300x" in text and "wavefront 64" in text and "0.0123 ms" in text
    assert "40 registers" in text and "occupancy 0.50" in text and "3.277e+04 bytes" in text
    assert "TIME_MS: <milliseconds>" in text and "(cut)" in text


def _rows(with_forecast: bool) -> list[Row]:
    rng = np.random.default_rng(3)
    rows = []
    for fam in ("axpy", "dot", "gemv"):
        for g in range(2):
            for c in range(5):
                ms = float(1 + c + 0.1 * g)
                rows.append(Row(run_id="r", target="h200", device="gpu", date="", kernel=f"{fam}{g}", family=fam,
                                candidate_id=f"{fam}{g}/{c}", sizes={"n": 1}, dtype="float32", measured_ms=ms,
                                spread_ms=0.0,
                                features={"log_analytic_ms": float(np.log(ms) + rng.normal(0, 0.3))},
                                forecast_ms=(ms * (1 if c % 2 else 1.3) if with_forecast else 0.0)))
    return rows


def test_model_eval_measures_the_forecasts_beside_the_model():
    ev = evaluate(_rows(True))
    assert ev.forecast_groups == 6
    assert 0.5 < ev.forecast_median_spearman <= 1.0
    assert not np.isnan(ev.model_median_spearman_same_groups)
    assert any(line.startswith("model-server forecast: median Spearman rho") for line in ev.lines())
    none = evaluate(_rows(False))
    assert none.forecast_groups == 0
    assert any("none in these rows" in line for line in none.lines())


@pytest.mark.slow
def test_a_port_asks_for_forecasts_records_them_and_keeps_them_with_the_predictions(tmp_path):
    from portkern.config import load_config
    from portkern.pipeline.run import PortOptions, port

    def reply(body):
        prompt = body["messages"][-1]["content"]
        assert prompt.startswith("Forecast the GPU time")
        return "TIME_MS: 0.25" if "'scal'" in prompt else "no idea"

    with SlowOpenAIStandIn(reply, honour_max_tokens=True) as server:
        cfg_file = tmp_path / "portkern.yaml"
        cfg_file.write_text(json.dumps({"llm": {"provider": "openai", "openai_base_url": server.url,
                                                "model": "stand-in", "call_seconds": 10.0, "retries": 0},
                                        "perfmodel": {"llm_forecast": True, "llm_forecast_max_calls": 3},
                                        "cache_dir": str(tmp_path / "cache")}))
        runs = tmp_path / "runs"
        summary = port(PortOptions(library="blas", target="mi300x", kernels=["scal", "copy"], budget=2,
                                   strategy="sweep", run_id="fc", runs_dir=str(runs), cache_dir=str(tmp_path / "cache")),
                       config=load_config(cfg_file, environ={}))
        asked = len(server.chat_bodies)
    calls = summary["model"]["list"]
    # Bounded by llm_forecast_max_calls; a prompt asked before is answered from the response cache.
    assert 1 <= asked <= len(calls) <= 3
    assert sum(1 for c in calls if not c["cached"]) == asked
    assert all(c["kind"] == "forecast" for c in calls)
    assert {c["outcome"] for c in calls} <= {"forecast", "no forecast"}
    kept = []
    for kernel in ("scal", "copy"):
        path = runs / "fc" / "results" / kernel / "evaluations.json"
        kept += [ev["prediction"].get("forecast_ms") for ev in json.loads(path.read_text())
                 if ev.get("prediction")]
    by_outcome = [c for c in calls if c["outcome"] == "forecast"]
    assert sum(1 for v in kept if v == 0.25) == len(by_outcome)
    assert all(v in (None, 0.25) for v in kept)
    con = sqlite3.connect(runs / "index.sqlite")
    stored = con.execute("SELECT outcome FROM model_calls WHERE run_id = 'fc'").fetchall()
    con.close()
    assert sorted(r[0] for r in stored) == sorted(c["outcome"] for c in calls)
    assert Path(runs / "fc" / "emit" / "report.md").read_text().count("| forecast |") >= 1
