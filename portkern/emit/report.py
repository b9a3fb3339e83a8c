"""`report.md` per run: correctness evidence, timings, resource differences, hazards, plots."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from portkern.pipeline.runread import evaluations, read_json, read_rows  # noqa: E402
from portkern.targets import get_target  # noqa: E402


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "—"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def _bench_by_size(ev: dict | None) -> list[dict]:
    return list((ev or {}).get("bench") or [])


def _plot_time_vs_size(kernel: str, base: dict | None, sel: dict | None, out: Path) -> bool:
    series = []
    for label, ev in (("original", base), ("candidate", sel)):
        pts = [(sum(b["sizes"].values()) if b.get("sizes") else i, b["median_ms"], b.get("spread_ms", 0.0))
               for i, b in enumerate(_bench_by_size(ev)) if b.get("median_ms")]
        if pts:
            series.append((label, sorted(pts)))
    baseline = [(sum(b["sizes"].values()), b["baseline_median_ms"]) for b in _bench_by_size(sel or base)
                if b.get("baseline_median_ms")]
    if not series:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, pts in series:
        xs, ys, es = zip(*pts)
        ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=label)
    if baseline:
        xs, ys = zip(*sorted(baseline))
        ax.plot(xs, ys, marker="s", linestyle="--", label="vendor baseline")
    ax.set_xlabel("problem size (sum of size parameters)")
    ax.set_ylabel("median time (ms)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title(f"{kernel}: time against size")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def _plot_roofline(target_name: str, points: list[tuple[str, float, float]], out: Path) -> bool:
    """points: (label, arithmetic intensity FLOP/byte, achieved FLOP/s)."""
    points = [p for p in points if p[1] > 0 and p[2] > 0]
    if not points:
        return False
    t = get_target(target_name)
    bw = t.peak_bandwidth_gbs * 1e9
    peak = t.peak_flops["fp32"]
    lo = min(min(p[1] for p in points) / 4, 1e-2)
    hi = max(max(p[1] for p in points) * 4, peak / bw * 8)
    xs = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.plot(xs, [min(peak, x * bw) for x in xs], color="black", label=f"{t.name} roofline (fp32, {t.peak_bandwidth_gbs:g} GB/s)")
    for label, ai, achieved in points:
        ax.scatter([ai], [achieved], zorder=3)
        ax.annotate(label, (ai, achieved), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("FLOP/s")
    ax.set_title(f"kernels on the {t.name} roofline")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def _resource_row(name: str, key: str, base: dict, sel: dict) -> list[str]:
    b, s = (base.get("resources") or {}).get(key), (sel.get("resources") or {}).get(key)
    return [name, _fmt(b), _fmt(s)]


def write_report(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    rows = read_rows(run_dir)
    run, kernels = rows.run, rows.kernels
    plots = run_dir / "emit" / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    target = run.get("target", "")
    lines = [f"# portkern report: {run_dir.name}", "",
             f"- library: `{run.get('library')}` ({run.get('source_dialect')}) → target `{target}` ({run.get('target_dialect')})",
             f"- strategy: {run.get('strategy')}, executor: {run.get('executor')}, budget: {run.get('budget')}",
             f"- started {run.get('started_at')}, finished {run.get('finished_at')}, status {run.get('status')}",
             f"- toolchain: {run.get('toolchain_json')}", ""]
    summary = read_json(run_dir / "summary.json") or {}
    if summary.get("stages"):
        lines += ["## Stages", "", "| stage | ran | estimated | skipped | failed |", "|---|---|---|---|---|"]
        for st, c in summary["stages"].items():
            lines.append(f"| {st} | {c.get('ok', 0)} | {c.get('estimated', 0)} | {c.get('skipped', 0)} | {c.get('failed', 0)} |")
        lines.append("")
    roof_points: list[tuple[str, float, float]] = []
    lines += ["## Kernels", "", "| kernel | status | original ms | selected ms | speedup | method |", "|---|---|---|---|---|---|"]
    for name, k in sorted(kernels.items()):
        lines.append(f"| {name} | {k.get('status')} | {_fmt(k.get('base_ms'))} | {_fmt(k.get('selected_ms'))} | "
                     f"{_fmt(k.get('speedup'), 3)} | {k.get('timing_method') or '—'} |")
    lines.append("")
    for name, k in sorted(kernels.items()):
        evs = evaluations(run_dir, name)
        base = evs.get(k.get("base_candidate") or "", {})
        sel = evs.get(k.get("selected_candidate") or "", {}) or base
        lines += [f"## {name}", "", f"status: **{k.get('status')}**" + (f" — {k['reason']}" if k.get("reason") else ""), ""]
        # correctness evidence
        val = (sel or {}).get("validation") or {}
        lines += ["### Correctness evidence", "",
                  f"candidate `{(sel.get('candidate') or {}).get('id', '—')}` validated on **{val.get('device', '—')}** "
                  f"(wavefront {val.get('wavefront', '—')}): {'PASSED' if val.get('passed') else 'FAILED'}", "",
                  "| sizes | dtype | seed | max abs err | max rel err | atol | rtol | result |", "|---|---|---|---|---|---|---|---|"]
        for c in val.get("cases", []):
            lines.append(f"| {json.dumps(c.get('sizes'))} | {c.get('dtype')} | {c.get('seed')} | {_fmt(c.get('max_abs_error'))} | "
                         f"{_fmt(c.get('max_rel_error'))} | {_fmt(c.get('atol'))} | {_fmt(c.get('rtol'))} | "
                         f"{'pass' if c.get('passed') else 'FAIL: ' + str(c.get('failure'))} |")
        lines.append("")
        # timings
        lines += ["### Timing", "", "| version | sizes | dtype | median ms | spread ms | GB/s | roofline | device | method |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for label, ev in (("original", base), ("candidate", sel)):
            for b in _bench_by_size(ev):
                lines.append(f"| {label} | {json.dumps(b.get('sizes'))} | {b.get('dtype')} | {_fmt(b.get('median_ms'))} | "
                             f"{_fmt(b.get('spread_ms'))} | {_fmt(b.get('gbs'))} | {_fmt(100 * b.get('roofline_fraction', 0), 3)}% | "
                             f"{b.get('device')} | {b.get('method')} |")
                if b.get("bytes_moved") and b.get("median_ms"):
                    ai = (b.get("flops") or 0) / b["bytes_moved"]
                    achieved = (b.get("flops") or 0) / (b["median_ms"] / 1e3)
                    roof_points.append((f"{name} ({label})", ai, achieved))
        for b in _bench_by_size(sel):
            if b.get("baseline_median_ms"):
                lines.append(f"| vendor: {b.get('baseline_name')} | {json.dumps(b.get('sizes'))} | {b.get('dtype')} | "
                             f"{_fmt(b.get('baseline_median_ms'))} | — | — | — | {b.get('device')} | {b.get('method')} |")
        methods = {b.get("method") for b in _bench_by_size(sel) + _bench_by_size(base)}
        if "estimate" in methods:
            lines += ["", "_Times marked `estimate` come from the target's roofline and the compiler's resource report; "
                      "nothing was run on a device._"]
        lines.append("")
        # resources
        lines += ["### Resources (original → candidate)", "", "| resource | original | candidate |", "|---|---|---|",
                  _row_md(_resource_row("registers / VGPRs", "registers", base, sel)),
                  _row_md(_resource_row("SGPRs", "sgprs", base, sel)),
                  _row_md(_resource_row("LDS / shared bytes", "shared_bytes", base, sel)),
                  _row_md(_resource_row("spills", "spill_bytes", base, sel)),
                  _row_md(_resource_row("occupancy (fraction)", "occupancy_fraction", base, sel)), ""]
        params_b = (base.get("candidate") or {}).get("params", {})
        params_s = (sel.get("candidate") or {}).get("params", {})
        if params_b != params_s:
            lines += [f"parameters: `{json.dumps(params_b, sort_keys=True)}` → `{json.dumps(params_s, sort_keys=True)}`", ""]
        # hazards
        translate = read_json(run_dir / "results" / name / "translate.json") or {}
        hazards = (translate.get("payload") or {}).get("hazards", [])
        lines += ["### Hazards", ""]
        if hazards:
            lines += ["| line | kind | severity | fixed | message |", "|---|---|---|---|---|"]
            for h in hazards:
                lines.append(f"| {h.get('line', '')} | {h.get('kind')} | {h.get('severity', '')} | "
                             f"{'yes' if h.get('fixed') else 'no'} | {str(h.get('message', '')).replace('|', '/')} |")
        else:
            lines.append("none found" if translate else "no translation (same dialect)")
        lines.append("")
        plot = plots / f"{name}-time.png"
        if _plot_time_vs_size(name, base, sel, plot):
            lines += [f"![{name}: time against size](plots/{plot.name})", ""]
    if _plot_roofline(target, roof_points, plots / "roofline.png"):
        lines += ["## Roofline", "", "![roofline](plots/roofline.png)", ""]
    out = run_dir / "emit" / "report.md"
    out.write_text("\n".join(lines) + "\n")
    return out


def _row_md(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"
