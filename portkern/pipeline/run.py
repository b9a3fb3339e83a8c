"""``portkern port``: build the stage DAG for (library, target), run it, store and summarise it.

The driver owns the search loop. Each round of a kernel ends in a ``search`` join task; when it
finishes, the driver hands the evaluations to the strategy and adds the proposed candidates (their
compile -> validate -> bench chains and the next join) to the running graph. When no kernel has
anything left to try, the driver selects, writes the store rows and the summary, and runs the
emitters.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from portkern import __version__
from portkern.config import load_config
from portkern.errors import ConfigError, PortkernError
from portkern.library import KernelSpec, LibrarySpec, load_library
from portkern.model import Target
from portkern.pipeline import harness_adapter
from portkern.pipeline.dag import RESULT, Dep, StageResult, Task, TaskGraph
from portkern.pipeline.progress import NullProgress
from portkern.pipeline.snapshot import snapshot_library
from portkern.pipeline.stages import library_digest, package_digest, primary_dtype, target_backend_name
from portkern.pipeline.store import RunFolder, RunStore, safe_relpath, sha256_text, utc_now
from portkern.targets import get_target

MAX_ROUNDS = 64  # a strategy that never says "done" still ends


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


@dataclass
class KernelState:
    kernel: KernelSpec
    source_task: str                     # task whose payload["source"] is the base unit
    base: Any = None                     # search.base.Candidate
    history: list = field(default_factory=list)
    proposed: int = 0
    round: int = 0
    ctx: Any = None
    hazards: list = field(default_factory=list)          # translator findings without a safe fix
    original_source: str = ""                            # the unit in the library's own dialect
    done: bool = False
    end_reason: str = ""
    candidate_ids: set = field(default_factory=set)


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
        self.graph = TaskGraph()
        self.results: dict[str, StageResult] = {}
        self.states: dict[str, KernelState] = {}
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
            try:
                from portkern import backends

                avail = backends.get(backend_name).available()
            except (ImportError, AttributeError, PortkernError) as exc:
                return f"unavailable: {exc}"
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
        try:
            from portkern.search import get_strategy
        except ImportError as exc:
            self.notes.append(f"search: skipped, no search strategies installed ({exc})")
            return None
        strategy = get_strategy(self.options.strategy)
        if self.options.strategy == "sweep":
            self.notes.append("model: not used (the sweep strategy tunes declared parameters only; "
                              "--strategy refine or evolve use the model server)")
        else:
            try:
                from portkern.llm.connect import connect
                from portkern.llm.records import MemoryRecorder

                self.recorder = MemoryRecorder()
                conn = connect(self.config, run_id=self.run_id, recorder=self.recorder)
                self.llm = conn.client
                if conn.client is None:
                    self.notes.append(f"model: {conn.skip_reason}")
            except ImportError as exc:
                self.notes.append(f"model: skipped, portkern.llm not installed ({exc})")
        return strategy

    def _write_inputs(self, toolchain: dict[str, str], use_device: bool, device_reason: str) -> None:
        shutil.copyfile(self.library.manifest_path, self.folder.path / "inputs" / "library.yaml")
        snapshot_library(self.library, self.folder.path)  # the patch is made against this copy
        self.folder.write_json("inputs/target.json", self.target.to_dict())
        self.folder.write_json("inputs/options.json", {**asdict(self.options), "run_id": self.run_id,
                                                       "kernels": [k.name for k in self.kernels],
                                                       "toolchain": toolchain, "use_device": use_device,
                                                       "device_reason": device_reason})

    # ------------------------------------------------------------------ graph building

    def _add_kernel(self, kernel: KernelSpec, digest: str) -> None:
        k = kernel.name
        self.graph.add(Task(id=f"{k}/ingest", stage="ingest", kernel=k,
                            inputs={"library": self.library, "kernel": kernel, "library_digest": digest}))
        source_task = f"{k}/ingest"
        if self.library.dialect != self.target.dialect:
            self.graph.add(Task(id=f"{k}/translate", stage="translate", kernel=k,
                                inputs={"source_dialect": self.library.dialect,
                                        "target_dialect": self.target.dialect, "filename": kernel.file},
                                deps={"source": Dep(source_task, "source")}))
            source_task = f"{k}/translate"
        state = KernelState(kernel=kernel, source_task=source_task)
        self.states[k] = state
        from portkern.search.base import Candidate

        origin = "original" if self.library.dialect == self.target.dialect else "rules"
        base = Candidate(id=f"{k}/{origin}-0", kernel=k, source="", params=dict(kernel.defaults), origin=origin)
        self._add_round(state, [base])

    def _add_round(self, state: KernelState, candidates: list) -> None:
        k = state.kernel.name
        state.round += 1
        join_deps: dict[str, Dep] = {"base_source": Dep(state.source_task, "source")}
        if state.round == 1:
            # What the strategy needs from ingest and translate travels with the first join, so the
            # driver need not fetch those results (on Ray they arrive only at the end).
            join_deps["original_source"] = Dep(f"{k}/ingest", "source")
            if state.source_task.endswith("/translate"):
                join_deps["hazards"] = Dep(state.source_task, "hazards")
        for cand in candidates:
            state.candidate_ids.add(cand.id)
            self._add_candidate(state, cand)
            for stage in ("compile", "validate", "bench"):
                join_deps[f"{cand.id}|{stage}"] = Dep(f"{cand.id}.{stage}", RESULT)
        self.graph.add(Task(id=f"{k}/search-{state.round}", stage="search", kernel=k,
                            inputs={"candidates": [c.to_dict() for c in candidates]}, deps=join_deps,
                            join=True, notify=True))

    def _add_candidate(self, state: KernelState, cand: Any) -> None:
        kernel = state.kernel
        params = {**kernel.defaults, **cand.params}
        common = {"kernel": kernel, "library": self.library, "target": self.target, "params": params}
        source_in: dict[str, Any] = {"source": cand.source} if cand.source else {}
        source_dep = {} if cand.source else {"source": Dep(state.source_task, "source")}
        flags = self.library.compile_flags if self.library.dialect == self.target.dialect else []
        cid = cand.id
        self.graph.add(Task(id=f"{cid}.compile", stage="compile", kernel=kernel.name, candidate_id=cid,
                            inputs={**common, **source_in, "library_flags": flags}, deps=dict(source_dep)))
        gpu = {"needs_gpu": self.use_device, "accelerator_type": self.target.accelerator_type}
        # On the emulator validation needs the source, not the target binary; it still waits for the
        # target compile so that only what builds for the target is validated.
        compiled_dep = {"compiled": Dep(f"{cid}.compile")} if self.use_device else {}
        val_inputs = {**common, **source_in, "use_device": self.use_device}
        if not self.use_device:
            val_inputs["compiled"] = {}
        self.graph.add(Task(id=f"{cid}.validate", stage="validate", kernel=kernel.name, candidate_id=cid,
                            inputs=val_inputs, deps={**source_dep, **compiled_dep}, after=[f"{cid}.compile"], **gpu))
        # The base is timed at every bench size and dtype beside the vendor baseline; search candidates
        # only where the score is taken (primary dtype), which keeps device time per candidate small.
        self.graph.add(Task(id=f"{cid}.bench", stage="bench", kernel=kernel.name, candidate_id=cid,
                            inputs={**common, "use_device": self.use_device, "full": not cand.parent},
                            deps={"compiled": Dep(f"{cid}.compile")}, after=[f"{cid}.validate"], **gpu))

    # ------------------------------------------------------------------ callbacks

    def _on_start(self, task: Task) -> None:
        self.progress.started(task)

    def _on_result(self, task: Task, res: StageResult) -> None:
        if task.stage == "search":
            self._next_round(task, res)
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

    def _next_round(self, task: Task, res: StageResult) -> None:
        from portkern.search.base import Evaluation

        state = self.states[task.kernel]
        evaluations = [Evaluation.from_dict(e) for e in res.payload.get("evaluations", [])]
        for ev in evaluations:
            self.folder.candidate_source(ev.candidate.id, ev.candidate.source or "")
        state.history.extend(evaluations)
        if state.round == 1:
            state.base = evaluations[0].candidate if evaluations else None
            state.hazards = [h for h in res.payload.get("hazards") or [] if not h.get("fixed", False)]
            state.original_source = res.payload.get("original_source") or ""
        proposals, why = self._propose(state)
        res.payload["proposed"] = [c.id for c in proposals]
        if not proposals:
            state.done = True
            state.end_reason = why
            res.reason = f"search ended: {why}"
            self.progress.kernel(task.kernel, "selecting")
            return
        res.reason = f"round {state.round}: {len(proposals)} new candidate(s)"
        self._add_round(state, proposals)
        self.progress.kernel(task.kernel, f"round {state.round}: {len(state.history)} evaluated")

    def _propose(self, state: KernelState) -> tuple[list, str]:
        from portkern.search.base import SearchContext

        if self.strategy is None:
            return [], "no search strategy installed"
        base_ev = state.history[0] if state.history else None
        if base_ev is None or not base_ev.candidate.source:
            return [], f"the base candidate has no source ({state.source_task} did not produce one)"
        if not base_ev.compiled and not base_ev.compile_error:
            return [], "the base candidate was not compiled (a stage before compile failed)"
        if state.round >= MAX_ROUNDS:
            return [], f"round limit ({MAX_ROUNDS}) reached"
        left = self.options.budget - state.proposed
        if left <= 0:
            return [], f"candidate budget spent ({state.proposed}/{self.options.budget})"
        if state.ctx is None:
            search_cfg = dict(self.config.get("search", {}))
            search_cfg["max_candidates"] = self.options.budget
            state.ctx = SearchContext(kernel=state.kernel, library=self.library, target=self.target,
                                      dialect=self.target.dialect, base=state.base, hazards=state.hazards,
                                      budget={k: v for k, v in search_cfg.items() if k != "strategy"},
                                      llm=self.llm)
            if hasattr(state.ctx, "original_source"):
                state.ctx.original_source = state.original_source
        try:
            proposals = list(self.strategy.propose(state.ctx, list(state.history)))[:left]
        except PortkernError as exc:
            return [], f"strategy failed: {exc}"
        fresh = []
        for cand in proposals:
            if cand.id in state.candidate_ids:
                cand.id = f"{cand.id}.{state.round}"
            if cand.id in state.candidate_ids:
                continue
            fresh.append(cand)
        state.proposed += len(fresh)
        if not fresh:
            notes = getattr(state.ctx, "notes", [])
            return [], (notes[-1] if notes else f"strategy '{self.options.strategy}' has nothing more to try")
        return fresh, ""

    # ------------------------------------------------------------------ the run

    def run(self) -> dict[str, Any]:
        t0 = time.perf_counter()
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
        status = "interrupted"
        try:
            digest = library_digest(self.library)
            for kernel in self.kernels:
                self._add_kernel(kernel, digest)
            with self.progress:
                self.executor.run(self.graph, cache_root=self.cache_root, toolchain=toolchain,
                                  on_start=self._on_start, on_result=self._on_result)
                for state in self.states.values():
                    self._select(state)
            status = "done"
        finally:
            if status != "done":
                self.store.finish_run(self.run_id, status, {"status": status})
        summary = self._summary(toolchain, device_reason, time.perf_counter() - t0)
        # The emitters read a finished run (its row, summary and evaluations); the row is then updated
        # with the emit stage's own result.
        self.store.finish_run(self.run_id, status, summary)
        self._emit(summary)
        summary = self._summary(toolchain, device_reason, time.perf_counter() - t0)
        self.folder.write_json("summary.json", summary)
        self.store.finish_run(self.run_id, status, summary)
        return summary

    # ------------------------------------------------------------------ select, rows, summary

    def _select(self, state: KernelState) -> None:
        from portkern.search.base import best

        k = state.kernel.name
        history = state.history
        base = history[0] if history else None
        winner = best(history)
        if winner is None:
            first_fail = self._first_failure(base.candidate.id) if base else None
            status = "failed" if first_fail and first_fail.stage in ("ingest", "translate", "compile") \
                else "incorrect"
            reason = (f"{first_fail.stage}: {first_fail.cause}: {headline(first_fail.reason)}"
                      if first_fail and first_fail.reason else "no correct candidate")
            if base is None:
                status, reason = "failed", state.end_reason or "nothing was evaluated"
        elif base is not None and winner.candidate.id != base.candidate.id:
            status, reason = "improved", f"{winner.candidate.id} beats the base beyond the measured spread"
        else:
            status, reason = "ported", "no candidate beat the base beyond the measured spread"
        base_ms = base.score_ms if base is not None and base.score_ms > 0 else None
        sel_ms = winner.score_ms if winner is not None else None
        method = ""
        if winner is not None and winner.bench:
            method = winner.bench[0].method
        res = StageResult(stage="select", task=f"{k}/select", kernel=k, status="ok" if winner else "failed",
                          cause="" if winner else ("no-correct-candidate" if status == "incorrect" else "upstream"),
                          reason=reason, payload={"selected": winner.candidate.id if winner else "",
                                                  "status": status, "candidates": len(history)})
        self._record(res)
        self.store.record_kernel({
            "run_id": self.run_id, "kernel": k, "family": state.kernel.family, "symbol": state.kernel.symbol,
            "status": status, "base_candidate": base.candidate.id if base else "",
            "selected_candidate": winner.candidate.id if winner else None, "base_ms": base_ms,
            "selected_ms": sel_ms, "speedup": (base_ms / sel_ms) if base_ms and sel_ms else None,
            "timing_method": method, "reason": reason})
        self.folder.write_json(f"results/{safe_relpath(k)}/evaluations.json", [ev.to_dict() for ev in history])
        self.store.record_candidates([self._candidate_row(ev, winner) for ev in history])
        self.store.record_timings([self._timing_row(ev, b) for ev in history for b in ev.bench])
        self.progress.kernel(k, status)
        state.end_reason = state.end_reason or reason

    def _first_failure(self, cid: str) -> StageResult | None:
        k = cid.split("/")[0]
        for task in (f"{k}/ingest", f"{k}/translate", f"{cid}.compile", f"{cid}.validate", f"{cid}.bench"):
            r = self.results.get(task)
            if r is not None and r.status == "failed":
                return r
        return None

    def _candidate_row(self, ev: Any, winner: Any) -> dict[str, Any]:
        c = ev.candidate
        fail = self._first_failure(c.id)
        res = ev.resources
        return {
            "run_id": self.run_id, "candidate_id": c.id, "kernel": c.kernel, "origin": c.origin, "parent": c.parent,
            "params_json": json.dumps(c.params, sort_keys=True),
            "source_path": f"candidates/{safe_relpath(c.id)}.src", "source_sha256": sha256_text(c.source or ""),
            "prompt_kind": c.prompt_kind, "model": c.model, "compiled": int(ev.compiled),
            "validated": int(ev.correct), "validation_device": ev.validation.device if ev.validation else "",
            "score_ms": ev.score_ms, "spread_ms": ev.spread_ms,
            "timing_method": ev.bench[0].method if ev.bench else "",
            "registers": res.registers if res else None, "shared_bytes": res.shared_bytes if res else None,
            "spill_bytes": res.spill_bytes if res else None,
            "occupancy_fraction": res.occupancy_fraction if res else None,
            "failure_stage": fail.stage if fail else "", "failure_cause": fail.cause if fail else "",
            "failure_detail": (fail.reason[:2000] if fail else ""),
            "selected": int(winner is not None and winner.candidate.id == c.id)}

    def _timing_row(self, ev: Any, b: Any) -> dict[str, Any]:
        return {"run_id": self.run_id, "candidate_id": ev.candidate.id, "kernel": ev.candidate.kernel,
                "dtype": b.dtype, "sizes_json": json.dumps(b.sizes, sort_keys=True), "method": b.method,
                "device": b.device, "median_ms": b.median_ms, "spread_ms": b.spread_ms, "trials": b.trials,
                "bytes_moved": b.bytes_moved, "flops": b.flops, "gbs": b.gbs, "gflops": b.gflops,
                "roofline_fraction": b.roofline_fraction, "baseline_name": b.baseline_name,
                "baseline_median_ms": b.baseline_median_ms, "flags_json": json.dumps(b.flags)}

    def _model_call_rows(self) -> list[dict[str, Any]]:
        if self.recorder is None:
            return []
        rows = []
        for call in self.recorder.calls:
            outcome = "rejected" if call.reject_reason else ("failed" if call.error else "replied")
            if call.candidate:
                ev = next((e for s in self.states.values() for e in s.history if e.candidate.id == call.candidate),
                          None)
                if ev is not None:
                    outcome = "accepted" if ev.correct else ("incorrect" if ev.compiled else "compile-failed")
            rows.append({"run_id": self.run_id, "call_id": call.call_id, "candidate_id": call.candidate,
                         "kernel": call.kernel, "prompt_kind": call.kind, "model": call.model,
                         "provider": call.provider, "prompt_sha256": sha256_text(call.prompt),
                         "tokens_in": call.tokens_in, "tokens_out": call.tokens_out, "seconds": call.seconds,
                         "cached": int(call.cached), "accepted": int(call.accepted),
                         "reject_reason": call.reject_reason, "error": call.error, "outcome": outcome})
        return rows

    def _emit(self, summary: dict[str, Any]) -> None:
        self.store.record_model_calls(self._model_call_rows())
        self.folder.write_json("summary.json", summary)
        try:
            from portkern.emit import run_emitters
        except ImportError:
            res = StageResult(stage="emit", task="emit", kernel="", status="skipped", cause="not-installed",
                              reason="skipped: emitter not installed (portkern.emit)")
        else:
            t0 = time.perf_counter()
            try:
                out = run_emitters(self.folder.path, self.store)
                out = out if isinstance(out, dict) else {"result": {"status": "ok", "path": str(out)}}
                failed = {name: r.get("error", "") for name, r in out.items()
                          if isinstance(r, dict) and r.get("status") == "failed"}
                res = StageResult(stage="emit", task="emit", kernel="", status="failed" if failed else "ok",
                                  cause="emit" if failed else "", payload=out,
                                  reason="; ".join(f"{n}: {e}" for n, e in failed.items()))
            except ImportError as exc:  # an emitter whose own modules are not there yet
                res = StageResult(stage="emit", task="emit", kernel="", status="skipped", cause="not-installed",
                                  reason=f"skipped: emitter not installed ({exc})")
            except PortkernError as exc:
                res = StageResult(stage="emit", task="emit", kernel="", status="failed", cause=exc.cause,
                                  reason=str(exc))
            res.seconds = time.perf_counter() - t0
        self._record(res)

    def _summary(self, toolchain: dict[str, str], device_reason: str, wall_s: float) -> dict[str, Any]:
        stages: dict[str, Counter] = defaultdict(Counter)
        failures: dict[str, Counter] = defaultdict(Counter)
        skips: dict[str, Counter] = defaultdict(Counter)
        reasons: dict[str, Counter] = defaultdict(Counter)
        computed = cached = 0
        for r in self.results.values():
            stages[r.stage][r.status] += 1
            if r.cached:
                cached += 1
                stages[r.stage]["cached"] += 1
            elif r.cache_key:
                computed += 1
            if r.status == "failed":
                failures[r.stage][r.cause or "error"] += 1
            elif r.status == "skipped":
                skips[r.stage][r.cause or "skipped"] += 1
            # Dependency skips are counted by cause above; the reasons worth reading are the others.
            if r.status in ("skipped", "estimated") and r.reason and r.cause != "dependency-failed":
                reasons[r.stage][r.reason.splitlines()[0][:200]] += 1
        notes = list(self.notes)
        if self.library.dialect == self.target.dialect:
            notes.append(f"translate: not needed ({self.library.name} is {self.library.dialect.upper()}, "
                         f"{self.target.name} compiles {self.target.dialect.upper()})")
        if self.use_device:
            notes.append(f"validate, bench: on the {self.target.display_name} ({device_reason})")
        else:
            notes.append(f"validate: on the CPU emulator at wave{self.target.wavefront} ({device_reason})")
            notes.append(f"bench: estimated from the {self.target.name} roofline and the resource report "
                         f"(no {self.target.vendor.upper()} GPU)")
        kernels = []
        for k, st in self.states.items():
            row = self.store.query("SELECT * FROM kernels WHERE run_id = ? AND kernel = ?", (self.run_id, k))
            r = row[0] if row else {}
            kernels.append({"kernel": k, "status": r.get("status", "not-run"), "candidates": len(st.history),
                            "base_ms": r.get("base_ms"), "selected": r.get("selected_candidate"),
                            "selected_ms": r.get("selected_ms"), "speedup": r.get("speedup"),
                            "timing_method": r.get("timing_method", ""), "reason": r.get("reason", ""),
                            "search_end": st.end_reason, "primary_dtype": primary_dtype(st.kernel)})
        return {
            "run_id": self.run_id, "library": self.library.name, "target": self.target.name,
            "run_dir": str(self.folder.path), "store": str(self.store.path), "finished_at": utc_now(),
            "executor": self.options.executor, "strategy": self.options.strategy, "budget": self.options.budget,
            "use_device": self.use_device, "toolchain": toolchain,
            "stages": {s: dict(c) for s, c in stages.items()},
            "failures": {s: dict(c) for s, c in failures.items()},
            "skips": {s: dict(c) for s, c in skips.items()},
            "reasons": {s: dict(c) for s, c in reasons.items()},
            "notes": notes, "kernels": kernels,
            "cache": {"cached": cached, "computed": computed},
            "wall_seconds": round(wall_s, 3),
        }


def headline(text: str, limit: int = 300) -> str:
    """The line of an error text worth a table cell: the first compiler error, else the first line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    pick = next((ln for ln in lines if "error:" in ln or "error " in ln.lower()[:20]), lines[0] if lines else "")
    return pick[:limit]


def port(options: PortOptions, progress: Any = None, config: dict[str, Any] | None = None) -> dict[str, Any]:
    run = PortRun(options, progress=progress, config=config)
    try:
        return run.run()
    finally:
        shutdown = getattr(run.executor, "shutdown", None)
        if shutdown:
            shutdown()
        run.store.close()
