"""`report.md` (and `report.html` beside it) per run: the answer first, then the evidence.

Order: a one-screen summary (per kernel: status, speedup, against the vendor library, measured or
predicted, why), how correctness was judged (the tolerance rule), then one section per kernel
(every candidate tried, rejected ones with their reason; correctness cases; timings; resources;
hazards; a time plot), the roofline and speedup plots, the stages in pipeline order, and the
toolchain. Long case tables are shortened; the full data stays in the run folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from portkern.emit import plots
from portkern.emit.html import anchor, markdown_to_html
from portkern.pipeline.runread import evaluations, kernel_result, read_rows

STAGE_ORDER = ["ingest", "translate", "compile", "predict", "validate", "bench", "search", "select", "emit"]
MAX_CASE_ROWS = 6
MAX_TIMING_ROWS = 8

TOLERANCE_RULE = (
    "An output element passes when |got - ref| <= atol * max|ref| + rtol * |ref|, where ref is the "
    "float64 reference on the same inputs and (rtol, atol) is the dtype's tolerance (float16 1e-2, "
    "bfloat16 2e-2, float32 1e-5, float64 1e-12, integers exact, unless the library sets its own), "
    "widened by sqrt(terms summed) for reductions. NaN never passes; outputs are poisoned before each "
    "run and must be fully written; inputs must come back unchanged. Every case uses fresh random inputs.")


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "—"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def _cell(text: Any) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return out


def _sizes(sizes: dict | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (sizes or {}).items()) or "—"


_TEMP_DIR = re.compile(r"\S*portkern-compile-[^/\s]+/")
_REPEAT = re.compile(r"\b([\w-]+): \1\b")


def clean_reason(text: str) -> str:
    """A failure reason for people: no temporary folder names, no 'compile: compile:' stutter."""
    text = _TEMP_DIR.sub("", text or "")
    for _ in range(3):
        text = _REPEAT.sub(r"\1", text)
    return text


def flatten_parens(text: str) -> str:
    """Keep one level of parentheses; deeper ones become ', ' clauses (no notes three deep)."""
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
            out.append("(" if depth == 1 else ", ")
        elif ch == ")":
            depth -= 1
            if depth == 0:
                out.append(")")
        else:
            out.append(ch)
    return " ".join("".join(out).replace(" ,", ",").split())


def timing_kind(method: str | None) -> str:
    """'measured' for device timings, 'predicted' for estimates."""
    if not method:
        return "—"
    return "predicted" if method == "estimate" else "measured"


def vendor_ratio(ev: dict | None) -> float | None:
    """The candidate's speed relative to the vendor library at the primary size (>1: faster)."""
    for b in (ev or {}).get("bench") or []:
        if b.get("baseline_median_ms") and b.get("median_ms"):
            return b["baseline_median_ms"] / b["median_ms"]
    return None


def rejection(ev: dict, cand_row: dict) -> str:
    """Why a candidate did not win: the first stage it failed, else its time."""
    if cand_row.get("failure_stage"):
        detail = (cand_row.get("failure_detail") or "").strip().splitlines()
        first = next((ln for ln in detail if "error" in ln.lower()), detail[0] if detail else "")
        return f"{cand_row['failure_stage']}: {cand_row.get('failure_cause') or 'failed'}" + \
            (f": {first[:160]}" if first else "")
    if not ev.get("compiled"):
        return "compile: " + str(ev.get("compile_error") or "failed").splitlines()[0][:160]
    pred = ev.get("prediction") or {}
    if ev.get("validation") is None and pred.get("kept") is False:
        # Never validated or timed: the performance model ruled it out (its reason says against what).
        return "predict: " + str(pred.get("reason") or "ruled out by the performance model")[:200]
    val = ev.get("validation") or {}
    if not val.get("passed"):
        bad = next((c for c in val.get("cases", []) if not c.get("passed")), {})
        return (f"validate: {val.get('failure') or bad.get('failure') or 'mismatch'} at {_sizes(bad.get('sizes'))} "
                f"{bad.get('dtype', '')}: {str(val.get('detail') or bad.get('detail') or '')[:160]}").rstrip(": ")
    return ""


