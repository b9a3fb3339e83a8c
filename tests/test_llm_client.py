"""The model client through the Ollama provider, against a stand-in speaking Ollama's wire format."""

from __future__ import annotations

import json
import time

import pytest
from llm_server import FakeOllamaServer, free_port

from portkern.errors import ModelError
from portkern.llm import (
    JsonlRecorder,
    LLMClient,
    MemoryRecorder,
    ResponseCache,
    connect,
    make_provider,
    no_server_message,
    probe,
)
from portkern.llm.replies import reply_checker

KERNEL = """#include <cuda_runtime.h>
template <typename T, int NB>
__global__ void scale_kernel(int n, T alpha, T* x) {
    int i = blockIdx.x * NB + threadIdx.x;
    if (i < n) x[i] *= alpha;
}
"""
GOOD_REPLY = f"Here is the kernel.\n```cuda\n{KERNEL}```\n"


def ollama_cfg(url: str, **over) -> dict:
    llm = {"provider": "ollama", "model": "qwen2.5-coder:7b", "ollama_host": url, "openai_base_url": "",
           "api_key": "", "timeout_s": 5.0, "retries": 2, "concurrency": 2, "temperature": 0.2, "seed": 7,
           "max_tokens": 256}
    llm.update(over)
    return {"llm": llm}


def client_for(url: str, tmp_path, recorder=None, **over) -> LLMClient:
    cfg = ollama_cfg(url, **over)["llm"]
    return LLMClient(make_provider(cfg), run_id="run-1", retries=cfg["retries"], backoff_s=0.01,
                     concurrency=cfg["concurrency"], temperature=cfg["temperature"], seed=cfg["seed"],
                     max_tokens=cfg["max_tokens"], cache=ResponseCache(tmp_path / "cache"), recorder=recorder)


def test_probe_reports_model_present_with_details():
    with FakeOllamaServer() as server:
        result = probe(ollama_cfg(server.url))
    assert result.reachable and result.model_present and result.ready
    assert result.details["parameter_size"] == "7.6B"
    assert ("GET", "/api/tags", {}) in server.requests
    assert any(path == "/api/show" and body["model"] == "qwen2.5-coder:7b" for _m, path, body in server.requests)


def test_probe_says_how_to_pull_a_missing_model():
    with FakeOllamaServer(models=["llama3:8b"]) as server:
        result = probe(ollama_cfg(server.url))
    assert result.reachable and not result.model_present
    assert "ollama pull qwen2.5-coder:7b" in result.message
    assert "llama3:8b" in result.message


def test_probe_without_server_gives_one_line_on_how_to_start_one():
    url = f"http://127.0.0.1:{free_port()}"
    result = probe(ollama_cfg(url))
    assert not result.reachable
    assert result.message == (f"skipped: no model server at {url}; start one with `ollama serve` and "
                              "`ollama pull qwen2.5-coder:7b`, or set llm.openai_base_url")
    assert "Failed to connect" in result.details["error"]
    assert "\n" not in result.message
    conn = connect(ollama_cfg(url))
    assert conn.client is None and conn.skip_reason == result.message
    assert no_server_message(ollama_cfg(url)) in result.message


def test_chat_sends_wire_format_and_accounts_tokens(tmp_path):
    recorder = MemoryRecorder()
    with FakeOllamaServer(reply=GOOD_REPLY) as server:
        client = client_for(server.url, tmp_path, recorder)
        check = reply_checker(symbol="scale_kernel", original=KERNEL, dialect="cuda")
        answer = client.ask("optimize", "make it fast", check=check, kernel="scale", candidate="scale/x-1")
    body = server.chat_bodies()[0]
    assert body["model"] == "qwen2.5-coder:7b" and body["stream"] is True      # streamed, so a limit can cut it
    assert body["messages"][-1] == {"role": "user", "content": "make it fast"}
    assert body["options"]["temperature"] == 0.2 and body["options"]["seed"] == 7
    assert body["options"]["num_predict"] == 256
    assert answer.accepted and answer.code == KERNEL
    call = recorder.calls[0]
    assert call.tokens_in > 0 and call.tokens_out > 0 and call.attempts == 1 and not call.cached
    assert call.params == {"temperature": 0.2, "seed": 7, "max_tokens": 256}
    assert call.kind == "optimize" and call.candidate == "scale/x-1" and call.run_id == "run-1"
    assert client.usage.calls == 1 and client.usage.tokens_out == call.tokens_out


def test_identical_call_is_served_from_the_cache(tmp_path):
    recorder = MemoryRecorder()
    with FakeOllamaServer(reply=["first", "second"]) as server:
        client = client_for(server.url, tmp_path, recorder)
        a = client.ask("ask", "same prompt")
        b = client.ask("ask", "same prompt")
        c = client.ask("ask", "same prompt", seed=8)        # a different seed is a different request
    assert server.chats == 2
    assert (a.call.reply, b.call.reply, c.call.reply) == ("first", "first", "second")
    assert [x.cached for x in recorder.calls] == [False, True, False]
    assert client.usage.cached_calls == 1
    # the cache is on disk: a new client (another run) hits it without the server
    other = client_for(f"http://127.0.0.1:{free_port()}", tmp_path)
    assert other.ask("ask", "same prompt").call.cached


