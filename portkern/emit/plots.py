"""The report's plots: time against size per kernel, the roofline, the speedup per kernel.

- Time against size: one line per (version, dtype), never a line joining dtypes; the x axis is the
  size parameter that varies across the bench sizes (strides and fixed parameters are not sizes),
  the bytes a call moves when several vary together, the first size when none varies.
- Roofline: numbered points, their names in a legend (no labels printed on top of each other);
  hollow markers for predicted times.
- Speedup: one bar per kernel, the 1.0 line drawn, predicted bars hatched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

from portkern.targets import get_target  # noqa: E402

_DTYPE_PEAK = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32", "float64": "fp64"}


@dataclass
class RoofPoint:
    label: str
    intensity: float          # FLOP per byte
    flops_per_s: float
    dtype: str = ""
    predicted: bool = False


def size_axis(benches: list[dict]) -> tuple[str, list[float]]:
    """(axis label, x per bench row): the size parameter that varies, else the bytes moved."""
    sizes = [b.get("sizes") or {} for b in benches]
    keys = [k for k in (sizes[0] if sizes else {}) if not k.startswith(("inc", "ld", "stride", "batch_stride"))]
    varying = [k for k in keys if len({s.get(k) for s in sizes}) > 1]
    if len(varying) == 1:
        k = varying[0]
        return k, [float(s.get(k) or 0) for s in sizes]
    if varying and all(b.get("bytes_moved") for b in benches):
        return "bytes moved per call", [float(b["bytes_moved"]) for b in benches]
    k = (varying or keys or [""])[0]
    if k:
        return k, [float(s.get(k) or 0) for s in sizes]
    return "size", [float(i + 1) for i in range(len(benches))]


def time_vs_size(kernel: str, base: dict | None, sel: dict | None, out: Path) -> bool:
    """One line per (version, dtype); the vendor baseline dashed. False when there is nothing to draw."""
    rows: list[tuple[str, dict]] = [("library", b) for b in (base or {}).get("bench") or [] if b.get("median_ms")]
    rows += [("selected", b) for b in (sel or {}).get("bench") or [] if b.get("median_ms")]
    if not rows:
        return False
    xlabel, xs = size_axis([b for _, b in rows])
    series: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    vendor: dict[str, list[tuple[float, float]]] = {}
    for (label, b), x in zip(rows, xs):
        series.setdefault((label, b.get("dtype") or ""), []).append((x, b["median_ms"], b.get("spread_ms") or 0.0))
        if b.get("baseline_median_ms") and label == ("selected" if sel else "library"):
            vendor.setdefault(b.get("dtype") or "", []).append((x, b["baseline_median_ms"]))
    predicted = any(b.get("method") == "estimate" for _, b in rows)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    dtypes = sorted({d for _, d in series})
    for (label, dtype), pts in sorted(series.items()):
        pts.sort()
        px, py, pe = zip(*pts)
        color = colors[dtypes.index(dtype) % len(colors)]
        ax.errorbar(px, py, yerr=pe if any(pe) else None, marker="o" if label == "library" else "^",
                    linestyle="-" if label == "selected" else ":", color=color, capsize=3,
                    label=f"{label}, {dtype}")
    for dtype, pts in sorted(vendor.items()):
        pts.sort()
        ax.plot(*zip(*pts), marker="s", linestyle="--", color="gray", label=f"vendor library, {dtype}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda v, _pos: f"{v:g}")
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel("median time (ms)" + (", predicted" if predicted else ""))
    ax.set_title(f"{kernel}: time against {xlabel}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def roofline(target_name: str, points: list[RoofPoint], out: Path) -> bool:
    """The target's roofline per dtype present, each point numbered and named in the legend.

    Points that would sit on top of each other share one label ("4, 6, 8") instead of printing
    their numbers over one another.
    """
    points = [p for p in points if p.intensity > 0 and p.flops_per_s > 0]
    if not points:
        return False
    t = get_target(target_name)
    bw = t.peak_bandwidth_gbs * 1e9
    dtypes = sorted({p.dtype or "float32" for p in points})
    roofs: dict[float, list[str]] = {}
    for d in dtypes:
        peak = t.peak_flops.get(_DTYPE_PEAK.get(d, "fp32")) or t.peak_flops["fp32"]
        roofs.setdefault(peak, []).append(_DTYPE_PEAK.get(d, d))
    top = max(roofs)
    lo = min(min(p.intensity for p in points) / 4, 1e-2)
    hi = max(max(p.intensity for p in points) * 4, top / bw * 8)
    xs = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    fig, ax = plt.subplots(figsize=(9.5, 5.4))
    for j, (peak, names) in enumerate(sorted(roofs.items(), reverse=True)):
        ax.plot(xs, [min(peak, x * bw) for x in xs], color="black", linestyle=["-", "--", ":", "-."][j % 4],
                linewidth=1.2, label=f"roof {', '.join(names)}: {peak / 1e12:.0f} TFLOP/s, "
                                     f"{t.peak_bandwidth_gbs:g} GB/s")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(min(min(p.flops_per_s for p in points), lo * bw) / 2, top * 2.5)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    markers = ["o", "s", "^", "D", "v", "P"]
    mixed = len({p.predicted for p in points}) > 1
    for i, p in enumerate(points, 1):
        c = colors[(i - 1) % len(colors)]
        ax.scatter([p.intensity], [p.flops_per_s], s=60, zorder=3, edgecolors=c,
                   marker=markers[((i - 1) // len(colors)) % len(markers)],
                   facecolors="none" if p.predicted else c, linewidths=1.5,
                   label=f"{i}. {p.label}" + (" (predicted)" if p.predicted and mixed else ""))
    # one label per cluster of points closer than a label's size on the page
    fig.canvas.draw()
    pix = [ax.transData.transform((p.intensity, p.flops_per_s)) for p in points]
    clusters: list[list[int]] = []
    for i, (px, py) in enumerate(pix):
        for cl in clusters:
            cx, cy = pix[cl[0]]
            if abs(px - cx) < 18 and abs(py - cy) < 12:
                cl.append(i)
                break
        else:
            clusters.append([i])
    for k, cl in enumerate(clusters):
        x, y = points[cl[0]].intensity, points[cl[0]].flops_per_s
        text = ", ".join(str(i + 1) for i in cl)
        ax.annotate(text, (x, y), fontsize=7, xytext=(8, [4, -10, 12][k % 3]), textcoords="offset points",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("FLOP/s")
    all_predicted = all(p.predicted for p in points)
    ax.set_title(f"kernels on the {t.name} roofline" + (" (predicted times)" if all_predicted else
                                                         " (hollow: predicted)" if mixed else ""))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
              ncol=2 if len(points) > 26 else 1)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def speedup_bars(run_id: str, speedups: list[tuple[str, float, str]], out: Path) -> bool:
    """One bar per kernel (selected over original), 1.0 marked; predicted bars hatched."""
    if not speedups:
        return False
    names = [s[0] for s in speedups]
    values = [s[1] for s in speedups]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.45 * len(names) + 2.5), 4.2))
    colors = ["tab:green" if v > 1.0 else "tab:gray" for v in values]
    bars = ax.bar(range(len(names)), values, width=0.6, color=colors, edgecolor="black", linewidth=0.6)
    pad = max(0.0, (4 - len(names)) / 2)
    ax.set_xlim(-0.6 - pad, len(names) - 0.4 + pad)
    for bar, (_, v, kind) in zip(bars, speedups):
        if kind == "predicted":
            bar.set_hatch("//")
        ax.annotate(f"{v:.2f}x", (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom", fontsize=7,
                    xytext=(0, 2), textcoords="offset points")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=45 if len(names) > 4 else 0, ha="right" if len(names) > 4 else "center",
                       fontsize=8)
    ax.set_ylabel("speedup over the library (x)")
    ax.set_ylim(0, max(max(values) * 1.15, 1.2))
    kinds = {s[2] for s in speedups}
    ax.set_title(f"{run_id}: speedup per kernel" + (" (hatched: predicted)" if "predicted" in kinds else ""))
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True
