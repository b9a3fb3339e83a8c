"""The run summary as plain text for a terminal: fits 80 columns, one line per kernel, each fact once.

Plain text on purpose: a table library wraps long cells one word per line at 80 columns and
highlights numbers inside names (``mi300x``); here every line is cut or wrapped deliberately.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

from portkern.emit.report import STAGE_ORDER, clean_reason, flatten_parens

WIDTH = 80


def _ms(v: float | None) -> str:
    return "-" if not v else f"{v:.4g}"


def _cut(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _wrap(text: str, width: int = WIDTH, first: str = "- ", rest: str = "  ") -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent=first, subsequent_indent=rest,
                         break_long_words=True, break_on_hyphens=False) or [first.rstrip()]


def _pack(first: str, items: list[str], width: int, indent: str = "  ") -> list[str]:
    """Items joined with ', ', lines broken only between items."""
    lines, cur = [], first
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if len(cur) + len(piece) + 1 > width and cur.strip():
            lines.append(cur.rstrip())
            cur = indent
        cur += ("" if cur in (first, indent) else " ") + piece
    lines.append(cur.rstrip())
    return lines


_REASONS = [
    (re.compile(r"^no candidate beat the base beyond the measured spread$"), "no faster candidate"),
    (re.compile(r"^\S+?/(\S+) beats the base beyond the measured spread$"), r"\1 faster"),
]


def short_reason(reason: str) -> str:
    for pattern, repl in _REASONS:
        if pattern.match(reason):
            return pattern.sub(repl, reason)
    return reason


def summary_lines(s: dict[str, Any], width: int = WIDTH) -> list[str]:
    kernels = s.get("kernels") or []
    counts: dict[str, int] = {}
    for k in kernels:
        counts[k["status"]] = counts.get(k["status"], 0) + 1
    verdict = ", ".join(f"{n} {st}" for st, n in sorted(counts.items(), key=lambda x: (-x[1], x[0])))
    lines = [_cut(f"{s.get('library')} on {s.get('target')}: {len(kernels)} kernel(s), {verdict}", width)]
    # stages in pipeline order, on as few lines as fit
    stages = s.get("stages") or {}
    order = [st for st in STAGE_ORDER if st in stages] + sorted(st for st in stages if st not in STAGE_ORDER)
    parts = []
    for st in order:
        c = stages[st]
        bits = [f"{c[k]}" + ("" if k == "ok" else f" {k}") for k in ("ok", "estimated", "failed", "skipped")
                if c.get(k)]
        parts.append(f"{st} {' + '.join(bits) or '0'}")
    lines += _pack("stages: ", parts, width)
    for kind, label in (("failures", "failed"), ("skips", "skipped")):
        for st in order:
            causes = (s.get(kind) or {}).get(st) or {}
            if causes:
                lines += _wrap(f"{st} {label}: " + ", ".join(f"{n} {c}" for c, n in sorted(causes.items())),
                               width, first="  ", rest="    ")
    # one line per kernel
    name_w = min(max([len("kernel")] + [len(k["kernel"]) for k in kernels]), 24)
    head = f"{'kernel':<{name_w}}  {'status':<9} {'base ms':>8} {'best ms':>8} {'speedup':>7}  why"
    lines += ["", head]
    why_w = max(width - len(head) + 3, 12)
    for k in kernels:
        speed = f"{k['speedup']:.2f}x" if k.get("speedup") else "-"
        timing = "predicted" if k.get("timing_method") == "estimate" else ""
        why = short_reason(clean_reason(k.get("reason") or ""))
        if k.get("status") == "improved" and timing:
            why = f"{why}, {timing}"
        lines.append(f"{_cut(k['kernel'], name_w):<{name_w}}  {k['status']:<9} {_ms(k.get('base_ms')):>8} "
                     f"{_ms(k.get('selected_ms')):>8} {speed:>7}  {_cut(why, why_w)}")
    # notes, each once; stage reasons that repeat a note are left out
    notes = [flatten_parens(n) for n in s.get("notes") or []]
    noted_stages = {n.split(":", 1)[0].strip() for n in notes}
    extra = []
    for st, reasons in (s.get("reasons") or {}).items():
        if st in noted_stages:
            continue
        for reason, n in reasons.items():
            extra.append(flatten_parens(f"{st} ({n}x): {reason}" if n > 1 else f"{st}: {reason}"))
    if notes or extra:
        lines.append("")
        for note in dict.fromkeys(notes + extra):
            lines += _wrap(note, width)
    cache = s.get("cache") or {}
    lines += ["", f"cache: {cache.get('cached', 0)} stage(s) reused, {cache.get('computed', 0)} computed; "
                  f"wall {s.get('wall_seconds', 0):.1f} s"]
    run_dir = s.get("run_dir", "")
    lines += _wrap(f"run folder: {run_dir}", width, first="", rest="  ")
    lines += _wrap(f"report: {run_dir}/emit/report.md (.html beside it)", width, first="", rest="  ")
    lines.append(f"patch: portkern pr {s.get('run_id', '')}  (git format-patch output; --git commits it)")
    return lines
