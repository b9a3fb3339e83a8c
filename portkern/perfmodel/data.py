"""Training rows for the performance model: every device timing in a runs directory.

A row is one candidate timed on a GPU at one (sizes, dtype), with the features the model would have
computed for it before timing: the run folder keeps the library inputs (``inputs/library``), the
target (``inputs/target.json``), each candidate's source and parameters (``evaluations.json``) and its
compile result (``<candidate>.compile.json``), so rows are rebuilt from the folder alone. Estimates are
never rows; timings flagged as failures (above the roofline, wrong timed output) are left out.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portkern.errors import PortkernError
from portkern.model import Target


@dataclass
class Row:
    run_id: str
    target: str
    device: str
    date: str
    kernel: str
    family: str
    candidate_id: str
    sizes: dict[str, int]
    dtype: str
    measured_ms: float
    spread_ms: float
    features: dict[str, float] = field(default_factory=dict)
    forecast_ms: float = 0.0     # the model server's forecast at this point (0: none was asked)

    @property
    def group(self) -> str:
        """Candidates compared with one another: same run, kernel, sizes and dtype."""
        return f"{self.run_id}|{self.kernel}|{json.dumps(self.sizes, sort_keys=True)}|{self.dtype}"


def run_folders(paths: list[str | Path]) -> list[Path]:
    """Run folders under each path (a runs directory, or a run folder itself)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if (p / "inputs" / "target.json").is_file():
            out.append(p)
        elif p.is_dir():
            out.extend(sorted(d for d in p.iterdir() if (d / "inputs" / "target.json").is_file()))
    return out


def rows_from_run(run_dir: Path, warn=None) -> list[Row]:
    from portkern.library import load_library
    from portkern.perfmodel.features import features, resources_for
    from portkern.pipeline.snapshot import snapshot_manifest
    from portkern.pipeline.store import safe_relpath
    from portkern.search.base import Candidate

    found = snapshot_manifest(run_dir)
    if found is None:
        return []
    try:
        library = load_library(found[0], source_root=str(found[1]) if found[1] else None)
    except PortkernError as exc:
        if warn:
            warn(f"{run_dir.name}: library copy unreadable ({exc}); skipped")
        return []
    target = Target.from_dict(json.loads((run_dir / "inputs" / "target.json").read_text()))
    run_id, date = run_identity(run_dir)
    kernels = {k.name: k for k in library.kernels}
    rows: list[Row] = []
    for kdir in sorted(p for p in (run_dir / "results").iterdir() if p.is_dir()):
        kernel = kernels.get(kdir.name)
        if kernel is None:
            continue
        for ev in _evaluations(kdir):
            cand = ev["candidate"]
            if not (ev.get("validation") or {}).get("passed"):
                continue
            comp_path = run_dir / "results" / f"{safe_relpath(cand['id'])}.compile.json"
            compiled = json.loads(comp_path.read_text()).get("payload", {}) if comp_path.is_file() else {}
            params = {**kernel.defaults, **(cand.get("params") or {})}
            # launched as the candidate was (an operator may have shrunk its grid)
            spec = Candidate.from_dict(cand).kernel_spec(kernel) if cand.get("launches") or cand.get("size_scale") else kernel
            pred = ev.get("prediction") or {}
            for b in ev.get("bench") or []:
                if b.get("method") != "device-events" or b.get("median_ms", 0) <= 0 or _failed(b):
                    continue
                at_prediction = pred.get("sizes") == b["sizes"] and pred.get("dtype") == b["dtype"]
                forecast = float(pred.get("forecast_ms") or 0.0) if at_prediction else 0.0
                res = resources_for(compiled, spec, b["sizes"], b["dtype"], params)
                try:
                    f = features(spec, b["sizes"], b["dtype"], target, res, params, cand.get("source") or "")
                except (PortkernError, KeyError, ValueError, ZeroDivisionError) as exc:
                    if warn:
                        warn(f"{run_dir.name}/{cand['id']}: features failed ({exc}); skipped")
                    continue
                rows.append(Row(run_id=run_id, target=target.name, device=b.get("device", ""),
                                date=date, kernel=kernel.name, family=kernel.family,
                                candidate_id=cand["id"], sizes=dict(b["sizes"]), dtype=b["dtype"],
                                measured_ms=float(b["median_ms"]), spread_ms=float(b.get("spread_ms", 0.0)),
                                features=f, forecast_ms=forecast))
    return rows


def run_identity(run_dir: Path) -> tuple[str, str]:
    """(run id, date) of a run folder's rows: the folder's name, with the time it was first started
    (``inputs/options.json``) where it has one, since runs on different machines may share a folder name
    and a group of candidates must come from one run; the date from that time or the name."""
    from portkern.pipeline.store import recorded_start

    started = recorded_start(run_dir)
    if started:
        return f"{run_dir.name}@{started}", started[:10]
    return run_dir.name, _date(run_dir.name)


