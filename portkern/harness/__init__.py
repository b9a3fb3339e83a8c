"""Validation and benchmark harness: seeded inputs, poisoned outputs, hidden cases, honest timing.

    validate(library, kernel, target, runner="emu") -> ValidationResult
    bench(library, kernel, compiled, target, runner=..., sizes=..., dtype=...) -> BenchResult

Runners come from the backends (``backends/<name>/runner.py``): "emu" (CPU emulator), "cuda"
(cuda-python driver API), "hip" (hip-python), and any backend on the backend path.
"""

from __future__ import annotations

from portkern.harness.bench import bench, bench_passed, estimate
from portkern.harness.validate import CasePlan, build, plan_cases, validate, validate_compiled

__all__ = ["CasePlan", "bench", "bench_passed", "build", "estimate", "plan_cases", "validate", "validate_compiled"]
