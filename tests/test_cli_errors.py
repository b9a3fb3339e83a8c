"""Every bad input ends in a message and a distinct exit code, never a traceback; one run id, one process."""

from __future__ import annotations

from pathlib import Path

import pytest

from portkern.cli import EXIT_INPUT, EXIT_STAGE, EXIT_USAGE, main
from portkern.errors import ManifestError
from portkern.library import parse_manifest
from portkern.runlock import RunLockedError, run_lock

ADVERSARIAL = Path(__file__).parent / "adversarial"


def run(capsys, *argv: str) -> tuple[int, str]:
    rc = main(list(argv))
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text, text
    return rc, text


def test_usage_input_and_stage_errors_have_distinct_codes(capsys, tmp_path):
    rc, text = run(capsys, "port", "--lib", "blas", "--target", "h100", "--kernels", ",,,")
    assert rc == EXIT_USAGE and "--kernels" in text
    rc, text = run(capsys, "port", "--lib", "blas", "--target", "h100", "--run-id", "r" * 400)
    assert rc == EXIT_USAGE and "--run-id" in text
    rc, text = run(capsys, "port", "--lib", "blas", "--target", "h100", "--run-id", "../escape")
    assert rc == EXIT_USAGE
    rc, text = run(capsys, "port", "--lib", "blas", "--target", "no-such-gpu")
    assert rc == EXIT_INPUT and "unknown target" in text
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    rc, text = run(capsys, "port", "--lib", "blas", "--target", "h100", "--run-id", "r1", "--runs-dir", str(a_file))
    assert rc == EXIT_INPUT and "a-file" in text
    rc, text = run(capsys, "port", "--no-such-option")
    assert rc == EXIT_USAGE
    bad = tmp_path / "bad.cu"
    bad.write_text("__global__ void k(float* x) { x[0] = nope; }\n")
    rc, text = run(capsys, "compile", str(bad), "--target", "h100")
    assert rc == EXIT_STAGE and "nope" in text


def test_non_utf8_source_is_an_input_error(capsys, tmp_path):
    src = tmp_path / "latin1.cu"
    src.write_bytes(b"// caf\xe9\n__global__ void k(float* x) { x[0] = 1; }\n")
    for argv in (["compile", str(src), "--target", "h100"], ["translate", str(src), "--to", "hip"]):
        rc, text = run(capsys, *argv)
        assert rc in (0, EXIT_INPUT), (argv, rc, text)
        if rc:
            assert "UTF-8" in text or "text" in text


def test_a_second_process_on_the_same_run_id_is_refused(capsys, tmp_path):
    with run_lock(tmp_path, "shared-id"):
        with pytest.raises(RunLockedError, match="already running"):
            with run_lock(tmp_path, "shared-id"):
                pass
        rc, text = run(capsys, "port", "--lib", "blas", "--target", "h100", "--run-id", "shared-id",
                       "--runs-dir", str(tmp_path))
        assert rc == EXIT_INPUT and "already running" in text
    with run_lock(tmp_path, "shared-id"):     # released when the holder let go
        pass


MANIFEST_HEAD = """name: broken
dialect: cuda
sources: ['*.cu']
"""
KERNEL = """kernels:
  - name: k
    family: adversarial
    file: honest.cu
    symbol: honest_axpby
    dtypes: {dtypes}
    template_args: [T]
    args:
      - {{name: n, role: size, dtype: int32, value: n}}
      - {{name: a, role: scalar}}
      - {{name: x, role: input, shape: "{shape}"}}
      - {{name: y, role: input, shape: n}}
      - {{name: z, role: output, shape: n}}
    launch: {{grid: ["ceil_div(n, 256)", 1, 1], block: [256, 1, 1]}}
    reference: reference.py:axpby_out
    constraints: {constraints}
    sizes:
      validate: [{{n: {n}}}]
      bench: [{{n: 1024}}]
"""


def manifest(tmp_path: Path, head: str = MANIFEST_HEAD, **kw: str) -> Path:
    values = {"dtypes": "[float32]", "shape": "n", "constraints": "[]", "n": "256", **kw}
    (tmp_path / "honest.cu").write_text((ADVERSARIAL / "honest.cu").read_text())
    (tmp_path / "reference.py").write_text((ADVERSARIAL / "reference.py").read_text())
    path = tmp_path / "library.yaml"
    path.write_text(head + KERNEL.format(**values))
    return path


@pytest.mark.parametrize("case", [
    {"constraints": '["1/0"]'}, {"dtypes": "[]"}, {"n": "true"}, {"shape": "n ** n ** n"},
    {"head": MANIFEST_HEAD + 'compile_flags: "-O3"\n'}, {"dtypes": "[float32, 7]"}, {"n": "-5"},
    {"shape": "(" * 300 + "n" + ")" * 300}, {"constraints": '["n ** 99999999"]'},
])
def test_bad_manifests_are_refused_with_the_field(tmp_path, case):
    case = dict(case)
    head = case.pop("head", MANIFEST_HEAD)
    with pytest.raises(ManifestError) as info:
        parse_manifest(manifest(tmp_path, head, **case))
    assert len(str(info.value)) < 2000


def test_a_yaml_alias_bomb_is_refused_quickly(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 13):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join(f"*{prev}" for _ in range(9)) + "]")
    path = tmp_path / "library.yaml"
    path.write_text("\n".join(lines) + "\nname: bomb\ndialect: cuda\nkernels: *m\n")
    with pytest.raises(ManifestError, match="aliases") as info:
        parse_manifest(path)
    assert len(str(info.value)) < 2000


def test_non_utf8_manifest(tmp_path):
    path = tmp_path / "library.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ManifestError, match="UTF-8"):
        parse_manifest(path)