def _evaluations(kdir: Path) -> list[dict[str, Any]]:
    """A kernel's evaluations: ``evaluations.json`` (written when the kernel finished), else those of
    its finished search rounds (``search-<r>.json``), so a run stopped part-way still gives its rows."""
    final = kdir / "evaluations.json"
    if final.is_file():
        return json.loads(final.read_text())
    seen: dict[str, dict[str, Any]] = {}
    for path in sorted(kdir.glob("search-*.json")):
        try:
            payload = json.loads(path.read_text()).get("payload") or {}
        except ValueError:
            continue
        for ev in payload.get("evaluations") or []:
            seen.setdefault(ev["candidate"]["id"], ev)
    return list(seen.values())


def _failed(bench: dict[str, Any]) -> bool:
    from portkern.harness.bench import bench_passed
    from portkern.model import BenchResult

    return not bench_passed(BenchResult.from_dict(bench))


def _date(run_id: str) -> str:
    stamp = run_id.rsplit("-", 1)[-1]
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}" if len(stamp) >= 8 and stamp[:8].isdigit() else ""


def load_rows(paths: list[str | Path], warn=None) -> list[Row]:
    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    rows: list[Row] = []
    for run in run_folders(paths):
        rows.extend(rows_from_run(run, warn))
    return rows


def rows_from_measurements(results_json: Path, run_dir: Path, warn=None) -> list[Row]:
    """Rows from a results file of ``benchmarks/bench_gpu_blas.py`` (a library's base kernels timed on
    a GPU by portkern's harness), with features from a run folder of the same library and target
    (its base candidates' compile results and sources: ``port --budget 0`` makes one anywhere)."""
    from portkern.library import load_library
    from portkern.perfmodel.features import features, resources_for
    from portkern.pipeline.store import safe_relpath

    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    data = json.loads(Path(results_json).read_text())
    meta = data.get("meta") or {}
    target = Target.from_dict(json.loads((run_dir / "inputs" / "target.json").read_text()))
    if meta.get("target") and meta["target"] != target.name:
        raise PortkernError(f"{results_json} was measured for {meta['target']}, run {run_dir.name} is for {target.name}",
                            hint="give a run folder of the same target")
    library = load_library(run_dir / "inputs" / "library" / "library.yaml")
    kernels = {k.name: k for k in library.kernels}
    rows: list[Row] = []
    for routine in data.get("routines") or []:
        kernel = kernels.get(routine.get("kernel", ""))
        if kernel is None or routine.get("status") != "ok" or routine.get("validation") != "pass":
            continue
        base = next((ev for ev in _evaluations(run_dir / "results" / kernel.name) if not ev["candidate"].get("parent")),
                    None)
        if base is None:
            warn(f"{kernel.name}: no base candidate in {run_dir.name}; skipped")
            continue
        cand = base["candidate"]
        comp_path = run_dir / "results" / f"{safe_relpath(cand['id'])}.compile.json"
        compiled = json.loads(comp_path.read_text()).get("payload", {}) if comp_path.is_file() else {}
        params = {**kernel.defaults, **(cand.get("params") or {})}
        for b in routine.get("timings") or []:
            if b.get("method") != "device-events" or b.get("median_ms", 0) <= 0 or _failed(b):
                continue
            res = resources_for(compiled, kernel, b["sizes"], b["dtype"], params)
            f = features(kernel, b["sizes"], b["dtype"], target, res, params, cand.get("source") or "")
            rows.append(Row(run_id=f"{Path(results_json).stem}", target=target.name, device=b.get("device", ""),
                            date=str(meta.get("date", "")), kernel=kernel.name, family=kernel.family,
                            candidate_id=f"{kernel.name}/library-default", sizes=dict(b["sizes"]), dtype=b["dtype"],
                            measured_ms=float(b["median_ms"]), spread_ms=float(b.get("spread_ms", 0.0)),
                            features=f))
    return rows


def save_rows(rows: list[Row], path: Path) -> None:
    """The rows as JSON lines (features included): what a shipped model was fitted on."""
    from portkern import fsio

    fsio.write_text(path, "".join(json.dumps(r.__dict__, sort_keys=True) + "\n" for r in rows))


def read_rows_file(path: Path) -> list[Row]:
    """Rows saved by ``model fit --save-rows``; their analytic time is recomputed from the stored features
    with the current formula (``analytic_from_features``), so an older file is scored as a fresh run's."""
    from portkern.perfmodel.analytic import analytic_from_features
    from portkern.targets import get_target

    rows = [Row(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
    for row in rows:
        try:
            target = get_target(row.target)
        except PortkernError:
            continue                      # a target this installation does not know: kept as saved
        row.features = dict(row.features, log_analytic_ms=math.log(analytic_from_features(row.features, target,
                                                                                           row.dtype)))
    return rows