def kernel_overview(run_dir: Path) -> list[dict[str, Any]]:
    """One entry per kernel, as the summary table shows it."""
    rows = read_rows(run_dir)
    out = []
    for name, k in sorted(rows.kernels.items()):
        evs = evaluations(run_dir, name)
        sel = evs.get(k.get("selected_candidate") or "")
        out.append({"kernel": name, "status": k.get("status"), "speedup": k.get("speedup"),
                    "base_ms": k.get("base_ms"), "selected_ms": k.get("selected_ms"),
                    "vs_vendor": vendor_ratio(sel), "timing": timing_kind(k.get("timing_method")),
                    "reason": clean_reason(k.get("reason") or ""), "candidates": len(evs)})
    return out


def write_report(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    rows = read_rows(run_dir)
    run, kernels, cands = rows.run, rows.kernels, rows.candidates
    summ = json.loads(run.get("summary_json") or "{}")  # the summary as the run finished, before emit
    plot_dir = run_dir / "emit" / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    target = run.get("target", "")
    overview = kernel_overview(run_dir)
    counts: dict[str, int] = {}
    for o in overview:
        counts[o["status"]] = counts.get(o["status"], 0) + 1
    kinds = {o["timing"] for o in overview if o["timing"] != "—"}
    headline = ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda x: -x[1]))
    lines = [f"# {run.get('library')} on {target}: {headline}", "",
             f"Run `{run_dir.name}`: {run.get('library')} ({run.get('source_dialect')}) for {target} "
             f"({run.get('target_dialect')}), strategy {run.get('strategy')}, budget {run.get('budget')}, "
             f"status {run.get('status')}. "
             + ("Timings are predicted by the performance model (the target compiler's report, the source and "
                "the target's specs); nothing ran on a device." if kinds == {"predicted"} else
                f"Timings are {' and '.join(sorted(kinds))}." if kinds else "Nothing was timed."), ""]
    lines += _table(["kernel", "status", "speedup", "vs vendor", "timing", "why"],
                    [[f"[{o['kernel']}](#{anchor(o['kernel'])})", f"**{o['status']}**",
                      f"{o['speedup']:.2f}x" if o["speedup"] else "—",
                      f"{o['vs_vendor']:.2f}x" if o["vs_vendor"] else "no baseline",
                      o["timing"], o["reason"][:140]] for o in overview])
    lines.append("")
    for note in summ.get("notes", []):
        lines.append(f"- {flatten_parens(note)}")
    lines += ["", "## How correctness was judged", "", TOLERANCE_RULE, ""]

    roof_points: list[plots.RoofPoint] = []
    speedups: list[tuple[str, float, str]] = []
    for o in overview:
        if o["speedup"]:
            speedups.append((o["kernel"], o["speedup"], o["timing"]))
    for name, k in sorted(kernels.items()):
        evs = evaluations(run_dir, name)
        base = evs.get(k.get("base_candidate") or "", {})
        sel = evs.get(k.get("selected_candidate") or "", {}) or base
        lines += _kernel_section(run_dir, name, k, evs, base, sel, cands, plot_dir)
        same = sel is base or (sel.get("candidate") or {}).get("id") == (base.get("candidate") or {}).get("id")
        for label, ev in (("library", base), ("selected", sel)):
            if label == "selected" and same:
                continue
            b = ((ev or {}).get("bench") or [None])[0]
            if b and b.get("bytes_moved") and b.get("median_ms"):
                roof_points.append(plots.RoofPoint(name if same else f"{name} ({label})", (b.get("flops") or 0) / b["bytes_moved"],
                                                   (b.get("flops") or 0) / (b["median_ms"] / 1e3),
                                                   b.get("dtype") or "", b.get("method") == "estimate"))
    figures = []
    if plots.roofline(target, roof_points, plot_dir / "roofline.png"):
        on = {p.label.split(" (")[0] for p in roof_points if p.intensity > 0 and p.flops_per_s > 0}
        off = sorted(o["kernel"] for o in overview if o["kernel"] not in on)
        figures += ["### Roofline", "", "Each kernel at its primary bench size; numbered points are named in the "
                    "legend; hollow markers are predicted times."
                    + (f" Not on it (no floating-point work, or not timed): {', '.join(off)}." if off else ""),
                    "", "![roofline](plots/roofline.png)", ""]
    if plots.speedup_bars(run_dir.name, speedups, plot_dir / "speedup.png"):
        figures += ["### Speedup per kernel", "", "![speedup](plots/speedup.png)", ""]
    if figures:
        lines += ["## Plots", "", *figures]
    lines += _model_section(summ)
    lines += _stages_section(summ)
    lines += _toolchain_section(run, summ)
    out = run_dir / "emit" / "report.md"
    from portkern.fsio import write_text

    text = "\n".join(lines) + "\n"
    write_text(out, text)

    write_text(run_dir / "emit" / "report.html", markdown_to_html(text, title=f"portkern report {run_dir.name}",
                                                                 base=run_dir / "emit"))
    return out


