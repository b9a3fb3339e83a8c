"""How good the performance model is, measured on data it was not fitted on.

Every figure comes from leave-one-kernel-family-out predictions: the model that predicts a family's
candidates never saw that family. Interval widths for a held-out family are the conformal quantiles of
the other families' held-out errors (so coverage is honest too).

- Spearman rho between predicted and measured times within each group (a kernel's candidates at one
  size and dtype in one run), median over groups with at least 3 candidates;
- coverage of the 90% intervals over all rows;
- top-10% regret: time only the predicted best tenth of each group (at least one); how far the best
  of those is from the group's best;
- timings needed: candidates timed in predicted order until the group's best is reached, against all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from portkern.perfmodel.model import COVERAGE, choose_scope, conformal_quantile, pair_scores, spearman


@dataclass
class Evaluation:
    rows: int = 0
    groups: int = 0
    families: list[str] = field(default_factory=list)
    median_spearman: float = float("nan")
    spearman_by_kernel: dict[str, float] = field(default_factory=dict)
    analytic_median_spearman: float = float("nan")
    coverage: float = float("nan")
    pair_coverage: float = float("nan")
    top10_within_5pct: float = float("nan")     # fraction of groups
    top10_median_regret: float = float("nan")
    timings_all: int = 0
    timings_top10: int = 0
    timings_to_best: int = 0                     # in predicted order until the group's best is timed
    median_abs_log_error: float = float("nan")
    scope: str = ""                              # the correction's scope the fit chose (perfmodel.model.choose_scope)
    # The model server's forecasts (perfmodel.llm_forecast), on the groups where every candidate has one.
    forecast_groups: int = 0
    forecast_median_spearman: float = float("nan")
    model_median_spearman_same_groups: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def lines(self) -> list[str]:
        def pct(x: float) -> str:
            return "n/a" if math.isnan(x) else f"{100 * x:.0f}%"

        def num(x: float) -> str:
            return "n/a" if math.isnan(x) else f"{x:.2f}"

        reduction = self.timings_all / self.timings_top10 if self.timings_top10 else float("nan")
        return [
            f"rows {self.rows}, groups {self.groups} (kernel x size x dtype), families {len(self.families)}; "
            "leave-one-family-out",
            f"median Spearman rho within a kernel's candidates: {num(self.median_spearman)} "
            f"(analytic part alone: {num(self.analytic_median_spearman)}; correction at the {self.scope} level)",
            f"90% interval coverage: {pct(self.coverage)} of times, {pct(self.pair_coverage)} of pairwise speedups",
            f"timing only the predicted top 10%: best within 5% in {pct(self.top10_within_5pct)} of groups, "
            f"median regret {pct(self.top10_median_regret)}; {self.timings_top10} of {self.timings_all} timings "
            f"({num(reduction)}x fewer)",
            f"timings in predicted order until each group's best: {self.timings_to_best} of {self.timings_all}",
            f"median |log error| of a time: {num(self.median_abs_log_error)}",
            (f"model-server forecast: median Spearman rho {num(self.forecast_median_spearman)} over "
             f"{self.forecast_groups} group(s) where every candidate has one (the model on the same groups: "
             f"{num(self.model_median_spearman_same_groups)})" if self.forecast_groups else
             "model-server forecast: none in these rows (perfmodel.llm_forecast is off by default)"),
        ]


def evaluate(rows: list[Any], params: dict[str, Any] | None = None) -> Evaluation:
    ev = Evaluation(rows=len(rows), families=sorted({r.family for r in rows}))
    if not rows:
        return ev
    scope, cvs, _ = choose_scope(rows, params)
    pred = cvs[scope]
    ev.scope = scope
    meas = np.log([r.measured_ms for r in rows])
    analytic = np.asarray([r.features["log_analytic_ms"] for r in rows])
    fam = np.asarray([r.family for r in rows])
    groups = [r.group for r in rows]
    # Coverage: each family's interval width from the other families' held-out errors.
    hit, pair_hit, pair_n = [], 0, 0
    for f in ev.families:
        inside, outside = fam == f, fam != f
        q = conformal_quantile(meas[outside] - pred[outside]) if outside.any() else float("inf")
        hit.extend((np.abs(meas[inside] - pred[inside]) <= q).tolist())
        g_out = [g for g, o in zip(groups, outside) if o]
        qp = conformal_quantile(pair_scores(g_out, meas[outside], pred[outside])) if outside.any() else float("inf")
        g_in = [g for g, i in zip(groups, inside) if i]
        ps = pair_scores(g_in, meas[inside], pred[inside])
        pair_hit += int((np.abs(ps) <= qp).sum())
        pair_n += len(ps)
    ev.coverage = float(np.mean(hit)) if hit else float("nan")
    ev.pair_coverage = pair_hit / pair_n if pair_n else float("nan")
    ev.median_abs_log_error = float(np.median(np.abs(meas - pred)))
    by: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by.setdefault(g, []).append(i)
    rhos, rhos_analytic, regrets, per_kernel = [], [], [], {}
    for idx in by.values():
        a = np.asarray(idx)
        ev.groups += 1
        ev.timings_all += len(a)
        top = max(1, math.ceil(0.1 * len(a)))
        order = a[np.argsort(pred[a], kind="stable")]
        ev.timings_top10 += top
        best = meas[a].min()
        regrets.append(math.exp(meas[order[:top]].min() - best) - 1.0)
        ev.timings_to_best += int(np.flatnonzero(meas[order] == best)[0]) + 1
        rho = spearman(pred[a], meas[a])
        if not math.isnan(rho):
            rhos.append(rho)
            per_kernel.setdefault(rows[a[0]].kernel, []).append(rho)
            rhos_analytic.append(spearman(analytic[a], meas[a]))
    ev.median_spearman = float(np.median(rhos)) if rhos else float("nan")
    clean = [r for r in rhos_analytic if not math.isnan(r)]
    ev.analytic_median_spearman = float(np.median(clean)) if clean else float("nan")
    ev.spearman_by_kernel = {k: float(np.median(v)) for k, v in sorted(per_kernel.items())}
    ev.top10_within_5pct = float(np.mean([r <= 0.05 for r in regrets])) if regrets else float("nan")
    ev.top10_median_regret = float(np.median(regrets)) if regrets else float("nan")
    _forecast_figures(ev, rows, by, pred, meas)
    return ev


def _forecast_figures(ev: Evaluation, rows: list[Any], by: dict[str, list[int]], pred: np.ndarray,
                      meas: np.ndarray) -> None:
    """The model server's forecasts measured like the model: rank correlation within groups where every
    candidate has a forecast, beside the model's own on those groups."""
    forecast = np.asarray([float(getattr(r, "forecast_ms", 0.0) or 0.0) for r in rows])
    rho_f, rho_m = [], []
    for idx in by.values():
        a = np.asarray(idx)
        if len(a) < 3 or not (forecast[a] > 0).all():
            continue
        rf, rm = spearman(forecast[a], meas[a]), spearman(pred[a], meas[a])
        if math.isnan(rf) or math.isnan(rm):
            continue
        rho_f.append(rf)
        rho_m.append(rm)
    ev.forecast_groups = len(rho_f)
    if rho_f:
        ev.forecast_median_spearman = float(np.median(rho_f))
        ev.model_median_spearman_same_groups = float(np.median(rho_m))


__all__ = ["COVERAGE", "Evaluation", "evaluate", "spearman"]
