"""The shared device session's bookkeeping, driven through a stand-in driver (no GPU here).

``FakeDriverApi`` implements the DriverApi calls with host bookkeeping only: no kernel runs and no
device memory exists. What is checked is what the session asks of the driver: adaptive trial
batches with rotation, and what a session gives back when a worker that stays closes it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from portkern.errors import ConfigError, LaunchError, LoadError
from portkern.harness.bench import l2_flush_mode
from portkern.harness.inputs import make_case
from portkern.harness.runners import device
from portkern.harness.runners.device import DeviceSession, DriverApi
from portkern.harness.timing import TrialPlan
from portkern.library import load_library
from portkern.model import CompileOptions, CompileResult
from portkern.targets import get_target

ADVERSARIAL = Path(__file__).parent / "adversarial"


class FakeDriverModule:
    """Functions named like a vendor binding's; each records its call and answers (error, value...)."""

    def __init__(self, times_ms: list[float]):
        self.calls: list[tuple[str, tuple]] = []
        self.times_ms = list(times_ms)
        self.sticky = 0                      # a nonzero code: every later call fails with it

    def __getattr__(self, name: str):
        def fn(*args):
            self.calls.append((name, args))
            if self.sticky and name != "fake_alloc":
                return (self.sticky,)
            if name == "fake_event_elapsed":
                return (0, self.times_ms.pop(0))
            if name in ("fake_module_load", "fake_get_function"):
                return (0, f"{name}-handle")
            return (0,)
        return fn

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]


class FakeDriverApi(DriverApi):
    vendor = "fake"
    NAMES = {op: f"fake_{op}" for op in ("free", "h2d_async", "d2h_async", "memset_d8_async", "d2d_async", "stream_sync",
                                         "event_record", "event_destroy", "ctx_sync", "stream_destroy",
                                         "module_unload")}
    NAMES.update(module_load_data="fake_module_load", module_get_function="fake_get_function",
                 event_elapsed="fake_event_elapsed")

    def __init__(self, times_ms: list[float] | None = None):
        super().__init__(FakeDriverModule(times_ms or []))
        self.next_address = 0x1000
        self.launches = 0
        self.events = 0

    def init(self, device_index: int) -> None: ...

    def device_name(self) -> str:
        return "fake device"

    def alloc(self, nbytes: int) -> int:
        self.next_address += max(nbytes, 256)
        return self.next_address

    def stream_create(self):
        return "stream"

    def event_create(self):
        self.events += 1
        return f"event-{self.events}"

    def launch(self, fn, grid, block, shared_bytes, stream, params_address) -> None:
        self.launches += 1

    def allow_dynamic_shared(self, fn, nbytes) -> None: ...


def _compiled() -> CompileResult:
    return CompileResult(backend="fake", target="h200", arch="sm_90", code_type="cubin", binary=b"\x7fELF",
                         entry_symbols=[], entry_map={}, resources={}, log="", compiler="",
                         options=CompileOptions(), cache_key="")


def _session(times_ms):
    api = FakeDriverApi(times_ms)
    return api, DeviceSession(api, _compiled(), get_target("h200"))


def _slots(session, rotate=3):
    kernel = load_library(ADVERSARIAL).kernel("honest_axpby")
    pool = []
    for seed in range(rotate + 1):
        case = make_case(kernel, {"n": 300}, "float32", seed, reference_view=False)
        pool.append((case, session.upload(case, case.host_buffers())))
    work = [(pool[0][0], session.upload(pool[0][0], pool[0][0].host_buffers())) for _ in range(rotate)]
    return work, pool


def test_adaptive_trials_run_in_batches_and_rotate_inputs_and_addresses():
    times = [1.0 + 0.2 * (i % 2) for i in range(10)] + [1.0] * 100     # noisy first batch, then steady
    api, session = _session(times)
    work, pool = _slots(session)
    got, last = session.time_trials(work, pool, trials=200, warmup=2, flush_bytes=1 << 20,
                                    plan=TrialPlan(min_trials=10, max_trials=200, fraction=0.02))
    assert 10 < len(got) < 200 and got == times[:len(got)]
    assert api.launches == 2 + len(got)                                     # warm-up plus one per trial
    # Slot w's last trial is the last t with t % 3 == w; its pool entry is t % 4.
    n = len(got)
    assert last == [max(t for t in range(n) if t % 3 == w) % 4 for w in range(3)]
    # One synchronisation per batch, and every event destroyed.
    assert api.mod.names().count("fake_stream_sync") >= 2
    assert api.mod.names().count("fake_event_destroy") == 2 * n


