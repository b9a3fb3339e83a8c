"""``portkern port``: configure a run, plan its stage graph, run it, select, store and summarise it.

The work is split by job: ``plan`` builds the task graph, ``driver`` runs the search (a round ends in
a ``search`` join task whose result grows the graph) and selects, ``store`` owns the run folder and
the SQL rows, ``summary`` builds the summary once. This module ties them together: configuration,
the executor, the device plan, the toolchain identity, and the emitters at the end.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from portkern import __version__, backends
from portkern.config import load_config
from portkern.emit import run_emitters
from portkern.errors import ConfigError, PortkernError
from portkern.library import KernelSpec, LibrarySpec, load_library
from portkern.llm.connect import connect
from portkern.llm.records import MemoryRecorder
from portkern.model import Target
from portkern.pipeline import harness_adapter
from portkern.pipeline.dag import StageResult, Task
from portkern.pipeline.driver import MAX_ROUNDS, SearchDriver, Selection, headline, select
from portkern.pipeline.plan import GraphPlan, KernelState
from portkern.pipeline.progress import NullProgress
from portkern.pipeline.snapshot import snapshot_library
from portkern.pipeline.stages import library_digest, package_digest, target_backend_name
from portkern.pipeline.store import (
    RunFolder,
    RunStore,
    model_call_rows,
    recorded_start,
    safe_relpath,
    utc_now,
)
from portkern.pipeline.summary import StageCounts, build_summary
from portkern.search import STRATEGIES, get_strategy, strategy_names
from portkern.targets import get_target

__all__ = ["MAX_ROUNDS", "KernelState", "PortOptions", "PortRun", "headline", "port"]


@dataclass
class PortOptions:
    library: str
    target: str
    kernels: list[str] = field(default_factory=list)   # [] = every kernel of the library
    budget: int = 8                                      # candidates per kernel beyond the base
    strategy: str = "sweep"
    executor: str = "local"                              # local | ray
    ray_address: str = ""
    run_id: str = ""
    runs_dir: str = ""                                   # "" = config runs_dir
    cache_dir: str = ""                                  # "" = config cache_dir
    max_workers: int = 0                                 # local executor threads (0 = cores)


class PortRun:
    def __init__(self, options: PortOptions, progress: Any = None, config: dict[str, Any] | None = None,
                 executor: Any = None):
        self.options = options
        self.config = config if config is not None else load_config()
        self.progress = progress or NullProgress()
        self.library: LibrarySpec = load_library(options.library)
        self.target: Target = get_target(options.target)
        self.kernels = self._select_kernels(options.kernels)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        self.run_id = options.run_id or f"{self.library.name}-{self.target.name}-{stamp}"
        if safe_relpath(self.run_id) != self.run_id or "/" in self.run_id:
            raise ConfigError(f"--run-id '{self.run_id}' is not a plain folder name",
                              hint="use letters, digits, '-', '_' and '.'")
        self.runs_dir = Path(options.runs_dir or self.config["runs_dir"])
        self.cache_root = str(Path(options.cache_dir or self.config["cache_dir"]))
        self.folder = RunFolder(self.runs_dir / self.run_id)
        self.store = RunStore(self.runs_dir / "index.sqlite")
        self.executor = executor or self._make_executor()
        self.plan: GraphPlan | None = None                 # made once the device plan is known
        self.driver: SearchDriver | None = None
        self.use_device = False
        self.results: dict[str, StageResult] = {}
        self.notes: list[str] = []
        self.recorder = None
        self.strategy = None
        self.llm = None

    # ------------------------------------------------------------------ set-up

    def _select_kernels(self, names: list[str]) -> list[KernelSpec]:
        if not names:
            return list(self.library.kernels)
        return [self.library.kernel(n) for n in names]  # unknown names raise ManifestError listing the known

    def _make_executor(self):
        if self.options.executor == "local":
            from portkern.pipeline.local import LocalExecutor

            return LocalExecutor(max_workers=self.options.max_workers)
        if self.options.executor == "ray":
            from portkern.pipeline.ray_exec import RayExecutor

            return RayExecutor(address=self.options.ray_address)
        raise ConfigError(f"unknown executor '{self.options.executor}'", hint="use --executor local or ray")

    def _device_plan(self) -> tuple[bool, str]:
        """Validate and time on a device of the target's kind when one is reachable, else say why not."""
        if self.options.executor == "ray":
            from portkern.pipeline.ray_exec import cluster_has_accelerator

            self.executor.connect()
            if cluster_has_accelerator(self.target.accelerator_type):
                return True, f"Ray cluster has {self.target.accelerator_type} GPUs"
            return False, f"no {self.target.accelerator_type} GPU in the Ray cluster"
        return harness_adapter.device_available(self.target)

    def _toolchain(self, use_device: bool) -> dict[str, str]:
        """Identity of the tools each cached stage depends on (part of its cache key)."""
        def identity(backend_name: str) -> str:
            avail = backends.get(backend_name).available()
            return avail.compiler if avail.ok else f"unavailable: {avail.reason}"

        # The code of the backends and the harness is part of the identity: a fixed backend bug must
        # not keep serving cached failures.
        backend = target_backend_name(self.target)
        compile_id = f"{identity(backend)} code {package_digest(f'portkern.backends.{backend}')}"
        harness = f"harness {package_digest('portkern.harness')}"
        code = {"ingest": f"ingest {package_digest('portkern.ingest')}",
                "translate": f"translate {package_digest('portkern.translate')}"}
        if use_device:
            device = f"device {self.target.accelerator_type}"
            return {**code, "compile": compile_id, "validate": f"{device} {compile_id} {harness}",
                    "bench": f"{device} {harness}"}
        emu = f"{identity('emu')} code {package_digest('portkern.backends.emu')}"
        return {**code, "compile": compile_id, "validate": f"emu {emu} wave{self.target.wavefront} {harness}",
                "bench": f"estimate {self.target.name} {harness}"}

    def _make_strategy(self):
        from portkern.perfmodel import forecast

        strategy = get_strategy(self.options.strategy)
        forecasts = forecast.enabled(self.config)
        if not strategy.needs_model and not forecasts:
            self.notes.append(f"model: not used (the {self.options.strategy} strategy needs none; "
                              f"{', '.join(n for n in strategy_names() if STRATEGIES[n].needs_model)} "
                              "use the model server)")
        else:
            self.recorder = MemoryRecorder()
            conn = connect(self.config, run_id=self.run_id, recorder=self.recorder)
            self.llm = conn.client
            if conn.client is None:
                self.notes.append(f"model: {conn.skip_reason}")
            elif not strategy.needs_model:
                self.notes.append(f"model: asked only for time forecasts (perfmodel.llm_forecast; the "
                                  f"{self.options.strategy} strategy writes no code with it)")
        return strategy

    def _write_inputs(self, toolchain: dict[str, str], use_device: bool, device_reason: str) -> None:
        shutil.copyfile(self.library.manifest_path, self.folder.path / "inputs" / "library.yaml")
        snapshot_library(self.library, self.folder.path)  # the patch is made against this copy
        self.folder.write_json("inputs/target.json", self.target.to_dict())
        self.folder.write_json("inputs/options.json", {**asdict(self.options), "run_id": self.run_id,
                                                       "kernels": [k.name for k in self.kernels],
                                                       "toolchain": toolchain, "use_device": use_device,
                                                       "device_reason": device_reason,
                                                       "started_at": self._first_start()})

    def _first_start(self) -> str:
        """When this run folder was first started (kept when a run is resumed): with the folder's name it
        tells runs apart whose folders share a name (the performance model's groups, ``perfmodel.data``)."""
        return recorded_start(self.folder.path) or utc_now()

    # ------------------------------------------------------------------ callbacks

    def _on_start(self, task: Task) -> None:
        self.progress.started(task)

    def _on_result(self, task: Task, res: StageResult) -> None:
        if task.stage == "search":
            self.driver.next_round(task, res)
        self._record(res)
        self.progress.finished(task, res)

    def _record(self, res: StageResult) -> None:
        self.results[res.task] = res
        data = res.to_dict()
        if res.stage == "compile" and "binary" in res.payload:
            binary = res.payload["binary"]
            data["payload"] = {k: v for k, v in data["payload"].items() if k != "binary"}
            data["payload"]["binary_bytes"] = len(binary) if isinstance(binary, bytes) else 0
        path = self.folder.result(res.task, data)
        log = res.payload.get("log", "") if res.stage == "compile" else ""
        if res.status == "failed" or log:
            self.folder.log(f"{res.task}", (res.reason + "\n\n" + log).strip() + "\n")
        self.store.record_stage(self.run_id, res, path)

    # ------------------------------------------------------------------ the run

    @property
    def states(self) -> dict[str, KernelState]:
        return self.plan.states if self.plan is not None else {}

    def _profile(self) -> bool:
        """Whether correct candidates timed on an NVIDIA GPU get profiler counters (``bench.profile``)."""
        setting = str(self.config.get("bench", {}).get("profile", "auto")).strip().lower()
        if setting in ("true", "1", "yes"):
            return True
        if setting in ("false", "0", "no"):
            return False
        if setting != "auto":
            raise ConfigError(f"bench.profile must be auto, true or false, got {setting!r}",
                              hint="set bench.profile in portkern.yaml to auto, true or false")
        return self.options.strategy == "refine" and self.llm is not None

    def run(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        harness_adapter.new_run()
        self.use_device, device_reason = self._device_plan()
        toolchain = self._toolchain(self.use_device)
        self._write_inputs(toolchain, self.use_device, device_reason)
        self.store.begin_run({
            "run_id": self.run_id, "library": self.library.name, "target": self.target.name,
            "source_dialect": self.library.dialect, "target_dialect": self.target.dialect,
            "strategy": self.options.strategy, "executor": self.options.executor, "budget": self.options.budget,
            "run_dir": str(Path(self.run_id)), "toolchain_json": json.dumps(toolchain, sort_keys=True),
            "portkern_version": __version__})
        self.strategy = self._make_strategy()
        self.plan = GraphPlan(self.library, self.target, self.use_device,
                              base_full=bool(self.config.get("bench", {}).get("base_full", True)),
                              base_vendor=bool(self.config.get("bench", {}).get("base_vendor", True)),
                              profile=self._profile())
        self.driver = SearchDriver(self.plan, strategy=self.strategy, strategy_name=self.options.strategy,
                                   budget=self.options.budget, search_config=self.config.get("search", {}),
                                   llm=self.llm, on_sources=self._keep_sources, progress=self.progress,
                                   forecasts=forecast_calls(self.config))
        status = "interrupted"
        selections: dict[str, Selection] = {}
        try:
            digest = library_digest(self.library)
            for kernel in self.kernels:
                self.plan.add_kernel(kernel, digest)
            with self.progress:
                self.executor.run(self.plan.graph, cache_root=self.cache_root, toolchain=toolchain,
                                  on_start=self._on_start, on_result=self._on_result)
                for state in self.plan.states.values():
                    selections[state.kernel.name] = self._select(state)
            status = "done"
        finally:
            if status != "done":
                self.store.finish_run(self.run_id, status, {"status": status})
        counts = StageCounts()
        for r in self.results.values():
            counts.add(r)
        summary = build_summary(self, counts, selections, toolchain=toolchain, device_reason=device_reason,
                                wall_s=time.perf_counter() - t0)
        # The emitters read the finished run from the store (its row, which carries this summary, and
        # the evaluations); the emit stage's own result is then counted into the same summary, which
        # goes to the row again and, once, to summary.json.
        self.store.finish_run(self.run_id, status, summary)
        counts.add(self._emit())
        summary.update(counts.to_dict(), wall_seconds=round(time.perf_counter() - t0, 3))
        self.folder.write_json("summary.json", summary)
        self.store.finish_run(self.run_id, status, summary)
        return summary

    def _keep_sources(self, evaluations: list) -> None:
        for ev in evaluations:
            self.folder.candidate_source(ev.candidate.id, ev.candidate.source or "")

    def _select(self, state: KernelState) -> Selection:
        sel = select(state, self.results)
        self._record(sel.result(candidates=len(state.history)))
        self.store.record_selection(self.run_id, state.kernel, sel, state.history)
        self.folder.write_json(f"results/{safe_relpath(sel.kernel)}/evaluations.json",
                               [ev.to_dict() for ev in state.history])
        self.progress.kernel(sel.kernel, sel.status)
        state.end_reason = state.end_reason or sel.reason
        return sel

    def _emit(self) -> StageResult:
        evaluations = {ev.candidate.id: ev for st in self.states.values() for ev in st.history}
        calls = self.recorder.calls if self.recorder else []
        rows = model_call_rows(self.run_id, calls, evaluations)
        self.store.record_model_calls(rows)
        if self.recorder is not None:   # every call with its prompt, reply and outcome, for the dataset
            self.folder.write_json("model/calls.json", [{**c.to_dict(), "outcome": r["outcome"]}
                                                        for c, r in zip(calls, rows)])
        t0 = time.perf_counter()
        try:
            out = run_emitters(self.folder.path, self.store)
            out = out if isinstance(out, dict) else {"result": {"status": "ok", "path": str(out)}}
            failed = {name: r.get("error", "") for name, r in out.items()
                      if isinstance(r, dict) and r.get("status") == "failed"}
            res = StageResult(stage="emit", task="emit", kernel="", status="failed" if failed else "ok",
                              cause="emit" if failed else "", payload=out,
                              reason="; ".join(f"{n}: {e}" for n, e in failed.items()))
        except PortkernError as exc:
            res = StageResult(stage="emit", task="emit", kernel="", status="failed", cause=exc.cause,
                              reason=str(exc))
        res.seconds = time.perf_counter() - t0
        self._record(res)
        return res


def forecast_calls(config: dict[str, Any]) -> int:
    """Model-server forecasts a run may ask for (0: perfmodel.llm_forecast is off)."""
    from portkern.perfmodel import forecast

    return forecast.max_calls(config) if forecast.enabled(config) else 0


def port(options: PortOptions, progress: Any = None, config: dict[str, Any] | None = None) -> dict[str, Any]:
    run = PortRun(options, progress=progress, config=config)
    try:
        return run.run()
    finally:
        shutdown = getattr(run.executor, "shutdown", None)
        if shutdown:
            shutdown()
        run.store.close()
