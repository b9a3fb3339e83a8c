"""The calibrated performance model: analytic time x learned correction, with conformal intervals.

``log(measured) = log(analytic) + g(features) + error``. ``g`` is a gradient-boosted tree model fitted
on the run store's GPU timings. Interval widths are split-conformal quantiles of held-out errors: the
errors of leave-one-kernel-family-out predictions, so a kernel family the model has never seen is what
the width was calibrated on. Two widths are kept:

- ``q_abs``: for one candidate's time (``[t e^-q, t e^q]``);
- ``q_pair``: for the ratio of two candidates of the same kernel at the same size (their errors are
  correlated, so a speedup is usually known better than either time). With too few measured pairs
  it falls back to a union bound from the single-time errors, which is valid but wide.

A model without a fit (no data yet) is analytic only and ``calibrated`` is False: it ranks, but its
intervals are unknown, so nothing may be selected on its word.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from importlib import resources as ir
from pathlib import Path
from typing import Any

import numpy as np

from portkern import fsio
from portkern.errors import ConfigError
from portkern.perfmodel.features import FEATURE_NAMES, vector
from portkern.perfmodel.gbm import GradientBoosting

COVERAGE = 0.9
MIN_PAIRS = 20          # measured candidate pairs needed for a conformal speedup width
MODEL_ENV = "PORTKERN_PERFMODEL"
FORMAT = 1


@dataclass
class Prediction:
    ms: float
    lo_ms: float
    hi_ms: float
    analytic_ms: float
    calibrated: bool

    def to_dict(self) -> dict[str, Any]:
        return {"ms": self.ms, "lo_ms": self.lo_ms, "hi_ms": self.hi_ms, "analytic_ms": self.analytic_ms,
                "calibrated": self.calibrated}


def conformal_quantile(scores: np.ndarray, coverage: float = COVERAGE) -> float:
    """The split-conformal quantile: the ceil((n+1) coverage)-th smallest score (inf when n is too small)."""
    s = np.sort(np.abs(np.asarray(scores, dtype=float)))
    n = len(s)
    k = math.ceil((n + 1) * coverage)
    return float(s[k - 1]) if 0 < k <= n else float("inf")


def pair_scores(groups: list[str], measured_log: np.ndarray, predicted_log: np.ndarray) -> np.ndarray:
    """Errors of predicted log-ratios between every two candidates of the same group."""
    out: list[float] = []
    by: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by.setdefault(g, []).append(i)
    for idx in by.values():
        a = np.asarray(idx)
        if len(a) < 2:
            continue
        dm = measured_log[a][:, None] - measured_log[a][None, :]
        dp = predicted_log[a][:, None] - predicted_log[a][None, :]
        iu = np.triu_indices(len(a), 1)
        out.extend((dm - dp)[iu].tolist())
    return np.asarray(out)


@dataclass
class PerfModel:
    gbm: GradientBoosting | None = None
    # "candidate": the correction sees every feature; "point": only those of the bench point (bytes, FLOPs,
    # dtype, target), so it scales a kernel's candidates alike and they rank as the analytic part ranks them.
    scope: str = "candidate"
    q_abs: float = float("inf")
    q_pair: float = float("inf")
    coverage: float = COVERAGE
    trained_on: dict[str, Any] = field(default_factory=dict)   # rows, families, devices, runs, dates
    path: str = ""
    # The point-level correction and its widths, for targets of a vendor none of the timings came from:
    # there the candidate-level features of the target's compiler (its ISA's instruction mix, registers)
    # were never seen, so a kernel's candidates are ranked by the analytic part alone (``for_vendor``).
    gbm_point: GradientBoosting | None = None
    q_abs_point: float = float("inf")
    q_pair_point: float = float("inf")

    @property
    def calibrated(self) -> bool:
        return self.gbm is not None and math.isfinite(self.q_abs) and math.isfinite(self.q_pair)

    @property
    def vendors(self) -> list[str]:
        """Vendors of the devices the timings came from ("nvidia", "amd")."""
        return sorted({d.split()[0].lower() for d in self.trained_on.get("devices", []) if d and d.split()})

    def for_vendor(self, vendor: str) -> PerfModel:
        """The model to use for a target of ``vendor``: this one when its timings include that vendor's
        devices (or name none), else its point-level correction (analytic ranking, the point-level
        widths). A model without the point-level part stays as it is."""
        if self.scope == "point" or not self.vendors or vendor in self.vendors or self.gbm_point is None:
            return self
        return PerfModel(gbm=self.gbm_point, scope="point", q_abs=self.q_abs_point, q_pair=self.q_pair_point,
                         coverage=self.coverage, trained_on={**self.trained_on, "applied_scope": "point"},
                         path=self.path)

    # ------------------------------------------------------------------ prediction

    def correction(self, feats: list[dict[str, float]]) -> np.ndarray:
        if self.gbm is None or not feats:
            return np.zeros(len(feats))
        return self.gbm.predict(np.asarray([scoped_vector(f, self.scope) for f in feats]))

    def predict_log(self, feats: list[dict[str, float]]) -> np.ndarray:
        base = np.asarray([f["log_analytic_ms"] for f in feats], dtype=float)
        return base + self.correction(feats)

    def predict(self, f: dict[str, float]) -> Prediction:
        log_ms = float(self.predict_log([f])[0])
        ms = math.exp(log_ms)
        q = self.q_abs if self.calibrated else float("inf")
        lo, hi = (ms * math.exp(-q), ms * math.exp(q)) if math.isfinite(q) else (0.0, float("inf"))
        return Prediction(ms=ms, lo_ms=lo, hi_ms=hi, analytic_ms=math.exp(f["log_analytic_ms"]),
                          calibrated=self.calibrated)

    def speedup(self, base_ms: float, cand_ms: float) -> tuple[float, float, float]:
        """(speedup, low, high) of a candidate over the base, both predicted at the same point."""
        s = base_ms / cand_ms if cand_ms > 0 else 0.0
        if not self.calibrated:
            return s, 0.0, float("inf")
        return s, s * math.exp(-self.q_pair), s * math.exp(self.q_pair)

    # ------------------------------------------------------------------ fitting

    @classmethod
    def fit(cls, rows: list[Any], *, params: dict[str, Any] | None = None) -> PerfModel:
        """Fit on measured rows (``perfmodel.data.Row``); widths from leave-one-family-out errors."""
        if len(rows) < 8:
            raise ConfigError(f"{len(rows)} measured timing(s) are too few to fit the performance model",
                              hint="run `portkern port` on a GPU first (its timings go to the run store)")
        scope, cvs, rhos = choose_scope(rows, params)
        q_abs, q_pair, how = _widths(rows, cvs[scope])
        model = cls(gbm=_fit_gbm(rows, params, scope), scope=scope, q_abs=q_abs, q_pair=q_pair)
        if scope != "point":
            model.gbm_point = _fit_gbm(rows, params, "point")
            model.q_abs_point, model.q_pair_point, _ = _widths(rows, cvs["point"])
        model.trained_on = {**describe(rows), "pair_interval": how,
                            "correction_scope": f"{scope} (leave-one-family-out median rho within a kernel's "
                                                f"candidates: candidate-level {rhos['candidate']:.2f}, "
                                                f"point-level {rhos['point']:.2f})"}
        return model

    # ------------------------------------------------------------------ files

    def to_dict(self) -> dict[str, Any]:
        out = {"format": FORMAT, "features": list(FEATURE_NAMES), "coverage": self.coverage, "scope": self.scope,
               "q_abs": self.q_abs, "q_pair": self.q_pair, "trained_on": self.trained_on,
               "gbm": self.gbm.to_dict() if self.gbm else None}
        if self.gbm_point is not None:
            out["point"] = {"gbm": self.gbm_point.to_dict(), "q_abs": self.q_abs_point, "q_pair": self.q_pair_point}
        return out

    def save(self, path: str | Path) -> None:
        fsio.write_text(Path(path), json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: str = "") -> PerfModel:
        if d.get("format") != FORMAT or list(d.get("features") or []) != list(FEATURE_NAMES):
            raise ConfigError(f"performance model {path or '(given)'} was fitted on other features or format",
                              hint="refit it: portkern model fit --out FILE")
        gbm = GradientBoosting.from_dict(d["gbm"]) if d.get("gbm") else None
        scope = str(d.get("scope") or "candidate")
        if scope not in SCOPES:
            raise ConfigError(f"performance model {path or '(given)'}: unknown correction scope {scope!r}",
                              hint=f"use one of {', '.join(SCOPES)}, or refit it: portkern model fit --out FILE")
        point = d.get("point") or {}
        return cls(gbm=gbm, scope=scope, q_abs=float(d.get("q_abs", "inf")), q_pair=float(d.get("q_pair", "inf")),
                   coverage=float(d.get("coverage", COVERAGE)), trained_on=dict(d.get("trained_on") or {}),
                   path=path, gbm_point=GradientBoosting.from_dict(point["gbm"]) if point.get("gbm") else None,
                   q_abs_point=float(point.get("q_abs", "inf")), q_pair_point=float(point.get("q_pair", "inf")))

    @classmethod
    def load(cls, path: str | Path | None = None) -> PerfModel:
        """The model at ``path``, else ``$PORTKERN_PERFMODEL``, else the one shipped with portkern,
        else an uncalibrated analytic-only model (also what the name ``analytic`` asks for)."""
        chosen = str(path or os.environ.get(MODEL_ENV, "")).strip()
        if chosen == "analytic":
            return cls()
        if chosen:
            p = Path(chosen)
            try:
                data = json.loads(p.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigError(f"cannot read performance model {p}: {exc}",
                                  hint=f"fit one with `portkern model fit --out {p}` or unset {MODEL_ENV}") from exc
            return cls.from_dict(data, str(p))
        shipped = ir.files("portkern.data").joinpath("perfmodel.json")
        if shipped.is_file():
            return cls.from_dict(json.loads(shipped.read_text()), "portkern/data/perfmodel.json")
        return cls()


SCOPES = ("candidate", "point")
# Features that are the same for every candidate of a kernel at one bench point.
POINT_FEATURES = frozenset({"log_roof_ms", "log_bytes", "log_flops", "log_intensity", "compute_bound", "elem_bytes",
                            "vendor_amd", "wavefront"})
_POINT_MASK = np.asarray([name in POINT_FEATURES for name in FEATURE_NAMES], dtype=float)


def scoped_vector(f: dict[str, float], scope: str) -> list[float]:
    v = vector(f)
    return v if scope == "candidate" else [x * m for x, m in zip(v, _POINT_MASK)]


def _fit_gbm(rows: list[Any], params: dict[str, Any] | None, scope: str = "candidate") -> GradientBoosting:
    X = np.asarray([scoped_vector(r.features, scope) for r in rows])
    y = np.log([r.measured_ms for r in rows]) - np.asarray([r.features["log_analytic_ms"] for r in rows])
    return GradientBoosting(**(params or {})).fit(X, y)


def cross_predict(rows: list[Any], params: dict[str, Any] | None = None, scope: str = "candidate") -> np.ndarray:
    """Leave-one-family-out predicted log times (one family alone: analytic only)."""
    families = sorted({r.family for r in rows})
    out = np.asarray([r.features["log_analytic_ms"] for r in rows], dtype=float)
    if len(families) < 2:
        return out
    fam = np.asarray([r.family for r in rows])
    for f in families:
        train = [r for r in rows if r.family != f]
        gbm = _fit_gbm(train, params, scope)
        idx = np.flatnonzero(fam == f)
        out[idx] += gbm.predict(np.asarray([scoped_vector(rows[i].features, scope) for i in idx]))
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); nan for fewer than 3 points or constants."""
    if len(a) < 3:
        return float("nan")
    ra, rb = _ranks(np.asarray(a, float)), _ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for v in np.unique(x):
        tie = x == v
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks


