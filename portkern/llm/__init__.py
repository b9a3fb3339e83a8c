"""The model stage: providers (Ollama, OpenAI-compatible), a cached, retried, accounted client,
prompt templates, and reply checks.

Typical use by the pipeline::

    conn = connect(load_config(), run_id=run_id, recorder=recorder)
    ctx.llm = conn.client          # None when no server is reachable
    if conn.client is None:
        ctx.skipped.append(conn.skip_reason)
"""

from __future__ import annotations

from portkern.llm.cache import ResponseCache, cache_key
from portkern.llm.client import Answer, LLMClient, ReplyVerdict
from portkern.llm.connect import Connection, ProbeResult, connect, make_provider, no_server_message, probe
from portkern.llm.records import JsonlRecorder, MemoryRecorder, ModelCall, Recorder, Usage

__all__ = ["Answer", "Connection", "JsonlRecorder", "LLMClient", "MemoryRecorder", "ModelCall", "ProbeResult",
           "Recorder", "ReplyVerdict", "ResponseCache", "Usage", "cache_key", "connect", "make_provider",
           "no_server_message", "probe"]