def test_without_a_plan_the_trial_count_is_fixed():
    api, session = _session([1.0] * 30)
    work, pool = _slots(session)
    before = api.mod.names().count("fake_stream_sync")       # each upload waits for its copies
    got, _ = session.time_trials(work, pool, trials=30, warmup=0, flush_bytes=1 << 20)
    assert len(got) == 30 and api.mod.names().count("fake_stream_sync") - before == 1


def test_host_copies_are_ordered_on_the_harness_stream_and_waited_for():
    """A pageable copy on the default stream may land after a kernel launched on the (non-blocking)
    harness stream: every host copy goes on that stream and is waited for before the next step."""
    api, session = _session([])
    kernel = load_library(ADVERSARIAL).kernel("honest_axpby")
    case = make_case(kernel, {"n": 300}, "float32", 1, reference_view=False)
    dev = session.upload(case, case.host_buffers())
    session.download(case, dev)
    calls = api.mod.calls
    copies = [i for i, (name, _) in enumerate(calls) if name in ("fake_h2d_async", "fake_d2h_async")]
    assert len(copies) == 2 * len(case.arrays)
    for i in copies:
        assert calls[i][1][-1] == session.stream and calls[i + 1] == ("fake_stream_sync", (session.stream,))


def test_closing_a_session_gives_back_its_module_stream_and_flush_buffer():
    api, session = _session([])
    session.flush_buffer(1 << 20)
    session.close()
    names = api.mod.names()
    assert {"fake_free", "fake_stream_destroy", "fake_module_unload"} <= set(names)


def test_a_broken_context_does_not_stop_a_close_and_the_device_check_reports_it(monkeypatch):
    api, session = _session([])
    session.flush_buffer(1 << 20)
    api.mod.sticky = 700                                                  # an illegal address, say
    session.close()                                                       # no exception
    assert api.mod.names()[-3:] == ["fake_free", "fake_stream_destroy", "fake_module_unload"]
    monkeypatch.setattr(device, "_drivers", {FakeDriverApi: api})
    assert "fake_ctx_sync failed" in device.device_health() and "700" in device.device_health()
    api.mod.sticky = 0
    assert device.device_health() == ""
    with pytest.raises(LaunchError):
        api.mod.sticky = 700
        api.synchronize()


class SweepingDriverApi(FakeDriverApi):
    L2_SWEEP = b"sweep module\0"


class RefusingDriverApi(SweepingDriverApi):
    def module_load(self, binary: bytes):
        if binary == self.L2_SWEEP:
            raise LoadError("the device rejected the binary: fake refusal")
        return super().module_load(binary)


@pytest.mark.parametrize("api_class, how", [(FakeDriverApi, "write"), (SweepingDriverApi, "read"),
                                            (RefusingDriverApi, "write")])
def test_the_cache_is_emptied_by_a_read_sweep_where_the_driver_has_one(api_class, how):
    """A write (memset) as the flush leaves the cache full of dirty lines that the timed call then
    writes back; a driver with a sweep kernel reads twice the cache instead, one launch per trial.
    A driver that refuses the sweep module falls back to the write, and says so."""
    api = api_class([1.0] * 12)
    session = DeviceSession(api, _compiled(), get_target("h200"))
    work, pool = _slots(session)
    memsets = api.mod.names().count("fake_memset_d8_async")
    got, _ = session.time_trials(work, pool, trials=12, warmup=1, flush_bytes=1 << 20)
    assert len(got) == 12 and session.flushed == how
    loaded = [args[0] for name, args in api.mod.calls if name == "fake_module_load"]
    if how == "read":
        # one launch of the sweep before each trial's kernel; the sweep module loaded once, no memset
        assert api.launches == 1 + 2 * 12 and loaded.count(api.L2_SWEEP) == 1
        assert api.mod.names().count("fake_memset_d8_async") == memsets
    else:
        assert api.launches == 1 + 12
        assert api.mod.names().count("fake_memset_d8_async") - memsets == 12


def test_the_write_flush_stays_available_by_configuration(monkeypatch):
    api = SweepingDriverApi([1.0] * 4)
    session = DeviceSession(api, _compiled(), get_target("h200"))
    work, pool = _slots(session)
    session.time_trials(work, pool, trials=4, warmup=0, flush_bytes=1 << 20, flush="write")
    assert session.flushed == "write" and api.launches == 4
    monkeypatch.setenv("PORTKERN_BENCH_L2_FLUSH", "write")
    assert l2_flush_mode() == "write"
    monkeypatch.setenv("PORTKERN_BENCH_L2_FLUSH", "sideways")
    with pytest.raises(ConfigError, match="bench.l2_flush"):
        l2_flush_mode()
