"""Stage keys cover exactly what a stage reads: one kernel's reference, not the whole library; paths
relative to the library root, so a copy of the library in another folder runs from the cache."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from portkern.library import load_library
from portkern.pipeline import keys
from portkern.pipeline.run import PortOptions, port

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "libs" / "tunelib"

# tunelib with a second kernel that shares its source file and its reference module.
SECOND_KERNEL = """\
  - name: scale_b
    family: scale_b
    file: src/scale.cpp
    symbol: scale_kernel
    dtypes: [float32]
    args:
      - {name: n, role: size, value: n}
      - {name: alpha, role: scalar}
      - {name: x, role: inout, shape: n}
    template_args: [NB, T]
    launch: {grid: ["ceil_div(n, NB)", 1, 1], block: [NB, 1, 1], shared_bytes: 0}
    reference: reference.py:scale_b
    sizes:
      validate: [{n: 300}]
      bench: [{n: 16777216}]
    bytes: "2 * n * sizeof(T)"
    flops: "n"
    defaults: {NB: 256}
"""
SECOND_REFERENCE = """

def _times(x, alpha):
    return np.asarray(x, dtype=np.float64) * float(alpha)


def scale_b(args, dtype):
    return {"x": _times(args["x"], args["alpha"])}
"""


def two_kernel_library(folder: Path) -> Path:
    lib = folder / "tunelib2"
    shutil.copytree(FIXTURE, lib)
    (lib / "library.yaml").write_text((FIXTURE / "library.yaml").read_text().replace("name: tunelib\n",
                                                                                   "name: tunelib2\n")
                                      + SECOND_KERNEL)
    (lib / "reference.py").write_text((FIXTURE / "reference.py").read_text() + SECOND_REFERENCE)
    return lib


def test_reference_digest_covers_the_kernel_function_and_what_it_uses(tmp_path):
    lib_dir = two_kernel_library(tmp_path)
    lib = load_library(lib_dir)
    a, b = lib.kernel("scale"), lib.kernel("scale_b")
    da, db = keys.reference_digest(lib, a), keys.reference_digest(lib, b)
    ref = lib_dir / "reference.py"
    text = ref.read_text()
    # the helper scale_b calls is part of scale_b's reference, not of scale's
    ref.write_text(text.replace("* float(alpha)", "* float(alpha) * 2"))
    assert keys.reference_digest(lib, a) == da and keys.reference_digest(lib, b) != db
    ref.write_text(text.replace('* float(args["alpha"])}', '* float(args["alpha"]) + 0}'))
    assert keys.reference_digest(lib, a) != da and keys.reference_digest(lib, b) == db
    ref.write_text("import numpy as np\n" + text)  # a new import may change any function
    assert keys.reference_digest(lib, a) != da and keys.reference_digest(lib, b) != db
    # a function that looks names up at run time depends on the whole module
    dynamic = text.replace("def scale(args, dtype):\n", "def scale(args, dtype):\n    globals()\n")
    ref.write_text(dynamic)
    before = keys.reference_digest(lib, a)
    ref.write_text(dynamic.replace("* float(alpha)", "* float(alpha) * 3"))
    assert keys.reference_digest(lib, a) != before


def test_header_digests_are_relative_and_follow_includes(tmp_path):
    lib_dir = two_kernel_library(tmp_path)
    source = (lib_dir / "src" / "scale.cpp").read_text()
    dirs = [str(lib_dir / "include"), str(lib_dir / "src")]
    got = keys.header_digests(source, dirs, str(lib_dir))
    assert list(got) == ["include/tune_sizes.hpp"]  # hip_runtime.h is the toolchain's, not the library's
    moved = tmp_path / "elsewhere" / "tunelib2"
    shutil.copytree(lib_dir, moved)
    assert keys.header_digests(source, [str(moved / "include"), str(moved / "src")], str(moved)) == got
    (moved / "include" / "tune_sizes.hpp").write_text("#pragma once\nconstexpr int TUNE_SCALE_NB = 128;\n")
    assert keys.header_digests(source, [str(moved / "include")], str(moved)) != got


def _computed(db: Path, run_id: str) -> dict[str, str]:
    con = sqlite3.connect(db)
    try:
        return {task: status for task, status in con.execute(
            "SELECT task, status FROM stage_results WHERE run_id = ? AND cache_key != '' AND cached = 0",
            (run_id,))}
    finally:
        con.close()


@pytest.mark.slow
def test_one_reference_edit_recomputes_one_validation_and_a_moved_library_runs_from_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTKERN_CACHE_DIR", str(tmp_path / "cache"))
    lib_dir = two_kernel_library(tmp_path / "a")
    runs, cache = tmp_path / "runs", tmp_path / "cache"

    def run(lib: Path, run_id: str) -> dict:
        return port(PortOptions(library=str(lib / "library.yaml"), target="mi300x", budget=0, run_id=run_id,
                                runs_dir=str(runs), cache_dir=str(cache)))

    first = run(lib_dir, "first")
    assert [k["status"] for k in first["kernels"]] == ["ported", "ported"]
    assert first["cache"]["cached"] == 0

    # scale_b's reference now disagrees with the kernel: only its validation runs again (and fails).
    ref = lib_dir / "reference.py"
    ref.write_text(ref.read_text().replace("* float(alpha)", "* float(alpha) * 2"))
    second = run(lib_dir, "second")
    assert _computed(runs / "index.sqlite", "second") == {"scale_b/original-0.validate": "failed"}
    assert {k["kernel"]: k["status"] for k in second["kernels"]} == {"scale": "ported", "scale_b": "incorrect"}

    # The same library in another folder: every stage comes from the cache.
    moved = tmp_path / "b" / "checkout" / "tunelib2"
    shutil.copytree(lib_dir, moved)
    third = run(moved, "third")
    assert third["cache"]["computed"] == 0 and third["cache"]["cached"] == second["cache"]["cached"] + 1
    assert [k["status"] for k in third["kernels"]] == [k["status"] for k in second["kernels"]]