def _kernel_section(run_dir: Path, name: str, k: dict, evs: dict, base: dict, sel: dict, cands: dict,
                    plot_dir: Path) -> list[str]:
    lines = [f"## {name}", "", f"**{k.get('status')}**" + (f": {clean_reason(k['reason'])}" if k.get("reason") else ""),
             ""]
    params_b = (base.get("candidate") or {}).get("params", {})
    params_s = (sel.get("candidate") or {}).get("params", {})
    if k.get("speedup") and sel is not base:
        lines.append(f"{_fmt(k.get('base_ms'))} ms → {_fmt(k.get('selected_ms'))} ms ({k['speedup']:.2f}x, "
                     f"{timing_kind(k.get('timing_method'))}) with `{json.dumps(params_s, sort_keys=True)}`"
                     + (f" (library: `{json.dumps(params_b, sort_keys=True)}`)" if params_b != params_s else "") + ".")
        lines.append("")
    # every candidate, rejected ones with the reason
    cand_rows = []
    for cid, ev in evs.items():
        row = cands.get(cid, {})
        why = rejection(ev, row)
        if cid == k.get("selected_candidate"):
            outcome = "selected"
        elif why.startswith("predict: "):
            outcome = "ruled out, not validated"
        elif why:
            outcome = "rejected"
        else:
            outcome = "correct, slower" if (ev.get("score_ms") or 0) > (sel.get("score_ms") or 0) \
                else "correct, within noise"
        cand_rows.append([f"`{cid.split('/', 1)[-1]}`", ev["candidate"].get("origin", ""),
                          json.dumps(ev["candidate"].get("params", {}), sort_keys=True),
                          _fmt(ev.get("score_ms")) if ev.get("score_ms") else "—", outcome, clean_reason(why)])
    lines += ["### Candidates", ""]
    lines += _table(["candidate", "origin", "parameters", "ms", "outcome", "reason"], cand_rows)
    lines.append("")
    # correctness evidence
    val = sel.get("validation") or {}
    cases = val.get("cases", [])
    lines += ["### Correctness", "",
              f"`{(sel.get('candidate') or {}).get('id', '—')}` on **{val.get('device', '—')}** "
              f"(wavefront {val.get('wavefront', '—')}): **{'passed' if val.get('passed') else 'FAILED'}** "
              f"over {len(cases)} case(s).", ""]
    shown = sorted(cases, key=lambda c: (c.get("passed", False), -(c.get("max_rel_error") or 0)))[:MAX_CASE_ROWS]
    if cases:
        lines += _table(["sizes", "dtype", "max abs err", "max rel err", "atol", "rtol", "result"],
                        [[_sizes(c.get("sizes")), c.get("dtype"), _fmt(c.get("max_abs_error")),
                          _fmt(c.get("max_rel_error")), _fmt(c.get("atol")), _fmt(c.get("rtol")),
                          "pass" if c.get("passed") else f"FAIL: {c.get('failure')}"] for c in shown])
        if len(cases) > len(shown):
            lines += ["", f"_{len(shown)} of {len(cases)} cases shown (failures and the largest errors first); "
                          f"all of them: `results/{name}/evaluations.json`._"]
        lines.append("")
    # timings
    timing_rows = []
    for label, ev in (("library", base), ("selected", sel)):
        if label == "selected" and ev is base:
            continue
        for b in (ev.get("bench") or []):
            timing_rows.append([label, _sizes(b.get("sizes")), b.get("dtype"), _fmt(b.get("median_ms")),
                                _fmt(b.get("spread_ms")), _fmt(b.get("gbs")),
                                f"{100 * (b.get('roofline_fraction') or 0):.0f}%", timing_kind(b.get("method"))])
            if b.get("baseline_median_ms"):
                timing_rows.append([f"vendor ({b.get('baseline_name')})", _sizes(b.get("sizes")), b.get("dtype"),
                                    _fmt(b.get("baseline_median_ms")), "—", "—", "—", timing_kind(b.get("method"))])
    if timing_rows:
        lines += ["### Timing", ""]
        lines += _table(["version", "sizes", "dtype", "median ms", "spread ms", "GB/s", "of roofline", "timing"],
                        timing_rows[:MAX_TIMING_ROWS])
        if len(timing_rows) > MAX_TIMING_ROWS:
            lines += ["", f"_{MAX_TIMING_ROWS} of {len(timing_rows)} rows shown; all: `results/{name}/`._"]
        lines.append("")
    # resources
    rb, rs = base.get("resources") or {}, sel.get("resources") or {}
    res = [("VGPRs / registers", "registers"), ("SGPRs", "sgprs"), ("LDS / shared bytes", "shared_bytes"),
           ("spill bytes", "spill_bytes"), ("occupancy", "occupancy_fraction")]
    if sel is base and rb:
        lines += ["### Resources", "", "; ".join(f"{n} {_fmt(rb.get(key))}" for n, key in res), ""]
    elif rb or rs:
        lines += ["### Resources", ""]
        lines += _table(["resource", "library", "selected"], [[n, _fmt(rb.get(key)), _fmt(rs.get(key))]
                                                               for n, key in res])
        lines.append("")
    # hazards
    translate = kernel_result(run_dir, name, "translate")
    hazards = (translate.get("payload") or {}).get("hazards", [])
    if translate:
        lines += ["### Hazards", ""]
        if hazards:
            lines += _table(["line", "kind", "severity", "fixed", "message"],
                            [[h.get("line", ""), h.get("kind"), h.get("severity", ""),
                              "yes" if h.get("fixed") else "no", h.get("message", "")] for h in hazards])
        else:
            lines.append("none found by the translator")
        lines.append("")
    plot = plot_dir / f"{name}-time.png"
    if plots.time_vs_size(name, base, sel if sel is not base else None, plot):
        lines += [f"![{name}: time against size](plots/{plot.name})", ""]
    return lines


