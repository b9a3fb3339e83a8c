"""The content store behind every cache, and `portkern cache info` / `portkern cache prune`."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from portkern import cache, fsio
from portkern.cache import ContentStore
from portkern.cli import main
from portkern.compile.cache import CompileCache
from portkern.errors import ConfigError
from portkern.ingest.build import FileCache
from portkern.llm.cache import ResponseCache, cache_key
from portkern.model import CompileOptions, CompileResult
from portkern.pipeline.cache import StageCache, stage_key

KEY = "ab" + "12" * 31


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_entries_are_atomic_files_that_follow_the_umask(tmp_path):
    store = ContentStore(tmp_path / "stages")
    path = store.put_json(KEY, {"b": 2, "a": 1})
    assert path == tmp_path / "stages" / "ab" / f"{KEY}.json"
    assert json.loads(path.read_text()) == {"a": 1, "b": 2}
    assert _mode(path) == 0o666 & ~fsio.current_umask()  # mkstemp alone would give 0600
    assert store.get_json(KEY) == {"a": 1, "b": 2}
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    path.write_text('{"a": ')                                     # damaged by hand: a miss, not an error
    assert store.get_json(KEY) is None
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


def test_a_hit_refreshes_the_entry_time(tmp_path):
    store = ContentStore(tmp_path)
    path = store.put_bytes(KEY, b"x", ".so")
    old = time.time() - 30 * 86400
    os.utime(path, (old, old))
    assert store.get_bytes(KEY, ".so") == b"x"
    assert path.stat().st_mtime > old + 86400


def test_every_cache_writes_through_the_store(tmp_path, monkeypatch):
    """Each cache kind lands in <cache_dir>/<kind>/<key[:2]>/ with the umask's mode."""
    monkeypatch.setenv("PORTKERN_CACHE_DIR", str(tmp_path))
    want = 0o666 & ~fsio.current_umask()

    stage = StageCache(tmp_path)
    skey = stage_key("compile", 1, {"source": "x"}, {})
    stage.put(skey, {"status": "ok"})
    assert stage.get(skey) == {"status": "ok"}

    compiled = CompileCache()  # default folder: <cache_dir>/compile
    result = CompileResult(backend="hip", target="mi300x", arch="gfx942", code_type="hsaco", binary=b"\x7fELF",
                           entry_symbols=["k"], entry_map={}, resources={}, log="", compiler="clang 19",
                           options=CompileOptions(), cache_key=KEY)
    compiled.put(KEY, result)
    assert compiled.get(KEY).binary == b"\x7fELF" and compiled.get(KEY).cached

    replies = ResponseCache(tmp_path / "llm")
    rkey = cache_key("ollama", "m", [{"role": "user", "content": "hi"}], {"seed": 1})
    replies.put(rkey, {"reply": "hello"})
    assert replies.get(rkey) == {"reply": "hello"}

    parsed = FileCache(tmp_path / "ingest")
    parsed.put("scan-1-deadbeef-file.cpp", {"kernels": ["k"]})
    assert FileCache(tmp_path / "ingest").get("scan-1-deadbeef-file.cpp") == {"kernels": ["k"]}

    from portkern.backends.emu import cache as emu_cache

    emu_cache.store(KEY[:40], b"\x7fELF-so", {"log": ""})
    assert emu_cache.lookup(KEY[:40]) == (b"\x7fELF-so", {"log": ""})

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.relative_to(tmp_path).parts[0] for p in files} == {"stages", "compile", "llm", "ingest", "emu"}
    for p in files:
        assert not p.name.startswith("."), f"temporary file left: {p}"
        assert p.parent.name == p.name[:2], p
        assert _mode(p) == want, p
    counts = {k.kind: k.entries for k in cache.info(tmp_path)}
    assert counts == {"stages": 1, "compile": 1, "emu": 1, "llm": 1, "ingest": 1}


def _age(path, days: float) -> None:
    t = time.time() - days * 86400
    os.utime(path, (t, t))


def test_info_and_prune_by_age(tmp_path):
    store = ContentStore.of("emu", tmp_path)
    old_key, new_key = "aa" * 20, "bb" * 20
    for key in (old_key, new_key):
        store.put_bytes(key, b"0123456789", ".so")
        store.put_json(key, {"log": ""})
    for suffix in (".so", ".json"):
        _age(store.path(old_key, suffix), 10)
    torn = store.folder / "cc" / ".cc.json.x1.tmp"       # left by a killed writer
    torn.parent.mkdir()
    torn.write_text("{")
    _age(torn, 10)
    foreign = store.folder / "README"                    # not ours: never removed
    foreign.write_text("notes")
    _age(foreign, 10)

    before = {k.kind: k for k in cache.info(tmp_path)}
    assert before["emu"].entries == 3 and before["stages"].entries == 0  # the two keys and the README
    assert before["emu"].oldest < time.time() - 9 * 86400 < before["emu"].newest

    removed = {r.kind: r for r in cache.prune(cache.parse_duration("7d"), tmp_path)}
    assert removed["emu"].entries == 1 and removed["emu"].bytes > 10
    assert not store.path(old_key, ".so").exists() and not store.path(old_key, ".json").exists()
    assert store.get_bytes(new_key, ".so") == b"0123456789"
    assert not torn.exists() and not torn.parent.exists() and foreign.exists()
    assert not (store.folder / "aa").exists()               # emptied fan-out folders go too


def test_parse_duration():
    assert cache.parse_duration("7d") == 7 * 86400
    assert cache.parse_duration("12h") == 12 * 3600
    assert cache.parse_duration("90s") == 90 and cache.parse_duration("1.5m") == 90
    for bad in ("", "7", "d", "7 days", "-1d"):
        with pytest.raises(ConfigError):
            cache.parse_duration(bad)


def test_cache_cli_info_and_prune(tmp_path, capsys):
    stage = StageCache(tmp_path)
    keys = [stage_key("s", 1, {"x": i}, {}) for i in range(3)]
    for k in keys:
        stage.put(k, {"status": "ok"})
    _age(stage.path(keys[0]), 2)

    assert main(["cache", "info", "--cache-dir", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    kinds = {k["kind"]: k for k in data["kinds"]}
    assert kinds["stages"]["entries"] == 3 and kinds["stages"]["bytes"] > 0
    assert kinds["stages"]["oldest"] < kinds["stages"]["newest"]
    assert kinds["compile"]["entries"] == 0 and kinds["compile"]["oldest"] is None

    assert main(["cache", "prune", "--older-than", "1d", "--cache-dir", str(tmp_path)]) == 0
    assert "removed 1 entry" in capsys.readouterr().out
    assert stage.get(keys[0]) is None and stage.get(keys[1]) == {"status": "ok"}

    assert main(["cache", "prune", "--older-than", "soon", "--cache-dir", str(tmp_path)]) == 3  # input error
    assert "'soon' is not a duration" in capsys.readouterr().err
    assert main(["cache", "info", "--cache-dir", str(tmp_path)]) == 0
    assert "stages" in capsys.readouterr().out
