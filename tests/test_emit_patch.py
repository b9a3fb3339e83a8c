"""The patch of a run, end to end: `git am` applies it to a pristine copy of the library, the
patched library builds with the real HIP compiler, and its kernels validate on the CPU emulator.

Two real runs: a port of nn (CUDA) to mi300x, and a tuning run of blas for mi300x. The blas copy
ships gemm with a register-heavy 8x8 thread tile (occupancy below what the estimate needs to reach
the roofline), so the sweep finds a better tile and the patch has a constant to change.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from portkern.cli import main
from portkern.emit.patch import format_patch, plan_patch
from portkern.library import load_library
from portkern.pipeline.run import PortOptions, port
from portkern.targets import get_target

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("port-runs")]

NN_KERNELS = ["gelu_forward", "softmax_forward"]

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd: Path, *args: str, env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, input=stdin,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    """A git identity of this test's own (a global config file in a temporary HOME)."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("[user]\n\tname = Ada Maintainer\n\temail = ada@example.org\n"
                                     "[init]\n\tdefaultBranch = main\n")
    return {"HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"), "GIT_CONFIG_NOSYSTEM": "1"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, repo_root, identity):
    root = tmp_path_factory.mktemp("patchruns")
    runs_dir, cache = root / "runs", root / "cache"
    blas = root / "src" / "blas"
    shutil.copytree(repo_root / "libraries" / "blas", blas)
    header = blas / "include" / "blas_block_sizes.hpp"
    header.write_text(header.read_text().replace("BLAS_GEMM_TM = 4", "BLAS_GEMM_TM = 8")
                      .replace("BLAS_GEMM_TN = 4", "BLAS_GEMM_TN = 8"))
    manifest = blas / "library.yaml"
    manifest.write_text(manifest.read_text().replace("{BM: 64, BN: 64, BK: 16, TM: 4, TN: 4}",
                                                     "{BM: 64, BN: 64, BK: 16, TM: 8, TN: 8}"))
    old = {k: os.environ.get(k) for k in identity}
    os.environ.update(identity)
    try:
        port(PortOptions(library=str(manifest), target="mi300x", kernels=["gemm"], budget=1, run_id="tune",
                         runs_dir=str(runs_dir), cache_dir=str(cache)))
        port(PortOptions(library="nn", target="mi300x", kernels=NN_KERNELS, budget=0, run_id="port",
                         runs_dir=str(runs_dir), cache_dir=str(cache)))
        # the library the tuning run read is gone: the patch must come from the run folder's copy
        shutil.move(str(blas), str(root / "src" / "blas-pristine"))
        yield runs_dir, root / "src" / "blas-pristine", cache
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _pristine_repo(src: Path, dest: Path, env: dict) -> Path:
    shutil.copytree(src, dest)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "pristine"]):
        r = _git(dest, *args, env=env)
        assert r.returncode == 0, r.stderr
    return dest


