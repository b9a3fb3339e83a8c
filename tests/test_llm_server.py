"""The OpenAI-compatible path against a REAL server on loopback: llama-cpp-python's server with the tiny
gemma3-270m model. The model is weak, so these tests check mechanics, not kernel quality."""

from __future__ import annotations

import pytest
from llm_server import LLAMA_MODEL_ALIAS, LlamaCppServer, gemma_model_path, llama_server_missing

from portkern.errors import ModelError
from portkern.llm import LLMClient, MemoryRecorder, ResponseCache, connect, make_provider, probe
from portkern.llm.replies import reply_checker
from portkern.search import get_strategy

pytestmark = pytest.mark.llmserver

KERNEL = """#include <cuda_runtime.h>
__global__ void scale_kernel(int n, float alpha, float* x)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= alpha;
}
"""


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    missing = llama_server_missing()
    if missing:
        pytest.skip(missing)
    folder = tmp_path_factory.mktemp("llama-server")
    server = LlamaCppServer(gemma_model_path(folder), log=folder / "server.log").start()
    yield server
    server.stop()


def settings(server: LlamaCppServer, **over) -> dict:
    llm = {"provider": "openai", "openai_base_url": server.url, "model": LLAMA_MODEL_ALIAS, "api_key": "",
           "timeout_s": 120.0, "retries": 1, "concurrency": 1, "temperature": 0.0, "seed": 11, "max_tokens": 24}
    llm.update(over)
    return {"llm": llm}


def client(server, tmp_path, recorder=None, **over) -> LLMClient:
    llm = settings(server, **over)["llm"]
    return LLMClient(make_provider(llm), run_id="llama", retries=llm["retries"], backoff_s=0.05,
                     temperature=llm["temperature"], seed=llm["seed"], max_tokens=llm["max_tokens"],
                     cache=ResponseCache(tmp_path / "cache"), recorder=recorder)


def test_probe_finds_the_served_model(llama_server):
    result = probe(settings(llama_server))
    assert result.reachable and result.model_present and LLAMA_MODEL_ALIAS in result.models
    missing = probe(settings(llama_server, model="qwen2.5-coder:7b"))
    assert missing.reachable and not missing.model_present and LLAMA_MODEL_ALIAS in missing.message


def test_chat_is_accounted_recorded_and_cached(llama_server, tmp_path):
    recorder = MemoryRecorder()
    c = client(llama_server, tmp_path, recorder)
    first = c.ask("ask", "Name one GPU vendor.")
    second = c.ask("ask", "Name one GPU vendor.")
    call = first.call
    assert call.error == "" and call.attempts == 1 and not call.cached
    # llama.cpp's server reports no usage in a stream: the prompt's tokens are unknown (0), the reply's counted
    assert call.tokens_in == 0 and 0 < call.tokens_out <= 24 and call.seconds > 0
    assert call.cut == ""                  # the server stopped at the max_tokens it was sent: not cut
    assert call.params == {"temperature": 0.0, "seed": 11, "max_tokens": 24}
    assert second.call.cached and second.call.reply == call.reply and second.call.attempts == 0
    assert c.usage.calls == 2 and c.usage.cached_calls == 1 and c.usage.tokens_out == call.tokens_out
    assert [x.call_id for x in recorder.calls] == [call.call_id, second.call.call_id]


def test_same_seed_and_greedy_sampling_reproduce_the_reply(llama_server, tmp_path):
    c = client(llama_server, tmp_path)
    a = c.ask("ask", "Count from one to five.", use_cache=False)
    b = c.ask("ask", "Count from one to five.", use_cache=False)
    assert not b.call.cached and a.call.reply == b.call.reply


def test_kernel_reply_is_parsed_and_judged(llama_server, tmp_path):
    recorder = MemoryRecorder()
    c = client(llama_server, tmp_path, recorder, max_tokens=96)
    check = reply_checker(symbol="scale_kernel", original=KERNEL, dialect="cuda")
    prompt = ("Rewrite this CUDA kernel to use a grid-stride loop. Reply with one ```cpp code block.\n"
              f"```cpp\n{KERNEL}```")
    answer = c.ask("optimize", prompt, check=check)
    call = recorder.calls[0]
    assert call.reply and call.kind == "optimize"
    # whatever the tiny model wrote, the verdict is explicit: accepted with code, or rejected with a reason
    assert call.accepted == (call.reject_reason == "")
    assert bool(answer.code) == call.accepted
    assert check(call.reply) == check(call.reply)


def test_connect_builds_a_client_for_a_reachable_server(llama_server, tmp_path):
    cfg = {**settings(llama_server), "cache_dir": str(tmp_path / "cache")}
    conn = connect(cfg, run_id="r")
    assert conn.client is not None and conn.skip_reason == ""
    assert conn.client.cache is not None and conn.client.system_prompt.startswith("You are an expert GPU kernel")


def test_timeout_is_honoured_against_the_real_server(llama_server, tmp_path):
    c = client(llama_server, tmp_path, timeout_s=0.01, retries=1, max_tokens=4)
    with pytest.raises(ModelError, match="failed after 2 attempt") as err:
        c.ask("ask", "Write a long story about GPUs.")
    assert "Timeout" in str(err.value)
    assert c.usage.failed_calls == 1


def test_refine_drives_the_real_model_and_records_every_call(llama_server, tmp_path):
    from test_search import context, drive

    recorder = MemoryRecorder()
    ctx = context(llm=client(llama_server, tmp_path, recorder, max_tokens=64), budget={"max_model_calls": 2})
    drive(get_strategy("refine"), ctx)
    assert [c.kind for c in recorder.calls] == ["optimize", "optimize"]
    assert all(c.accepted == (c.reject_reason == "") and c.tokens_out > 0 for c in recorder.calls)
    assert "Make this correct HIP kernel unit faster" in recorder.calls[0].prompt
    assert recorder.calls[0].params["seed"] != recorder.calls[1].params["seed"]
    assert any("model-call budget spent (2/2)" in n for n in ctx.notes)


def test_a_forecast_from_the_real_model_is_recorded_and_read_only_from_its_answer_line(llama_server, tmp_path):
    from portkern.library import load_library
    from portkern.perfmodel import forecast
    from portkern.search.base import Candidate, Evaluation
    from portkern.targets import get_target

    recorder = MemoryRecorder()
    c = client(llama_server, tmp_path, recorder, max_tokens=forecast.MAX_TOKENS)
    lib = load_library("blas")
    kernel = lib.kernel("scal")
    ev = Evaluation(candidate=Candidate(id="scal/original-0", kernel="scal", source=KERNEL, origin="original"), compiled=True,
                    prediction={"ms": 0.05, "sizes": {"n": 1 << 20, "incx": 1}, "dtype": "float32"})
    value = forecast.ask(c, kernel, get_target("mi300x"), ev)
    call = recorder.calls[-1]
    assert call.kind == "forecast" and call.candidate == "scal/original-0" and call.reply
    assert "TIME_MS: <milliseconds>" in call.prompt
    # whatever the tiny model wrote: a forecast only when the reply holds the answer line
    assert value == forecast.parse(call.reply) and call.accepted == (value is not None)
