"""Where the large runs of a timing are built and checked: numpy on the host, or CuPy on the GPU.

A timing checks several runs at the bench size (the last timed call of each work buffer and a run on
fresh inputs), each against its inputs and a float64 reference. On the host that is seconds of numpy
per run at 2^24-2^26 elements; on the GPU it is milliseconds. With ``bench.check_on`` "auto" (the
default) and CuPy able to reach a GPU, both sides work there:

- the worker builds its input pool with the same counter-based generator on the device (no host
  arrays, no host-to-device copies);
- the caller, which alone decides, rebuilds the inputs of each reported run from its seed on the
  device, computes the library's float64 reference there (references are written against an array
  namespace) and runs the same checks (``compare.check_run``) on CuPy arrays. Only the worker's raw
  output buffers cross to the caller; read-only arguments cross as keyed digests computed on the
  device (``portkern.harness.digest``), compared here with those of the rebuilt inputs.

The caller's GPU work holds the device's key in the worker pool, so it never runs while a candidate
is timed on that GPU. With several GPUs the caller checks on the first one.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import numpy as np

from portkern.errors import ConfigError

MODES = ("auto", "device", "host")


@functools.lru_cache(maxsize=1)
def _device_cupy() -> tuple[Any, str]:
    """(cupy, "") when CuPy is installed and sees a GPU, else (None, why not)."""
    try:
        import cupy
    except ImportError:
        return None, "CuPy is not installed"
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # no driver, no device: CuPy raises its own runtime errors
        return None, f"CuPy sees no GPU ({type(exc).__name__}: {str(exc)[:120]})"
    if count < 1:
        return None, "CuPy sees no GPU"
    return cupy, ""


def check_namespace(runner: Any) -> Any:
    """numpy or CuPy: the namespace a timing on ``runner`` builds and checks its runs in."""
    from portkern.config import load_config

    mode = str(load_config()["bench"]["check_on"]).strip().lower()
    if mode not in MODES:
        raise ConfigError(f"bench.check_on must be one of {', '.join(MODES)}, got {mode!r}",
                          hint="auto checks on the GPU when CuPy sees one; host keeps every check in numpy")
    if mode == "host" or not getattr(runner, "times_on_device", False):
        return np
    cupy, why = _device_cupy()
    if cupy is None:
        if mode == "device":
            raise ConfigError(f"bench.check_on is 'device' but {why}",
                              hint="install CuPy for this CUDA version, or set bench.check_on to auto or host")
        return np
    return cupy


@contextlib.contextmanager
def holding_device(runner_name: str, xp: Any) -> Iterator[None]:
    """Hold the first GPU's key in the worker pool while the caller works on it (nothing for numpy),
    then hand CuPy's cached blocks back so the worker can use the memory."""
    if xp is np:
        yield
        return
    from portkern import worker

    with worker.worker_pool().lease([(runner_name, 0)]):
        try:
            yield
        finally:
            xp.get_default_memory_pool().free_all_blocks()
