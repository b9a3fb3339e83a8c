from __future__ import annotations

import json
import os

from click.testing import CliRunner

from portkern.cli import cli

KERNEL = """#include <cuda_runtime.h>
#include "common.cuh"
__global__ void scale(float* x, float a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = a * x[i] + helper();
  asm volatile("membar.gl;");
}
void run(float* x, int n) { scale<<<(n + 255) / 256, 256>>>(x, 2.f, n); cudaDeviceSynchronize(); }
"""
HEADER = "#pragma once\n#define CHECK(x) (x == cudaSuccess)\n__device__ inline float helper() { return 1.f; }\n"


def _project(tmp_path):
    src = tmp_path / "proj"
    src.mkdir()
    (src / "scale.cu").write_text(KERNEL)
    (src / "common.cuh").write_text(HEADER)
    return src


def test_translate_writes_files_and_the_headers_they_include(tmp_path):
    src = _project(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["translate", str(src / "scale.cu"), "--to", "hip", "-o", str(out), "--report"])
    assert result.exit_code == 0, result.output
    assert "#include <hip/hip_runtime.h>" in (out / "scale.cu").read_text()
    assert "hipDeviceSynchronize();" in (out / "scale.cu").read_text()
    assert "(x == hipSuccess)" in (out / "common.cuh").read_text()   # found through #include "..."
    assert "scale.cu:6:3: error: [inline-asm, open]" in result.output


def test_translate_json_gives_counts_and_hazards(tmp_path):
    src = _project(tmp_path)
    result = CliRunner().invoke(cli, ["translate", str(src), "--to", "hip", "--launch-syntax", "ggl", "--json"])
    assert result.exit_code == 0, result.output
    data = {d["filename"]: d for d in json.loads(result.output)}
    assert set(data) == {"scale.cu", "common.cuh"}
    scale = data["scale.cu"]
    assert scale["converted"]["launch"] == 1 and scale["converted"]["runtime"] == 1
    assert "hipLaunchKernelGGL(scale, dim3((n + 255) / 256), dim3(256), 0, 0, x, 2.f, n);" in scale["text"]
    [asm] = [h for h in scale["hazards"] if h["kind"] == "inline-asm"]
    assert asm["line"] == 6 and asm["region"]["text"].strip() == 'asm volatile("membar.gl;");'


def test_translate_in_place_and_conflicting_options(tmp_path):
    src = _project(tmp_path)
    runner = CliRunner()
    bad = runner.invoke(cli, ["translate", str(src), "--to", "hip", "-o", str(tmp_path / "o"), "--in-place"])
    assert bad.exit_code != 0 and "not both" in bad.output
    ok = runner.invoke(cli, ["translate", str(src), "--to", "hip", "--in-place"])
    assert ok.exit_code == 0, ok.output
    back = runner.invoke(cli, ["translate", str(src), "--to", "cuda", "--in-place"])
    assert back.exit_code == 0, back.output
    assert (src / "scale.cu").read_text() == KERNEL and (src / "common.cuh").read_text() == HEADER


def test_translate_keeps_each_file_mode_in_place_and_in_the_output_folder(tmp_path):
    import stat

    src = _project(tmp_path)
    os.chmod(src / "scale.cu", 0o664)
    os.chmod(src / "common.cuh", 0o640)
    ok = CliRunner().invoke(cli, ["translate", str(src), "--to", "hip", "--in-place"])
    assert ok.exit_code == 0, ok.output
    assert "hipDeviceSynchronize" in (src / "scale.cu").read_text()
    assert stat.S_IMODE((src / "scale.cu").stat().st_mode) == 0o664
    assert stat.S_IMODE((src / "common.cuh").stat().st_mode) == 0o640
    assert sorted(p.name for p in src.iterdir()) == ["common.cuh", "scale.cu"]  # no temporary file left
    out = tmp_path / "out"
    ok = CliRunner().invoke(cli, ["translate", str(src), "--to", "cuda", "-o", str(out)])
    assert ok.exit_code == 0, ok.output
    assert stat.S_IMODE((out / "scale.cu").stat().st_mode) == 0o664
    assert stat.S_IMODE((out / "common.cuh").stat().st_mode) == 0o640
