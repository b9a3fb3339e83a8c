"""The sandboxed worker: no commands, no new processes, no network, no inherited secrets, limits set,
and a reply the candidate forges is parsed as data, never executed."""

from __future__ import annotations

import os
import pickle
import resource
import socket
import subprocess
import sys

import numpy as np
import pytest

from portkern import sandbox
from portkern.errors import WorkerCrashError
from portkern.model import CaseResult
from portkern.worker import ProtocolError, decode_reply, encode_reply, run_in_worker

FILTER_ON, FILTER_NOTE = sandbox.syscall_filter_available()
needs_filter = pytest.mark.skipif(not FILTER_ON, reason=f"no syscall filter here: {FILTER_NOTE}")


def run_shell(marker: str) -> int:
    return os.system(f"touch {marker}")


def spawn_process(marker: str) -> str:
    try:
        subprocess.run(["/bin/sh", "-c", f"touch {marker}"], check=False)
    except OSError as exc:
        return f"refused: {exc.errno}"
    return "ran"


def fork_child() -> str:
    try:
        pid = os.fork()
    except OSError as exc:
        return f"refused: {exc.errno}"
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return "forked"


def kill_parent(pid: int) -> str:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return f"refused: {exc.errno}"
    return "reached"


def open_socket() -> str:
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    except OSError as exc:
        return f"refused: {exc.errno}"
    try:
        s.settimeout(2)
        s.connect(("1.1.1.1", 80))
    except OSError as exc:
        return f"no route: {exc.errno}"
    finally:
        s.close()
    return "connected"


def environment_and_place() -> dict:
    return {"env": dict(os.environ), "cwd": os.getcwd(),
            "fsize": resource.getrlimit(resource.RLIMIT_FSIZE)[0],
            "cpu": resource.getrlimit(resource.RLIMIT_CPU)[0],
            "as": resource.getrlimit(resource.RLIMIT_AS)[0],
            "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0]}


def thread_sum() -> int:
    import threading

    out = []
    threads = [threading.Thread(target=out.append, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(out)


class _RunsOnUnpickle:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def forge_pickled_reply(marker: str) -> str:
    """Write a reply frame of our own (a pickle that runs a command) before the real one."""
    import struct

    payload = pickle.dumps(("ok", _RunsOnUnpickle(marker)))
    os.write(int(sys.argv[2]), struct.pack("<Q", len(payload)) + payload)
    return "done"


@needs_filter
def test_a_command_run_in_the_worker_runs_nothing(tmp_path):
    marker = tmp_path / "marker"
    assert run_in_worker(run_shell, str(marker), timeout_s=60, label="shell") != 0
    assert run_in_worker(spawn_process, str(marker), timeout_s=60, label="spawn").startswith("refused")
    assert run_in_worker(fork_child, timeout_s=60, label="fork").startswith("refused")
    assert not marker.exists()


@needs_filter
def test_threads_still_work_and_other_processes_cannot_be_signalled():
    assert run_in_worker(thread_sum, timeout_s=60, label="threads") == sum(range(8))
    assert run_in_worker(kill_parent, os.getpid(), timeout_s=60, label="kill").startswith("refused")


def test_no_network():
    if not FILTER_ON and not sandbox.network_namespace_prefix():
        pytest.skip("neither a network namespace nor a syscall filter is available here")
    result = run_in_worker(open_socket, timeout_s=60, label="net")
    assert result != "connected"


def test_environment_is_scrubbed_and_cwd_is_private(monkeypatch):
    monkeypatch.setenv("PORTKERN_TEST_SECRET_TOKEN", "s3cret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cret")
    seen = run_in_worker(environment_and_place, timeout_s=60, label="env", limit_memory=True)
    assert "s3cret" not in repr(seen["env"])
    assert seen["env"]["HOME"] == seen["cwd"] == seen["env"]["TMPDIR"]
    assert os.path.basename(seen["cwd"]).startswith("portkern-sandbox-")
    assert not os.path.exists(seen["cwd"])            # removed with the worker
    assert seen["fsize"] == 256 << 20
    assert seen["cpu"] > 0 and seen["as"] > 0 and seen["nproc"] > 0


def test_a_forged_pickle_reply_is_never_unpickled(tmp_path):
    marker = tmp_path / "forged"
    with pytest.raises(WorkerCrashError, match="protocol"):
        run_in_worker(forge_pickled_reply, str(marker), timeout_s=60, label="forge")
    assert not marker.exists()


def test_reply_codec_round_trip_and_rejections():
    value = {"a": [1, 2.5, "x", None], "arr": np.arange(6, dtype=np.float32).reshape(2, 3),
             "rec": CaseResult(sizes={"n": 3}, dtype="float32", seed=1, passed=True)}
    parts = encode_reply("ok", value)
    status, back = decode_reply(b"".join(bytes(p) for p in parts))
    assert status == "ok" and back["a"] == [1, 2.5, "x", None]
    assert back["arr"].dtype == np.float32 and back["arr"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert isinstance(back["rec"], CaseResult) and back["rec"].sizes == {"n": 3}
    bad = [b"", b"\x05\x00\x00\x00{}", b"\x02\x00\x00\x00{}",
           b"\x2c\x00\x00\x00" + b'{"status":"ok","value":{"__record__":"os"},"blobs":[]}'[:44]]
    header = b'{"status":"ok","value":{"__array__":0,"dtype":"O","shape":[1]},"blobs":[8]}'
    bad.append(len(header).to_bytes(4, "little") + header + b"\0" * 8)
    for payload in bad:
        with pytest.raises(ProtocolError):
            decode_reply(payload)


def test_isolation_report_names_every_layer():
    lines = sandbox.isolation_report().lines()
    assert any(line.startswith("no network") for line in lines)
    assert any(line.startswith("syscall filter") for line in lines)


def test_the_emulator_compiler_runs_under_a_memory_limit(monkeypatch):
    from portkern.backends import get

    from portkern.errors import CompileError
    from portkern.model import CompileOptions

    emu = get("emu")
    if not emu.available().ok:
        pytest.skip("no host C++ compiler")
    source = f"__global__ void fill(float* x) {{ x[threadIdx.x] = 1.0f; }}\n// limit probe {os.getpid()}\n"
    monkeypatch.setenv("PORTKERN_COMPILE_MEMORY_BYTES", str(48 << 20))   # far below what cc1plus needs
    monkeypatch.setenv("PORTKERN_CACHE_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"), f"pk-limit-{os.getpid()}"))
    with pytest.raises(CompileError):
        emu.compile(source, None, CompileOptions(entries=["fill"]), name="limit_probe")
    monkeypatch.delenv("PORTKERN_COMPILE_MEMORY_BYTES")
    assert emu.compile(source, None, CompileOptions(entries=["fill"]), name="limit_probe").binary
