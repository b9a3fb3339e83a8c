"""float64 reference of every adversarial kernel: they all claim to compute z = a*x + y."""

from __future__ import annotations


def axpby_out(args, dtype):
    return {"z": args["a"] * args["x"] + args["y"]}
