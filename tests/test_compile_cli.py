"""`portkern compile` end to end with the real compilers."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from portkern.cli import cli

KERNEL = """
#include <hip/hip_runtime.h>
#include "tile.h"
template <int NB>
__global__ void __launch_bounds__(NB) fill(float* y) {
  __shared__ float s[TILE];
  s[threadIdx.x % TILE] = VALUE;
  __syncthreads();
  y[blockIdx.x * NB + threadIdx.x] = s[(threadIdx.x + 1) % TILE];
}
"""


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORTKERN_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "tile.h").write_text("#define TILE 64\n")
    (tmp_path / "fill.hip").write_text(KERNEL)
    return tmp_path


@pytest.mark.skipif(not shutil.which("clang-19") and not shutil.which("hipcc"), reason="no HIP-capable clang")
def test_compile_json_reports_the_entry_with_define_and_include(workdir):
    runner = CliRunner()
    args = ["compile", "fill.hip", "--target", "mi250x", "--entry", "fill<128>", "-I", "inc", "-D", "VALUE=3.0f",
            "--json"]
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    symbol = data["entry_map"]["fill<128>"]
    assert data["resources"][symbol]["shared_bytes"] == 64 * 4
    assert data["resources"][symbol]["max_threads_per_block"] == 128
    assert data["binary_bytes"] > 0 and "binary" not in data
    again = json.loads(runner.invoke(cli, args).output)
    assert again["cached"] is True
    table = runner.invoke(cli, args[:-1])
    assert table.exit_code == 0 and "fill<128>" in table.output and "waves/SIMD" in table.output


@pytest.mark.skipif(not shutil.which("nvcc"), reason="nvcc is not installed")
def test_compile_error_exits_nonzero_with_the_compilers_message(workdir):
    (workdir / "bad.cu").write_text("__global__ void k(float* y) { y[0] = nope; }\n")
    import contextlib
    import io

    from portkern.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["compile", "bad.cu", "--target", "h100"])
    assert code == 4  # a failed stage
    assert "nope" in err.getvalue() and "undefined" in err.getvalue()


@pytest.mark.skipif(not shutil.which("clang-19") and not shutil.which("hipcc"), reason="no HIP-capable clang")
def test_compile_passes_extra_flags_and_a_missing_include_folder_is_an_error(workdir):
    runner = CliRunner()
    # TILE comes only from the extra flag; the shared array's size proves it reached the compiler
    (workdir / "inc" / "tile.h").write_text("")
    args = ["compile", "fill.hip", "--target", "mi250x", "--entry", "fill<64>", "-I", "inc", "-D", "VALUE=1.0f",
            "--json"]
    res = runner.invoke(cli, [*args, "-X", "-DTILE=32", "--flag=-ffast-math"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["resources"][data["entry_map"]["fill<64>"]]["shared_bytes"] == 32 * 4
    assert runner.invoke(cli, args).exit_code != 0       # without the flag TILE is undefined
    missing = runner.invoke(cli, ["compile", "fill.hip", "--target", "mi250x", "-I", "nowhere"])
    assert missing.exit_code != 0 and "nowhere" in str(missing.exception) + missing.output