def median_group_rho(rows: list[Any], pred: np.ndarray) -> float:
    """Median Spearman rho between predicted and measured times within each group (kernel x point)."""
    meas = np.log([r.measured_ms for r in rows])
    by: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by.setdefault(r.group, []).append(i)
    rhos = [spearman(pred[a], meas[a]) for a in (np.asarray(i) for i in by.values())]
    rhos = [r for r in rhos if not math.isnan(r)]
    return float(np.median(rhos)) if rhos else float("nan")


def _widths(rows: list[Any], cv: np.ndarray) -> tuple[float, float, str]:
    """(q_abs, q_pair, how q_pair was found) from held-out predicted log times."""
    measured = np.log([r.measured_ms for r in rows])
    scores = measured - cv
    pairs = pair_scores([r.group for r in rows], measured, cv)
    if len(pairs) >= MIN_PAIRS:
        return conformal_quantile(scores), conformal_quantile(pairs), f"conformal over {len(pairs)} measured pairs"
    # Too few measured pairs of one kernel's candidates: bound the ratio's error by the two times'
    # errors. Each exceeds its 95% width with probability at most 5%, so their difference exceeds
    # twice that width with probability at most 10% (union bound).
    q_pair = 2.0 * conformal_quantile(scores, 1.0 - (1.0 - COVERAGE) / 2.0)
    return conformal_quantile(scores), q_pair, (f"union bound from single times ({len(pairs)} measured pair(s), "
                                                f"fewer than {MIN_PAIRS})")


def choose_scope(rows: list[Any], params: dict[str, Any] | None = None) -> tuple[str, dict[str, np.ndarray],
                                                                                 dict[str, float]]:
    """The correction's scope whose held-out predictions rank a kernel's candidates better (leave one
    family out; a tie keeps the point-level one, which ranks as the analytic part does), the cross
    predictions of each scope, and both median rhos. On 145 and on 243 H100/H200 timings the candidate-level
    correction ranked a held-out family worse than the analytic part alone."""
    cv = {scope: cross_predict(rows, params, scope) for scope in SCOPES}
    rhos = {scope: median_group_rho(rows, pred) for scope, pred in cv.items()}
    better = rhos["candidate"] > rhos["point"] or math.isnan(rhos["point"]) and not math.isnan(rhos["candidate"])
    scope = "candidate" if better else "point"
    return scope, cv, rhos


def describe(rows: list[Any]) -> dict[str, Any]:
    return {"rows": len(rows), "kernels": sorted({r.kernel for r in rows}),
            "families": sorted({r.family for r in rows}), "devices": sorted({r.device for r in rows}),
            "runs": sorted({r.run_id for r in rows}), "targets": sorted({r.target for r in rows}),
            "dates": sorted({r.date for r in rows if r.date})}
