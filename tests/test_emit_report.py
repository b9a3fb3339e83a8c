"""The report and the console summary of a real run (real clang, the CPU emulator, real SQLite).

The library here has one kernel whose 64-thread instantiation drops the last element of every
block (a candidate validation must reject) and one that the compiler rejects, so the report has
something in each of its sections.
"""

from __future__ import annotations

import json
import re

import pytest
from minilib import MINILIB_YAML, edited, write_minilib

from portkern.emit.plots import size_axis
from portkern.emit.summary_text import flatten_parens, summary_lines
from portkern.pipeline.run import PortOptions, port
from portkern.pipeline.store import RunFolder

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("port-runs")]

# The minilib with a wider sweep, a default the sweep moves away from and two bench sizes (so the
# report has a time plot).
MANIFEST = edited(MINILIB_YAML,
                  ("tunables: {NB: [64, 128, 256]}", "tunables: {NB: [64, 128, 256, 1024]}"),
                  ("defaults: {NB: 256}", "defaults: {NB: 128}"),
                  ("bench: [{n: 16777216}]", "bench: [{n: 1048576}, {n: 16777216}]"))

# NB == 256 skips the last thread of each block: a wrong candidate the sweep will propose. The 32 KiB
# staging buffer caps resident blocks, so larger blocks can beat the default even by estimate.
SCALE_HIP = """\
#include <hip/hip_runtime.h>

template <int NB, typename T>
__global__ __launch_bounds__(NB) void scale_kernel(int n, T alpha, T* x)
{
    __shared__ T stage[8192];
    int i = blockIdx.x * NB + threadIdx.x;
    stage[threadIdx.x] = i < n ? x[i] : T(0);
    __syncthreads();
    if (i < n && !(NB == 256 && threadIdx.x == NB - 1))
        x[i] = alpha * stage[threadIdx.x];
}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    manifest = write_minilib(root, manifest=MANIFEST, scale_hip=SCALE_HIP)
    written = []
    real_write = RunFolder.write_json

    def counting_write(folder, rel, data):
        written.append(rel)
        return real_write(folder, rel, data)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RunFolder, "write_json", counting_write)
        summary = port(PortOptions(library=str(manifest), target="mi300x", budget=3, run_id="rep",
                                   runs_dir=str(root / "runs"), cache_dir=str(root / "cache")))
    assert written.count("summary.json") == 1, written
    return root / "runs" / "rep", summary


def test_summary_json_is_the_final_summary_and_the_report_read_the_same_notes(run):
    run_dir, summary = run
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert on_disk["stages"]["emit"]["ok"] == 1   # written after emit, which it counts
    text = (run_dir / "emit" / "report.md").read_text()
    assert summary["notes"] and all(flatten_parens(n) in text for n in summary["notes"])


def test_report_starts_with_the_answer_and_lists_rejected_candidates(run):
    run_dir, summary = run
    text = (run_dir / "emit" / "report.md").read_text()
    lines = text.splitlines()
    assert lines[0].startswith("# minilib on mi300x: ")
    head = "\n".join(lines[:25])
    assert re.search(r"\| \[scale\]\(#scale\) \| \*\*\w+\*\* \|", head), head
    assert "| [broken](#broken) | **failed** |" in head and "predicted" in head
    # every candidate of scale, the wrong one rejected by validation with its reason
    section = text.split("## scale")[1].split("\n## ")[0]
    nb256 = next(ln for ln in section.splitlines() if '{"NB": 256}' in ln)
    assert "| rejected |" in nb256 and "validate: mismatch" in nb256, nb256
    status = {k["kernel"]: k for k in summary["kernels"]}
    assert status["scale"]["candidates"] == len([ln for ln in section.splitlines() if ln.startswith("| `")])
    broken = text.split("## broken")[1].split("\n## ")[0]
    assert "| rejected |" in broken and "compile" in broken and "undefined_name" in broken
    # the tolerance rule, stages in pipeline order, the toolchain as a table
    assert "atol * max|ref| + rtol * |ref|" in text and "NaN never passes" in text
    stage_rows = [ln.split("|")[1].strip() for ln in text.split("## Stages")[1].split("## Toolchain")[0].splitlines()
                  if ln.startswith("| ") and not ln.startswith("| stage")]
    assert stage_rows == [s for s in ["ingest", "compile", "predict", "validate", "bench", "search", "select", "emit"]
                          if s in stage_rows][: len(stage_rows)]
    assert stage_rows.index("compile") < stage_rows.index("validate") < stage_rows.index("bench")
    assert "| stage | tool |" in text and "clang" in text.split("## Toolchain")[1]
    assert "toolchain_json" not in text and '{"bench"' not in text


def test_report_html_is_one_file_with_the_plots_inside(run):
    run_dir, _ = run
    html = (run_dir / "emit" / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<table>" in html
    assert 'src="plots/' not in html and html.count("data:image/png;base64,") >= 2
    assert '<h2 id="scale">' in html and 'href="#scale"' in html
    for png in ("roofline.png", "scale-time.png"):
        assert (run_dir / "emit" / "plots" / png).stat().st_size > 5000


def test_console_summary_fits_80_columns_and_says_each_thing_once(run):
    _, summary = run
    lines = summary_lines(summary)
    assert all(len(ln) <= 80 for ln in lines), [ln for ln in lines if len(ln) > 80]
    body = [ln for ln in lines if ln.strip()]
    assert len(body) == len(set(body))
    kernel_rows = [ln for ln in lines if ln.startswith(("scale ", "broken "))]
    assert len(kernel_rows) == 2
    # one line per kernel plus a fixed head and tail: a 27-kernel library (blas) stays within 60
    assert len(lines) - len(kernel_rows) + 27 <= 60
    assert not any(re.search(r"\([^()]*\([^()]*\(", ln) for ln in lines), "notes nested three deep"


def test_summary_helpers():
    assert flatten_parens("a (b (c (d)) e)") == "a (b, c, d e)"
    label, xs = size_axis([{"sizes": {"n": 10, "incx": 1}}, {"sizes": {"n": 100, "incx": 2}}])
    assert label == "n" and xs == [10.0, 100.0]
    label, xs = size_axis([{"sizes": {"m": 8, "n": 8}, "bytes_moved": 64.0},
                           {"sizes": {"m": 16, "n": 4}, "bytes_moved": 128.0}])
    assert label == "bytes moved per call" and xs == [64.0, 128.0]


def test_port_cli_json_error_is_json(capsys, tmp_path):
    from portkern.cli import main

    rc = main(["port", "--lib", str(tmp_path / "nope.yaml"), "--target", "mi300x", "--json"])
    assert rc == 3  # an input error
    data = json.loads(capsys.readouterr().out)
    assert data["error"]["cause"] == "manifest" and "nope.yaml" in data["error"]["message"]


def test_compile_error_names_the_users_file_once_with_the_package(tmp_path, capsys):
    from portkern.cli import main

    src = tmp_path / "uses_rocprim.hip"
    src.write_text("#include <hip/hip_runtime.h>\n#include <rocprim/rocprim.hpp>\n__global__ void k(float* x) { x[0] = 1; }\n")
    rc = main(["compile", str(src), "--target", "mi300x", "--no-cache"])
    assert rc == 4  # a failed stage
    err = capsys.readouterr().err
    if "not found" not in err:
        pytest.skip(f"this machine compiles rocprim: {err[:200]}")
    assert str(src) in err and "portkern-compile-" not in err
    assert err.count("'rocprim/rocprim.hpp' file not found") == 1
    assert "librocprim-dev" in err


def test_a_candidate_the_model_ruled_out_is_not_reported_as_failing_validation():
    from portkern.emit.report import rejection

    ruled_out = {"compiled": True, "validation": None,
                 "prediction": {"kept": False, "reason": "ruled out by the performance model: predicted 0.48x over k/sweep-6"}}
    assert rejection(ruled_out, {}) == "predict: ruled out by the performance model: predicted 0.48x over k/sweep-6"
    failed = {"compiled": True, "prediction": {"kept": True},
              "validation": {"passed": False, "failure": "mismatch",
                             "cases": [{"passed": False, "sizes": {"n": 7}, "dtype": "float32"}]}}
    assert rejection(failed, {}).startswith("validate: mismatch at n=7 float32")
