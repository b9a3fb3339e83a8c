"""Fuzz: hundreds of generated malformed manifests, expressions, sources, replies and command lines.

Every input must end in a result or a typed portkern error (a message, an exit code other than the
internal-error one), never a traceback, and each within a time bound. The generator is seeded, so a
failure names the seed and the input that caused it.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import time
from pathlib import Path

import pytest
import yaml

from portkern import expr
from portkern.cli import EXIT_INTERNAL, main
from portkern.errors import PortkernError
from portkern.harness.inputs import make_case
from portkern.harness.validate import arch_branches
from portkern.library import parse_manifest
from portkern.llm.replies import check_reply, strip_comments_and_strings

ADVERSARIAL = Path(__file__).parent / "adversarial"
SEED = int(os.environ.get("PORTKERN_FUZZ_SEED", "20261129"))
PER_INPUT_S = 5.0
HONEST = (ADVERSARIAL / "honest.cu").read_text()

GARBAGE = [None, True, False, 0, -1, 2 ** 63, 1e308, float("nan"), "", " ", "n ** n ** n", "1/0", "n/0",
           "((((((((((n", "sizeof(T) * n", "__import__('os')", "n" * 5000, [], [[]], {}, {"a": None},
           ["x"], [1, "y", None], "-O3", "\ud800", "caf\xe9", "\x00", "1e999", "9" * 400, "ceil_div(n, 0)",
           "log2(-1)", "max()", "n if n else", "[1, 2]", {"n": True}, {"n": -5}, {"n": "256"}]
FIELDS_TOP = ["name", "dialect", "sources", "compile_flags", "include_dirs", "macros", "kernels", "license"]
FIELDS_KERNEL = ["name", "file", "symbol", "dtypes", "template_args", "args", "launch", "reference", "sizes",
                 "bytes", "flops", "constraints", "tolerance", "tunables", "defaults", "reduction_length"]


def _honest_manifest() -> dict:
    data = yaml.safe_load((ADVERSARIAL / "library.yaml").read_text())
    data["kernels"] = [data["kernels"][0]]
    return data


def _mutate_manifest(rng: random.Random, base: dict) -> str:
    data = yaml.safe_load(yaml.safe_dump(base))
    kernel = data["kernels"][0]
    for _ in range(rng.randint(1, 3)):
        where = rng.random()
        value = rng.choice(GARBAGE)
        if where < 0.2:
            data[rng.choice(FIELDS_TOP)] = value
        elif where < 0.3:
            data.pop(rng.choice(FIELDS_TOP), None)
        elif where < 0.6:
            kernel[rng.choice(FIELDS_KERNEL)] = value
        elif where < 0.7:
            kernel.pop(rng.choice(FIELDS_KERNEL), None)
        elif where < 0.85:
            arg = rng.choice(kernel["args"]) if isinstance(kernel.get("args"), list) and kernel["args"] else {}
            if isinstance(arg, dict):
                arg[rng.choice(["shape", "value", "role", "dtype", "init", "name", "batched"])] = value
        else:
            sizes = kernel.get("sizes")
            if isinstance(sizes, dict) and isinstance(sizes.get("validate"), list) and sizes["validate"]:
                sizes["validate"][0] = {"n": value}
    text = yaml.safe_dump(data, allow_unicode=True) if rng.random() < 0.8 else yaml.safe_dump(data)
    roll = rng.random()
    if roll < 0.1:
        text = text[: rng.randint(0, len(text))]
    elif roll < 0.2:
        pos = rng.randint(0, len(text))
        text = text[:pos] + rng.choice(["&a [1]", "*a", "{", "]", ":", "\t", "- - -", "!!python/object:os.system"]) + text[pos:]
    return text


def _timed(what: str, fn, *args):
    start = time.monotonic()
    try:
        return fn(*args)
    finally:
        spent = time.monotonic() - start
        assert spent < PER_INPUT_S, f"{what} took {spent:.1f} s (seed {SEED})"


def test_fuzz_manifests(tmp_path):
    rng = random.Random(SEED)
    base = _honest_manifest()
    (tmp_path / "honest.cu").write_text(HONEST)
    (tmp_path / "reference.py").write_text((ADVERSARIAL / "reference.py").read_text())
    accepted = rejected = 0
    for i in range(120):
        text = _mutate_manifest(rng, base)
        path = tmp_path / "library.yaml"
        raw = text.encode("utf-8", "surrogatepass")
        if i % 10 == 9:
            raw = raw.replace(b"name", b"n\xe9me", 1)      # not UTF-8
        path.write_bytes(raw)
        try:
            lib = _timed(f"manifest {i}", parse_manifest, path)
        except PortkernError as exc:
            assert len(str(exc)) < 5000, f"manifest {i}: message of {len(str(exc))} characters"
            rejected += 1
            continue
        accepted += 1
        kernel = lib.kernels[0]
        for sizes in kernel.sizes_validate[:1]:
            try:
                _timed(f"case of manifest {i}", make_case, kernel, sizes, kernel.dtypes[0], 1)
            except PortkernError:
                pass
    assert rejected > 60 and rejected + accepted == 120


EXPR_TOKENS = ["n", "m", "1", "0", "2", "-1", "3.5", "+", "-", "*", "/", "//", "%", "**", "(", ")", "<", "==",
               "and", "or", "if", "else", "ceil_div(", "min(", "max(", "log2(", "sqrt(", "sizeof(T)", ",", "9999",
               "1e308", "__class__", "[", "'x'", "lambda"]


def test_fuzz_expressions():
    rng = random.Random(SEED + 1)
    for _ in range(150):
        text = " ".join(rng.choice(EXPR_TOKENS) for _ in range(rng.randint(1, 14)))
        try:
            value = _timed(f"expression {text!r}", expr.evaluate, text, {"n": 1 << 20, "m": 7}, 4)
        except expr.ExprError:
            continue
        assert isinstance(value, (int, float, bool)), (text, value)


def _mutate_source(rng: random.Random) -> str:
    src = HONEST
    for _ in range(rng.randint(1, 6)):
        pos = rng.randint(0, len(src))
        piece = rng.choice(["/*", "*/", '"', "'", "\\\n", "#if ", "#ifdef PORTKERN_EMU\n", "#define A(x) x##EMU\n",
                            "```", "\ud800", "{", "}", "<<<", ">>>", "template <", "__global__", "\x00", "é",
                            "#include <", "\n#endif\n", "(" * 50, "//", "R\"(", "__CUDA_ARCH__"])
        src = src[:pos] + piece + src[pos:]
    return src


def test_fuzz_sources_and_replies():
    rng = random.Random(SEED + 2)
    for i in range(120):
        src = _mutate_source(rng)
        _timed(f"arch_branches {i}", arch_branches, src, HONEST)
        _timed(f"strip {i}", strip_comments_and_strings, src)
        fence = rng.choice(["```cuda\n{}\n```", "{}", "```\n{}", "text ```cpp\n{}\n``` more ```\nx\n```",
                            "```cuda\n{}\n```" * 2])
        reply = fence.replace("{}", src)
        verdict = _timed(f"reply {i}", lambda r: check_reply(r, symbol="honest_axpby", original=HONEST,
                                                             dialect="cuda"), reply)
        assert isinstance(verdict.accepted, bool) and (verdict.accepted or verdict.reason)
        if verdict.accepted:
            verdict.code.encode("utf-8")


def _cli_argv(rng: random.Random, tmp: Path) -> list[str]:
    bad_paths = [str(tmp / "missing.cu"), str(tmp / "a-file"), str(tmp / "latin1.cu"), str(tmp), "", "\x01",
                 "-", "x" * 300, str(tmp / "a-file" / "below")]
    values = ["", ",,,", "-1", "0", "nope", "h100", "mi300x", "blas", "x" * 300, "\u2603", "1e9", "--", "--json"]
    command = rng.choice(["port", "compile", "translate", "targets", "runs", "review", "dataset", "nope", "--bogus"])
    argv = [command]
    if command == "port":
        # Always a library that cannot load, so no case here starts a real run.
        argv += ["--lib", rng.choice(bad_paths), "--target", rng.choice(values)]
        for option in rng.sample(["--kernels", "--budget", "--strategy", "--run-id", "--runs-dir", "--jobs"],
                                 rng.randint(0, 3)):
            argv += [option, rng.choice(values + bad_paths)]
    elif command in ("compile", "translate"):
        argv += [rng.choice(bad_paths)] + rng.choice([["--target", rng.choice(values)], ["--to", rng.choice(values)],
                                                      []])
    elif command in ("runs", "review", "dataset"):
        argv += [rng.choice(values)] + rng.choice([["--runs-dir", rng.choice(bad_paths)], ["--json"], []])
    else:
        argv += [rng.choice(values)]
    return argv


def test_fuzz_command_lines(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORTKERN_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "latin1.cu").write_bytes(b"// caf\xe9\n__global__ void k(float* x) { x[0] = 1; }\n")
    rng = random.Random(SEED + 3)
    for _ in range(60):
        argv = _cli_argv(rng, tmp_path)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = _timed(f"argv {argv!r}", main, argv)
        text = out.getvalue() + err.getvalue()
        assert isinstance(rc, int) and rc != EXIT_INTERNAL, (argv, rc, text[-2000:])
        assert "Traceback" not in text, (argv, text[-2000:])
        if rc:
            assert text.strip(), (argv, rc)


def test_fuzz_counts_add_up():
    """The suite above generates at least 300 malformed inputs (120 + 150 + 120 + 60)."""
    assert 120 + 150 + 120 + 60 >= 300


@pytest.mark.parametrize("n", [0, 1])
def test_hostile_manifest_values_keep_messages_short(tmp_path, n):
    bomb = "a: &a [" + ",".join(["x"] * 50) + "]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(12))
    path = tmp_path / "library.yaml"
    path.write_text(bomb + ("name: x\n" if n else ""))
    with pytest.raises(PortkernError) as info:
        parse_manifest(path)
    assert len(str(info.value)) < 2000