def _model_section(summ: dict[str, Any]) -> list[str]:
    """Every model call and what became of it (runs whose strategy uses a model)."""
    model = summ.get("model")
    if model is None:
        return []
    lines = ["## Model calls", ""]
    if not model.get("calls"):
        return lines + ["No model call was made (the notes above say why).", ""]
    lines += [f"{model['calls']} call(s) to {model.get('model') or 'the model'}, {model['seconds']:.1f} s, "
              f"{model['tokens_out']} tokens out; " + ", ".join(f"{n} {o}" for o, n in sorted(model["outcomes"].items())),
              ""]
    lines += _table(["kernel", "kind", "candidate", "outcome", "s", "tokens out", "cut", "why"],
                    [[c["kernel"], c["kind"], c["candidate"] or "—", f"**{c['outcome']}**", f"{c['seconds']:.1f}",
                      c["tokens_out"], c["cut"] or "—", clean_reason(c["why"])[:140] or "—"] for c in model["list"]])
    return lines + [""]


def _stages_section(summ: dict) -> list[str]:
    stages = summ.get("stages") or {}
    if not stages:
        return []
    order = [s for s in STAGE_ORDER if s in stages] + sorted(s for s in stages if s not in STAGE_ORDER)
    rows = []
    for st in order:
        c = stages[st]
        fails = ", ".join(f"{n} {cause}" for cause, n in sorted((summ.get("failures") or {}).get(st, {}).items()))
        skips = ", ".join(f"{n} {cause}" for cause, n in sorted((summ.get("skips") or {}).get(st, {}).items()))
        rows.append([st, c.get("ok", 0), c.get("estimated", 0), c.get("skipped", 0), c.get("failed", 0),
                     c.get("cached", 0), "; ".join(x for x in (fails, skips) if x)])
    return ["## Stages", "", "In pipeline order.", "",
            *_table(["stage", "ran", "estimated", "skipped", "failed", "from cache", "causes"], rows), ""]


def _toolchain_section(run: dict, summ: dict) -> list[str]:
    try:
        tools = json.loads(run.get("toolchain_json") or "{}")
    except json.JSONDecodeError:
        tools = {}
    tools = tools or summ.get("toolchain") or {}
    lines = ["## Toolchain", ""]
    lines += _table(["stage", "tool"], [[st, f"`{tool}`"] for st, tool in
                                        sorted(tools.items(), key=lambda kv: STAGE_ORDER.index(kv[0])
                                               if kv[0] in STAGE_ORDER else 99)])
    lines += ["", f"portkern {run.get('portkern_version', '')}; started {run.get('started_at')}, "
                  f"finished {run.get('finished_at')}; executor {run.get('executor')}.", ""]
    return lines