def _build(sources: list[Path], include_dirs: list[Path], flags: list[str]) -> None:
    """Compile every source with clang's HIP toolchain for gfx942 (device code through the HIP
    backend, host code with the host-only pass)."""
    from portkern import backends
    from portkern.model import CompileOptions

    backend = backends.get("hip")
    avail = backend.available()
    if not avail.ok:
        pytest.skip(f"HIP compiler not available: {avail.reason}")
    target = get_target("mi300x")
    opts = CompileOptions(include_dirs=[str(d) for d in include_dirs], flags=list(flags))
    for src in sources:
        backend.compile(src.read_text(), target, opts, name=src.stem)  # raises CompileError with the log
    clang = backend.compiler_path(target)
    from portkern.backends.hip.clang import _compiler_include_dirs, find_hip_include_dir

    inc = find_hip_include_dir(clang)
    inc = None if inc in _compiler_include_dirs(clang) else inc
    for src in sources:
        cmd = [clang, "-x", "hip", "--offload-arch=gfx942", "--cuda-host-only", "-fsyntax-only", "-nogpulib",
               *([f"-isystem{inc}"] if inc else []), *flags, *[f"-I{d}" for d in include_dirs], str(src)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, f"{src.name} (host code): {r.stderr[-2000:]}"


def _validate(manifest: Path, kernels: list[str], runs_dir: Path, cache: Path, run_id: str) -> None:
    """Run the patched library through portkern itself (budget 0): ingest, compile, validate on the
    emulator. Every kernel must come out correct."""
    summary = port(PortOptions(library=str(manifest), target="mi300x", kernels=kernels, budget=0, run_id=run_id,
                               runs_dir=str(runs_dir), cache_dir=str(cache)))
    status = {k["kernel"]: k["status"] for k in summary["kernels"]}
    assert status == {k: "ported" for k in kernels}, summary["kernels"]


@needs_git
def test_port_patch_am_builds_and_validates(runs, repo_root, tmp_path, identity):
    runs_dir, _, cache = runs
    patch = (runs_dir / "port" / "emit" / "port.patch").read_text()
    assert patch.startswith("From ") and "\nSubject: [PATCH] portkern: port nn kernels to mi300x\n" in patch
    assert "From: Ada Maintainer <ada@example.org>" in patch
    repo = _pristine_repo(repo_root / "libraries" / "nn", tmp_path / "nn", identity)
    r = _git(repo, "am", "-q", str(runs_dir / "port" / "emit" / "port.patch"), env=identity)
    assert r.returncode == 0, r.stderr + r.stdout
    msg = _git(repo, "log", "-1", "--format=%an <%ae>%n%B", env=identity).stdout
    assert msg.startswith("Ada Maintainer <ada@example.org>")
    assert "gelu_forward:" in msg and "validated on cpu-emulator (wave64" in msg and "estimate" in msg
    hip = repo / "hip"
    sources = sorted((hip / "src").glob("*.hip"))
    assert [s.stem for s in sources] == sorted(p.stem for p in (repo / "src").glob("*.cu"))
    assert "cuda_runtime.h" not in (hip / "include" / "nn_common.cuh").read_text()
    lib = load_library(hip / "library.yaml")
    assert lib.dialect == "hip" and all(k.file.endswith(".hip") for k in lib.kernels)
    _build(sources, [hip / "include"], lib.compile_flags)
    _validate(hip / "library.yaml", NN_KERNELS, tmp_path / "check-runs", cache, "check-port")


@needs_git
def test_tuning_patch_am_changes_the_constant_builds_and_validates(runs, tmp_path, identity):
    runs_dir, pristine, cache = runs
    run_dir = runs_dir / "tune"
    plan = plan_patch(run_dir)
    assert plan.mode == "tune" and plan.changes, plan.notes
    change = plan.changes[0]
    assert change.kernel == "gemm" and change.params_after != change.params_before
    repo = _pristine_repo(pristine, tmp_path / "blas", identity)
    r = _git(repo, "am", "-q", str(run_dir / "emit" / "port.patch"), env=identity)
    assert r.returncode == 0, r.stderr + r.stdout
    header = (repo / "include" / "blas_block_sizes.hpp").read_text()
    for param, value in change.params_after.items():
        if change.params_before.get(param) != value:
            assert f"BLAS_GEMM_{param} = {value};" in header
    changed = _git(repo, "diff", "--name-only", "HEAD~1", env=identity).stdout.split()
    assert sorted(changed) == ["include/blas_block_sizes.hpp", "library.yaml"]
    lib = load_library(repo / "library.yaml")
    assert lib.kernel("gemm").defaults == {**change.params_before, **change.params_after}
    _build(lib.source_files(), [repo / d for d in lib.include_dirs], lib.compile_flags)
    _validate(repo / "library.yaml", ["gemm"], tmp_path / "check-runs", cache, "check-tune")


@needs_git
def test_pr_prints_format_patch_and_git_mode_uses_a_worktree(runs, repo_root, tmp_path, identity, capsys,
                                                             monkeypatch):
    runs_dir, _, _ = runs
    for k, v in identity.items():
        monkeypatch.setenv(k, v)
    assert main(["pr", str(runs_dir / "port")]) == 0
    printed = capsys.readouterr().out
    plan = plan_patch(runs_dir / "port")
    assert printed.split("\nDate: ")[0] == format_patch(plan).split("\nDate: ")[0]
    assert printed.split("\n---\n", 1)[1] == format_patch(plan).split("\n---\n", 1)[1]

    repo = _pristine_repo(repo_root / "libraries" / "nn", tmp_path / "nn", identity)
    (repo / "src" / "gelu.cu").write_text("// work in progress\n" + (repo / "src" / "gelu.cu").read_text())
    assert main(["pr", str(runs_dir / "port"), "--git", "--checkout", str(repo)]) == 4  # refused: a failed step, with the reason
    assert "uncommitted changes" in capsys.readouterr().err
    _git(repo, "checkout", "--", "src/gelu.cu")
    worktree = tmp_path / "nn-port"
    assert main(["pr", str(runs_dir / "port"), "--git", "--checkout", str(repo), "--worktree", str(worktree),
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["branch"] == "portkern/port" and data["worktree"] == str(worktree)
    assert _git(repo, "branch", "--show-current").stdout.strip() == "main"      # the user's checkout stays
    assert not (repo / "hip").exists()
    assert (worktree / "hip" / "library.yaml").is_file()
    log = _git(worktree, "log", "-1", "--format=%an <%ae>|%cn|%s").stdout.strip()
    assert log == "Ada Maintainer <ada@example.org>|Ada Maintainer|portkern: port nn kernels to mi300x"


def test_helpers_a_patch_adds_go_in_an_include_guard_once_per_file():
    from portkern.emit.patch import _insert_prelude

    prelude = ["// portkern vectorize helpers: test\n", "template <typename T> struct h {};\n", "\n"]
    lines = ["// head\n", "__global__ void k() {}\n"]
    _insert_prelude(lines, 2, prelude)
    text = "".join(lines)
    guard = text.splitlines()[1].split()[1]
    assert guard.startswith("PORTKERN_HELPERS_") and f"#define {guard}\n" in text and f"#endif // {guard}" in text
    assert text.index("struct h") < text.index("__global__ void k()")
    _insert_prelude(lines, 2, prelude)                         # a second kernel of the file: not again
    assert "".join(lines).count("struct h") == 1
    other = ["__global__ void k2() {}\n"]
    _insert_prelude(other, 1, prelude)                         # another file: the same guard
    assert "".join(other).splitlines()[0] == f"#ifndef {guard}"
