"""Stage cache: keys, refusal to key what has no content, atomic entries."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from portkern.errors import StoreError
from portkern.model import CompileOptions, Target
from portkern.pipeline.cache import StageCache, content_hash, stage_key
from portkern.targets import get_target


def test_key_changes_with_each_part():
    base = stage_key("compile", 1, {"source": "a", "params": {"NB": 256}}, {"compile": "nvcc 13.0"})
    assert base == stage_key("compile", 1, {"params": {"NB": 256}, "source": "a"}, {"compile": "nvcc 13.0"})
    assert base != stage_key("compile", 2, {"source": "a", "params": {"NB": 256}}, {"compile": "nvcc 13.0"})
    assert base != stage_key("validate", 1, {"source": "a", "params": {"NB": 256}}, {"compile": "nvcc 13.0"})
    assert base != stage_key("compile", 1, {"source": "b", "params": {"NB": 256}}, {"compile": "nvcc 13.0"})
    assert base != stage_key("compile", 1, {"source": "a", "params": {"NB": 128}}, {"compile": "nvcc 13.0"})
    assert base != stage_key("compile", 1, {"source": "a", "params": {"NB": 256}}, {"compile": "nvcc 13.1"})


def test_records_arrays_and_bytes_hash_by_content():
    # A target rebuilt from its JSON is another object with the same content.
    t1 = get_target("mi300x")
    t2 = Target.from_dict(json.loads(t1.to_json()))
    assert t2 is not t1 and content_hash(t1) == content_hash(t2)
    assert content_hash(t1) != content_hash(get_target("h100"))
    assert isinstance(t1, Target)
    assert content_hash(CompileOptions(entries=["k<float>"])) != content_hash(CompileOptions(entries=["k<double>"]))
    a = np.arange(10, dtype=np.float32)
    assert content_hash(a) == content_hash(a.copy())
    assert content_hash(a) != content_hash(a.astype(np.float64))
    assert content_hash(b"\x00\x01") != content_hash(b"\x00\x02")
    # Bytes hash the same raw or as portkern.model's JSON encoding of them (fresh vs cached results).
    assert content_hash({"binary": b"\x00\x01"}) == content_hash({"binary": {"__bytes__": "AAE="}})
    # A tuple and a list with the same items are the same JSON value.
    assert content_hash([1, 2]) == content_hash((1, 2))
    assert content_hash([1, 2]) != content_hash([2, 1])


def test_cosmetic_fields_do_not_change_the_key():
    a = {"binary": {"__bytes__": "AAE="}, "compile_seconds": 1.5, "cached": False}
    b = {"binary": {"__bytes__": "AAE="}, "compile_seconds": 9.0, "cached": True}
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash({**a, "binary": {"__bytes__": "AAI="}})


@pytest.mark.parametrize("bad", [lambda: 1, object(), threading.Lock(), {1.5: "float key"}])
def test_unkeyable_inputs_are_refused(bad):
    with pytest.raises(StoreError) as info:
        stage_key("compile", 1, {"source": "x", "thing": bad}, {})
    assert "compile input 'thing'" in str(info.value)


def test_get_put_counters_and_atomic_files(tmp_path):
    cache = StageCache(tmp_path)
    key = stage_key("s", 1, {"x": 1}, {})
    assert cache.get(key) is None
    cache.put(key, {"status": "ok", "payload": {"v": 3}})
    assert cache.get(key) == {"status": "ok", "payload": {"v": 3}}
    assert (cache.counters.hits, cache.counters.misses, cache.counters.writes) == (1, 1, 1)
    entry = cache.path(key)
    assert entry.parent.name == key[:2]
    # Nothing but the entry itself is left in its folder: the temporary file was renamed.
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]


def test_torn_entry_counts_as_a_miss(tmp_path):
    cache = StageCache(tmp_path)
    key = "ab" + "0" * 62
    cache.path(key).parent.mkdir(parents=True)
    cache.path(key).write_text('{"status": "ok", "payl')
    assert cache.get(key) is None
