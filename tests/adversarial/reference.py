"""float64 reference of every adversarial kernel: they all claim to compute z = a*x + y.

Written without an array namespace (the older calling convention, still supported), and with the
terms' magnitudes: the cheats must be rejected under the tolerance that follows them.
"""

from __future__ import annotations


def axpby_out(args, dtype):
    ax = args["a"] * args["x"]
    return {"z": ax + args["y"], "__magnitudes__": {"z": abs(ax) + abs(args["y"])}}