def test_server_errors_are_retried_with_backoff(tmp_path):
    slept = []
    with FakeOllamaServer(reply="ok", fail_next=2) as server:
        client = client_for(server.url, tmp_path)
        client._sleep = slept.append
        answer = client.ask("ask", "hello")
    assert answer.call.reply == "ok" and answer.call.attempts == 3 and server.chats == 3
    assert slept == [0.01, 0.02]                         # exponential


def test_retries_exhausted_raise_and_are_recorded(tmp_path):
    recorder = MemoryRecorder()
    with FakeOllamaServer(reply="ok", fail_next=10) as server:
        client = client_for(server.url, tmp_path, recorder)
        with pytest.raises(ModelError, match="failed after 3 attempt"):
            client.ask("ask", "hello")
    assert server.chats == 3
    assert recorder.calls[0].error and not recorder.calls[0].accepted
    assert client.usage.failed_calls == 1


def test_unknown_model_is_not_retried_and_says_how_to_pull(tmp_path):
    with FakeOllamaServer(models=["other:1b"]) as server:
        client = client_for(server.url, tmp_path)
        with pytest.raises(ModelError) as err:
            client.ask("ask", "hello")
    assert server.chats == 1
    assert "ollama pull qwen2.5-coder:7b" in str(err.value)


def test_timeout_is_honoured(tmp_path):
    with FakeOllamaServer(reply="late", delay_s=3.0) as server:
        client = client_for(server.url, tmp_path, timeout_s=0.5, retries=1)
        started = time.monotonic()
        with pytest.raises(ModelError, match="Timeout"):
            client.ask("ask", "hello")
        elapsed = time.monotonic() - started
    assert server.chats == 2                             # the first try plus one retry
    assert elapsed < 2.5, f"two 0.5 s timeouts took {elapsed:.1f} s"


def test_concurrency_limit_bounds_requests_in_flight(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    state = {"now": 0, "peak": 0}
    import threading

    lock = threading.Lock()

    def reply(body):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.2)
        with lock:
            state["now"] -= 1
        return "ok"

    with FakeOllamaServer(reply=reply) as server:
        client = client_for(server.url, tmp_path, concurrency=2)
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda i: client.ask("ask", f"prompt {i}"), range(6)))
    assert server.chats == 6 and state["peak"] == 2


def test_rejected_reply_is_recorded_with_its_reason(tmp_path):
    path = tmp_path / "calls.jsonl"
    bad = "```cpp\n#include <cstdlib>\nint main() { system(\"rm -rf /\"); }\n```"
    with FakeOllamaServer(reply=bad) as server:
        client = client_for(server.url, tmp_path, JsonlRecorder(path))
        check = reply_checker(symbol="scale_kernel", original=KERNEL, dialect="cuda")
        answer = client.ask("repair-compile", "fix it", check=check)
    assert not answer.accepted and answer.code == ""
    saved = [json.loads(line) for line in path.read_text().splitlines()]
    assert saved[0]["accepted"] is False and "main" in saved[0]["reject_reason"]
    assert JsonlRecorder(path).read()[0].reply == bad
    assert client.usage.rejected_replies == 1


def test_openai_url_selects_the_openai_provider():
    cfg = ollama_cfg("http://127.0.0.1:1", openai_base_url="http://127.0.0.1:2/v1")
    provider = make_provider(cfg["llm"])
    assert provider.name == "openai" and provider.url == "http://127.0.0.1:2/v1"
    assert make_provider({**cfg["llm"], "provider": "none"}) is None


def test_cli_status_reports_provider_url_and_model(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from portkern.cli import cli

    monkeypatch.chdir(tmp_path)                         # no portkern.yaml here
    with FakeOllamaServer() as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        out = CliRunner().invoke(cli, ["llm", "status", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert (data["provider"], data["url"], data["model"]) == ("ollama", server.url, "qwen2.5-coder:7b")
    assert data["ready"] is True and data["model_present"] is True


def test_cli_ask_prints_the_reply(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from portkern.cli import cli

    monkeypatch.chdir(tmp_path)
    with FakeOllamaServer(reply="four") as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        monkeypatch.setenv("PORTKERN_CACHE_DIR", str(tmp_path / "cache"))
        out = CliRunner().invoke(cli, ["llm", "ask", "two plus two?", "--json"])
    assert out.exit_code == 0, out.output
    call = json.loads(out.output)
    assert call["reply"] == "four" and call["kind"] == "ask" and call["tokens_out"] >= 1
    assert server.chat_bodies()[0]["messages"] == [{"role": "user", "content": "two plus two?"}]


def test_a_missing_provider_package_means_no_model_not_a_failed_run(monkeypatch):
    """Without the provider's client package, connect() says why and the search goes on without a model."""
    import importlib

    from portkern.errors import ToolMissingError

    connect_mod = importlib.import_module("portkern.llm.connect")

    def missing(*_a, **_k):
        raise ToolMissingError("the `ollama` Python package", "the Ollama model provider", "pip install 'portkern[llm]'")

    monkeypatch.setattr(connect_mod, "make_provider", missing)
    conn = connect_mod.connect({"llm": {"provider": "ollama", "model": "m"}})
    assert conn.client is None
    assert "ollama" in conn.skip_reason and "pip install" in conn.skip_reason and "\n" not in conn.skip_reason
