from __future__ import annotations

import click

from portkern.cli.output import emit_json, json_option, table
from portkern.targets import get_target, load_targets


@click.command("targets")
@click.argument("name", required=False)
@json_option
def command(name: str | None, as_json: bool) -> None:
    """List the target GPUs (or show one): architecture, wavefront width, memory, peaks, and sources."""
    targets = [get_target(name)] if name else list(load_targets().values())
    if as_json:
        emit_json([t.to_dict() for t in targets])
        return
    rows = []
    for t in targets:
        rows.append([t.name, t.vendor, t.arch, t.wavefront, t.compute_units, t.max_threads_per_block,
                     f"{t.shared_bytes_per_block // 1024} / {t.shared_bytes_per_cu // 1024}",
                     t.registers_per_cu, f"{t.peak_bandwidth_gbs:g}",
                     f"{t.peak_flops['fp64'] / 1e12:g}", f"{t.peak_flops['fp32'] / 1e12:g}",
                     f"{t.peak_flops.get('fp16_matrix', 0) / 1e12:g}"])
    table("portkern targets", ["name", "vendor", "arch", "wave", "CUs/SMs", "max thr/blk", "LDS KiB blk/CU",
                               "regs/CU", "GB/s", "fp64 TF", "fp32 TF", "fp16 mx TF"], rows)
    if name:
        t = targets[0]
        table(f"{t.name}: where each figure comes from", ["figure", "source"], sorted(t.sources.items()))
