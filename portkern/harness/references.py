"""How the harness calls a library's reference function, on numpy or on a device namespace.

A reference is ``fn(args, dtype)`` or, written once for every array namespace, ``fn(args, dtype, xp)``
(``xp`` a keyword argument defaulting to numpy): then the arrays in ``args`` belong to ``xp`` (numpy on
the host and the emulator, CuPy on a GPU) and the function computes with ``xp.`` functions only.
A reference without the ``xp`` parameter gets numpy arrays whatever the caller holds (the arrays are
copied to the host first).

Besides the outputs, a reference may return ``MAGNITUDES``: for an output, the per-element size of
the quantities it is computed from (``sum |x_i * y_i|`` for a dot product, ``|alpha*x| + |y|`` for
an axpy). A correct kernel's rounding error is proportional to that, not to the result, which can be
much smaller when terms cancel; the checker scales its relative tolerance by the larger of the two.

A reference returns ``{UNDEFINED: reason}`` instead of outputs when the inputs leave the answer
ambiguous in finite precision (two pivot candidates that tie within rounding): the checker then
skips the value comparison of that case (guards and inputs are still checked).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

MAGNITUDES = "__magnitudes__"
UNDEFINED = "__undefined__"


def takes_namespace(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` is written against an array namespace (has an ``xp`` parameter)."""
    try:
        return "xp" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def to_host(value: Any) -> Any:
    """A namespace's array as a numpy array (CuPy arrays have ``.get()``); anything else as it is."""
    getter = getattr(value, "get", None)
    if isinstance(value, (np.ndarray, dict)) or not callable(getter):
        return value
    return getter()


def call_reference(fn: Callable[..., Any], args: dict[str, Any], dtype: str, xp: Any = np) -> dict[str, Any]:
    """``fn``'s outputs (and MAGNITUDES, if it gives them) for ``args`` held in namespace ``xp``."""
    if takes_namespace(fn):
        return fn(args, dtype, xp=xp)
    if xp is np:
        return fn(args, dtype)
    return fn({k: to_host(v) for k, v in args.items()}, dtype)


def split_magnitudes(result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(outputs, magnitudes) of a reference's result."""
    outputs = {k: v for k, v in result.items() if k != MAGNITUDES}
    return outputs, dict(result.get(MAGNITUDES) or {})
