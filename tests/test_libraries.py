"""The libraries under libraries/: manifests load, sources compile for every target architecture
with every manifest launch instantiated, reference functions agree with scipy's BLAS/LAPACK and
independent formulas, and malformed manifests fail with errors naming file, kernel and field."""

from __future__ import annotations

import itertools
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg.blas as sblas
import scipy.linalg.lapack as slapack
import scipy.special

from portkern import expr
from portkern.errors import ManifestError
from portkern.harness.references import split_magnitudes
from portkern.library import (
    ARRAY_ROLES,
    DTYPE_BYTES,
    KernelSpec,
    LibrarySpec,
    instantiate,
    kernel_env,
    library_names,
    load_library,
)

LIBRARIES = ["blas", "solver", "nn"]
HIP_ARCHS = ["gfx942", "gfx90a"]
CUDA_ARCHS = ["sm_80", "sm_90"]


# --------------------------------------------------------------------------- manifests


@pytest.mark.parametrize("name", LIBRARIES)
def test_manifest_loads(name: str) -> None:
    lib = load_library(name)
    assert lib.name == name
    assert name in library_names()
    assert (Path(lib.root) / "LICENSE").read_text().startswith("MIT License")
    assert lib.kernels
    for k in lib.kernels:
        assert lib.reference(k) is not None
        assert k.sizes_validate and k.sizes_bench
        assert set(k.defaults) == set(k.tunables)
        for t, v in k.defaults.items():
            assert v in k.tunables[t], f"{k.name}: default {t}={v} not among its allowed values"


MANIFESTS_WITH_WORK = [*LIBRARIES, str(Path(__file__).resolve().parents[1] / "libraries" / "rocblas" / "library.yaml")]


@pytest.mark.parametrize("name", MANIFESTS_WITH_WORK, ids=[*LIBRARIES, "rocblas"])
def test_batched_kernels_count_the_whole_batch_of_work(name: str) -> None:
    # A batched kernel's bytes (and nonzero flops) grow with its batch: a formula for one batch makes its
    # GB/s and roofline fraction batch_count times too small.
    import re

    try:
        lib = load_library(name)
    except Exception as exc:  # the rocBLAS manifest needs its tree
        pytest.skip(f"{name}: {exc}")
    for k in lib.kernels:
        batch = [a.value or a.name for a in k.args if a.role == "batch"]
        if not batch or not re.fullmatch(r"[A-Za-z_]\w*", batch[0]):
            continue        # no batch, or a fixed one (a non-batched kernel passing batch_count = 1)
        var = re.compile(rf"\b{re.escape(batch[0])}\b")
        assert var.search(k.bytes_moved), f"{k.name}: bytes '{k.bytes_moved}' does not scale with {batch[0]}"
        assert k.flops.strip() == "0" or var.search(k.flops), f"{k.name}: flops '{k.flops}'"


def test_blas_manifest_covers_variants_modes_and_dtypes() -> None:
    lib = load_library("blas")
    families = {k.family for k in lib.kernels}
    assert families >= {"axpy", "scal", "copy", "swap", "dot", "nrm2", "asum", "iamax", "rot", "gemv", "ger",
                        "trsv", "gemm"}
    for family in ("axpy", "scal", "dot", "gemm"):
        kinds = {a.batched for k in lib.kernels if k.family == family for a in k.args if a.role in ARRAY_ROLES}
        assert {"", "strided", "pointers"} <= kinds, f"{family} lacks a plain/strided/pointer variant: {kinds}"
    for family in ("axpy", "scal"):
        modes = {a.pointer for k in lib.kernels if k.family == family for a in k.args if a.role == "scalar"}
        assert modes == {True, False}, f"{family} lacks host or device pointer mode"
    dtypes = {f: {d for k in lib.kernels if k.family == f for d in k.dtypes} for f in families}
    assert all({"float32", "float64"} <= d for d in dtypes.values())
    assert "float16" in dtypes["axpy"] and "float16" in dtypes["dot"]
    for name in ("dot", "nrm2", "asum", "iamax"):
        k = lib.kernel(name)
        assert len(k.launches) == 2
        shared = set(k.launches[0].args) & set(k.launches[1].args)
        assert any(a.role == "workspace" and a.name in shared for a in k.args)


@pytest.mark.parametrize("name", LIBRARIES)
def test_validation_sizes_are_tiny_odd_and_off_the_block_size(name: str) -> None:
    lib = load_library(name)
    for k in lib.kernels:
        envs = [kernel_env(k, s) for s in k.sizes_validate]
        launches = [[expr.evaluate(b, e) for b in k.launches[0].block] for e in envs]
        threads = math.prod(launches[0])
        extents = [max(int(v) for n, v in s.items() if n not in ("batch_count", "pad", "incx", "incy"))
                   for s in k.sizes_validate]
        assert min(extents) <= 2, f"{k.name}: no tiny validation size"
        assert any(e % 2 == 1 for e in extents), f"{k.name}: no odd validation size"
        if threads > 1:
            assert any(e % threads for e in extents), f"{k.name}: every size a multiple of the block"


# --------------------------------------------------------------------------- compiles


def _hip_include_dir() -> str | None:
    roots = [os.environ.get("HIP_PATH", ""), os.environ.get("ROCM_PATH", ""), "/opt/rocm", "/usr"]
    for root in filter(None, roots):
        if (Path(root) / "include" / "hip" / "hip_runtime.h").exists():
            return str(Path(root) / "include")
    return None


def _tunable_choices(k: KernelSpec, dtype: str) -> list[dict[str, int]]:
    """The library's defaults plus the first and last allowed combinations that meet the constraints."""
    choices = [dict(k.defaults)]
    names = list(k.tunables)
    ok = []
    for values in itertools.product(*(k.tunables[n] for n in names)):
        params = dict(zip(names, values))
        env = kernel_env(k, k.sizes_validate[0], params)
        if k.allows(env, DTYPE_BYTES[dtype]):
            ok.append(params)
    choices += ok[:1] + ok[-1:]
    return choices


def _entries_for(lib: LibrarySpec, file: str, sweep_tunables: bool) -> list[str]:
    entries: set[str] = set()
    for k in lib.kernels:
        if k.file != file:
            continue
        for dtype in k.dtypes:
            for params in _tunable_choices(k, dtype) if sweep_tunables else [k.defaults]:
                env = kernel_env(k, k.sizes_validate[0], params)
                for ls in k.launches:
                    targs = instantiate(ls.template_args, dtype, env)
                    entries.add(f"{ls.symbol}<{', '.join(targs)}>" if targs else ls.symbol)
    return sorted(entries)


def _unit_with_entries(lib: LibrarySpec, file: str, tmp_path: Path, sweep_tunables: bool) -> tuple[Path, list[str]]:
    """The source plus a host-side reference to every manifest launch, forcing each instantiation."""
    entries = _entries_for(lib, file, sweep_tunables)
    refs = "\n".join(f"static void* const portkern_entry_{i} = (void*)&{e};" for i, e in enumerate(entries))
    src = Path(lib.root) / file
    unit = tmp_path / src.name
    unit.write_text(src.read_text() + "\n// manifest launches\n" + refs + "\n")
    return unit, entries


def _compile_cases() -> list:
    cases = []
    for name in LIBRARIES:
        lib = load_library(name)
        if lib.manifest_dir:
            continue    # an external tree's files build inside that library's build, not one by one
        archs = HIP_ARCHS if lib.dialect == "hip" else CUDA_ARCHS
        for src in lib.source_files():
            rel = str(src.relative_to(lib.root))
            for arch in archs:
                cases.append(pytest.param(name, rel, arch, id=f"{name}/{rel}/{arch}"))
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("name,file,arch", _compile_cases())
def test_source_compiles_with_every_manifest_launch(name: str, file: str, arch: str, tmp_path: Path) -> None:
    lib = load_library(name)
    # Extreme tunable values are instantiated on the first architecture of each dialect only: the
    # template code is the same for both, and compile time on CI is the budget.
    sweep = arch in (HIP_ARCHS[0], CUDA_ARCHS[0])
    unit, entries = _unit_with_entries(lib, file, tmp_path, sweep)
    includes = [f"-I{Path(lib.root) / d}" for d in lib.include_dirs]
    out = tmp_path / "out"
    if lib.dialect == "hip":
        clang = shutil.which("clang-19") or shutil.which("clang")
        hip_include = _hip_include_dir()
        if not clang or not hip_include:
            pytest.skip("clang with the AMDGPU backend or the HIP headers are not installed")
        # -S: with -nogpulib, -c would fail linking the device library; -S still runs the whole
        # device code generation down to the ISA.
        cmd = [clang, "-x", "hip", f"--offload-arch={arch}", "--offload-device-only", "-nogpulib", "-S",
               "-std=c++17", "-O3", f"-I{hip_include}", *includes, str(unit), "-o", str(out)]
    else:
        nvcc = shutil.which("nvcc")
        if not nvcc:
            pytest.skip("nvcc is not installed")
        cmd = [nvcc, f"-arch={arch}", "-std=c++17", "-O3", *includes, "-c", str(unit), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr[-4000:]}"
    if lib.dialect == "hip":
        # Every kernel a manifest names made it into the device code.
        asm = out.read_text()
        for e in entries:
            symbol = e.split("<")[0]
            assert f"{symbol}" in asm or symbol in subprocess.run(
                ["c++filt"], input=asm, capture_output=True, text=True).stdout


# --------------------------------------------------------------------------- references vs scipy

RNG = np.random.default_rng(12345)


def _blas_ref(name: str):
    lib = load_library("blas")
    return lib.reference(lib.kernel(name))


def _ref(lib_name: str, kernel: str):
    lib = load_library(lib_name)
    return lib.reference(lib.kernel(kernel))


def _vec(n: int, inc: int = 1) -> np.ndarray:
    return RNG.standard_normal(1 + (n - 1) * inc)


@pytest.mark.parametrize("n,incx,incy", [(1, 1, 1), (17, 2, 3), (1000, 1, 1)])
def test_level1_references_match_scipy_blas(n: int, incx: int, incy: int) -> None:
    x, y, alpha = _vec(n, incx), _vec(n, incy), float(RNG.standard_normal())
    base = {"n": n, "incx": incx, "incy": incy, "stride_x": 0, "stride_y": 0}
    got = _blas_ref("axpy")({**base, "alpha": alpha, "x": x, "y": y}, "float64")["y"]
    np.testing.assert_allclose(got, sblas.daxpy(x, y.copy(), n=n, a=alpha, incx=incx, incy=incy), rtol=1e-13,
                               atol=1e-15)
    got = _blas_ref("scal")({**base, "alpha": alpha, "x": x}, "float64")["x"]
    np.testing.assert_allclose(got, sblas.dscal(alpha, x.copy(), n=n, incx=incx), rtol=1e-14)
    got = _blas_ref("copy")({**base, "x": x, "y": y}, "float64")["y"]
    np.testing.assert_array_equal(got, sblas.dcopy(x, y.copy(), n=n, incx=incx, incy=incy))
    got = _blas_ref("swap")({**base, "x": x, "y": y}, "float64")
    sx, sy = sblas.dswap(x.copy(), y.copy(), n=n, incx=incx, incy=incy)
    np.testing.assert_array_equal(got["x"], sx)
    np.testing.assert_array_equal(got["y"], sy)
    c, s = float(RNG.standard_normal()), float(RNG.standard_normal())
    got = _blas_ref("rot")({**base, "x": x, "y": y, "c": c, "s": s}, "float64")
    rx, ry = sblas.drot(x.copy(), y.copy(), c, s, n=n, incx=incx, incy=incy)
    np.testing.assert_allclose(got["x"], rx, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(got["y"], ry, rtol=1e-13, atol=1e-15)
    got = _blas_ref("dot")({**base, "x": x, "y": y}, "float64")["result"]
    np.testing.assert_allclose(got, [sblas.ddot(x, y, n=n, incx=incx, incy=incy)], rtol=1e-12, atol=1e-10)
    got = _blas_ref("nrm2")({**base, "x": x}, "float64")["result"]
    np.testing.assert_allclose(got, [sblas.dnrm2(x, n=n, incx=incx)], rtol=1e-13)
    got = _blas_ref("asum")({**base, "x": x}, "float64")["result"]
    np.testing.assert_allclose(got, [sblas.dasum(x, n=n, incx=incx)], rtol=1e-13)
    got = _blas_ref("iamax")({**base, "x": x}, "float64")["result"]
    assert got.dtype.kind == "i"
    assert int(got[0]) == int(sblas.idamax(x, n=n, incx=incx)) + 1  # scipy's idamax is 0-based


def test_iamax_reference_takes_the_first_of_equal_magnitudes() -> None:
    x = np.array([1.0, -3.0, 2.0, 3.0, -3.0])
    got = _blas_ref("iamax")({"n": 5, "incx": 1, "stride_x": 0, "x": x}, "float64")["result"]
    assert int(got[0]) == 2


def test_batched_references_apply_per_batch() -> None:
    batch, n = 3, 11
    x, y = RNG.standard_normal((batch, n)), RNG.standard_normal((batch, n))
    args = {"n": n, "incx": 1, "incy": 1, "stride_x": n, "stride_y": n, "batch_count": batch, "alpha": 0.5,
            "x": x, "y": y}
    got = _blas_ref("axpy_strided_batched")(args, "float32")["y"]
    assert got.shape == (batch, n)
    for b in range(batch):
        np.testing.assert_allclose(got[b], sblas.daxpy(x[b], y[b].copy(), a=0.5), rtol=1e-14)
    dots = _blas_ref("dot_batched")({**args, "result": np.zeros((batch, 1))}, "float64")["result"]
    np.testing.assert_allclose(dots[:, 0], [sblas.ddot(x[b], y[b]) for b in range(batch)], rtol=1e-12, atol=1e-10)


def _colmajor_flat(a: np.ndarray, ld: int) -> np.ndarray:
    rows, cols = a.shape
    flat = RNG.standard_normal(ld * cols)  # padding rows hold junk the kernel must not touch
    flat.reshape(cols, ld).T[:rows, :] = a
    return flat


def _from_flat(flat: np.ndarray, rows: int, cols: int, ld: int) -> np.ndarray:
    return flat.reshape(cols, ld).T[:rows, :]


@pytest.mark.parametrize("m,n,pad", [(1, 1, 0), (7, 5, 2), (40, 33, 1)])
def test_level2_references_match_scipy_blas(m: int, n: int, pad: int) -> None:
    lda = m + pad
    a = RNG.standard_normal((m, n))
    flat = _colmajor_flat(a, lda)
    alpha, beta = 0.7, -1.3
    for name, trans, xl, yl in (("gemv_n", 0, n, m), ("gemv_t", 1, m, n)):
        x, y = RNG.standard_normal(xl), RNG.standard_normal(yl)
        args = {"m": m, "n": n, "lda": lda, "A": flat, "x": x, "y": y, "alpha": alpha, "beta": beta, "incx": 1,
                "incy": 1, "stride_a": 0, "stride_x": 0, "stride_y": 0}
        got = _blas_ref(name)(args, "float64")["y"]
        np.testing.assert_allclose(got, sblas.dgemv(alpha, a, x, beta, y.copy(), trans=trans), rtol=1e-12, atol=1e-10)
    x, y = RNG.standard_normal(m), RNG.standard_normal(n)
    args = {"m": m, "n": n, "lda": lda, "A": flat, "x": x, "y": y, "alpha": alpha, "incx": 1, "incy": 1,
            "stride_a": 0, "stride_x": 0, "stride_y": 0}
    got = _blas_ref("ger")(args, "float64")["A"]
    np.testing.assert_allclose(_from_flat(got, m, n, lda), sblas.dger(alpha, x, y, a=a.copy()), rtol=1e-12, atol=1e-10)
    np.testing.assert_array_equal(got.reshape(n, lda)[:, m:], flat.reshape(n, lda)[:, m:])


@pytest.mark.parametrize("n", [1, 6, 70])
@pytest.mark.parametrize("upper", [False, True])
def test_trsv_reference_matches_scipy_dtrsv(n: int, upper: bool) -> None:
    a = RNG.standard_normal((n, n)) + n * np.eye(n)
    x = RNG.standard_normal(n)
    args = {"n": n, "lda": n, "A": _colmajor_flat(a, n), "x": x, "incx": 1, "stride_a": 0, "stride_x": 0,
            "n_flags": 2, "flags": np.zeros(2)}
    got = _blas_ref("trsv_upper" if upper else "trsv_lower")(args, "float64")["x"]
    np.testing.assert_allclose(got, sblas.dtrsv(a, x.copy(), lower=0 if upper else 1), rtol=1e-12)


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (17, 9, 5), (64, 33, 70)])
def test_gemm_reference_matches_scipy_dgemm(m: int, n: int, k: int) -> None:
    a, b, c = RNG.standard_normal((m, k)), RNG.standard_normal((k, n)), RNG.standard_normal((m, n))
    args = {"m": m, "n": n, "k": k, "lda": m, "ldb": k, "ldc": m, "A": _colmajor_flat(a, m),
            "B": _colmajor_flat(b, k), "C": _colmajor_flat(c, m), "alpha": 1.5, "beta": -0.5, "stride_a": 0,
            "stride_b": 0, "stride_c": 0}
    got = _blas_ref("gemm")(args, "float64")["C"]
    # summation order differs from dgemm's: an absolute floor scaled by k covers cancelling elements
    floor = 1e-13 * k
    np.testing.assert_allclose(_from_flat(got, m, n, m), sblas.dgemm(1.5, a, b, -0.5, c.copy()), rtol=1e-12, atol=floor)
    # beta == 0: C is not read, so NaN in C must not reach the result.
    args["C"] = np.full(m * n, np.nan)
    args["beta"] = 0.0
    got = _blas_ref("gemm")(args, "float64")["C"]
    np.testing.assert_allclose(_from_flat(got, m, n, m), 1.5 * a @ b, rtol=1e-12, atol=floor)


@pytest.mark.parametrize("m,n", [(1, 1), (7, 5), (5, 7), (48, 48)])
def test_getf2_reference_matches_scipy_dgetrf(m: int, n: int) -> None:
    a = RNG.standard_normal((m, n))
    args = {"m": m, "n": n, "lda": m, "A": _colmajor_flat(a, m), "stride_a": 0, "stride_p": 0,
            "ipiv": np.zeros(min(m, n)), "info": np.zeros(1)}
    got = _ref("solver", "getf2")(args, "float64")
    lu, piv, info = slapack.dgetrf(a.copy())
    np.testing.assert_allclose(_from_flat(got["A"], m, n, m), lu, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(got["ipiv"], piv + 1)  # scipy's pivots are 0-based
    assert int(got["info"][0]) == info == 0


def test_getf2_reference_reports_the_first_zero_pivot() -> None:
    a = RNG.standard_normal((6, 6))
    a[:, 2] = 0.0  # the third pivot is exactly zero
    args = {"m": 6, "n": 6, "lda": 6, "A": _colmajor_flat(a, 6), "stride_a": 0, "stride_p": 0}
    got = _ref("solver", "getf2")(args, "float64")
    _, _, info = slapack.dgetrf(a.copy())
    assert int(got["info"][0]) == info == 3


@pytest.mark.parametrize("n", [1, 7, 50])
def test_potf2_reference_matches_scipy_dpotrf(n: int) -> None:
    g = RNG.standard_normal((n, n))
    a = g @ g.T + n * np.eye(n)
    args = {"n": n, "lda": n, "A": _colmajor_flat(a, n), "stride_a": 0, "info": np.zeros(1)}
    got = _ref("solver", "potf2")(args, "float64")
    c, info = slapack.dpotrf(a.copy(), lower=1, clean=0)
    np.testing.assert_allclose(_from_flat(got["A"], n, n, n), c, rtol=1e-11, atol=1e-12)
    assert int(got["info"][0]) == info == 0
    # Not positive definite at the last order: info says so, as LAPACK does.
    bad = a.copy()
    bad[n - 1, n - 1] = -1.0
    args["A"] = _colmajor_flat(bad, n)
    got = _ref("solver", "potf2")(args, "float64")
    _, info = slapack.dpotrf(bad.copy(), lower=1, clean=0)
    assert int(got["info"][0]) == info == n


@pytest.mark.parametrize("m,n", [(1, 1), (9, 4), (64, 30)])
def test_laswp_reference_matches_scipy_dlaswp(m: int, n: int) -> None:
    a = RNG.standard_normal((m, n))
    ipiv = np.array([RNG.integers(i, m) for i in range(m)])  # 0-based, entry i in [i, m)
    args = {"n": n, "lda": m, "A": _colmajor_flat(a, m), "k1": 1, "k2": m, "ipiv": ipiv + 1, "stride_a": 0,
            "stride_p": 0}
    got = _ref("solver", "laswp")(args, "float64")["A"]
    want = slapack.dlaswp(a.copy(), ipiv.astype(np.int32), k1=0, k2=m - 1, off=0, inc=1)
    np.testing.assert_array_equal(_from_flat(got, m, n, m), want)


def test_lacpy_references_copy_all_or_the_lower_triangle() -> None:
    m, n = 6, 4
    a, b = RNG.standard_normal((m, n)), RNG.standard_normal((m, n))
    args = {"m": m, "n": n, "lda": m + 2, "ldb": m, "A": _colmajor_flat(a, m + 2), "B": _colmajor_flat(b, m),
            "stride_a": 0, "stride_b": 0}
    np.testing.assert_array_equal(_from_flat(_ref("solver", "lacpy")(args, "float64")["B"], m, n, m), a)
    lower = _from_flat(_ref("solver", "lacpy_lower")(args, "float64")["B"], m, n, m)
    np.testing.assert_array_equal(np.tril(lower), np.tril(a))
    np.testing.assert_array_equal(np.triu(lower, 1), np.triu(b, 1))


def test_nn_references_match_independent_formulas() -> None:
    n = 1001
    x, d = RNG.standard_normal(n), RNG.standard_normal(n)
    u = np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)
    gelu = _ref("nn", "gelu_forward")({"inp": x, "N": n, "out": None}, "float32")["out"]
    np.testing.assert_allclose(gelu, x * scipy.special.expit(2 * u), rtol=1e-12, atol=1e-15)
    h = 1e-6
    f = lambda v: _ref("nn", "gelu_forward")({"inp": v, "N": n}, "float32")["out"]  # noqa: E731
    numeric = (f(x + h) - f(x - h)) / (2 * h) * d
    got = _ref("nn", "gelu_backward")({"inp": x, "dout": d, "N": n}, "float32")["dinp"]
    np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-8)
    got = _ref("nn", "residual_forward")({"inp1": x, "inp2": d, "N": n}, "float32")["out"]
    np.testing.assert_array_equal(got, x + d)

    rows, c = 13, 37
    inp = RNG.standard_normal(rows * c) * 3 + 1
    w, b = RNG.standard_normal(c), RNG.standard_normal(c)
    got = _ref("nn", "layernorm_forward")({"inp": inp, "weight": w, "bias": b, "N": rows, "C": c}, "float32")
    m2 = inp.reshape(rows, c)
    np.testing.assert_allclose(got["mean"], [math.fsum(r) / c for r in m2], rtol=1e-12)
    np.testing.assert_allclose(got["rstd"], 1 / np.sqrt(np.var(m2, axis=1) + 1e-5), rtol=1e-12)
    want = (m2 - m2.mean(1, keepdims=True)) / np.sqrt(m2.var(1, keepdims=True) + 1e-5) * w + b
    np.testing.assert_allclose(got["out"], want.reshape(-1), rtol=1e-12, atol=1e-12)

    got = _ref("nn", "softmax_forward")({"inp": inp, "N": rows, "C": c}, "float32")["out"]
    np.testing.assert_allclose(got, scipy.special.softmax(m2, axis=1).reshape(-1), rtol=1e-12)

    oc = 11
    weight, bias = RNG.standard_normal(oc * c), RNG.standard_normal(oc)
    got = _ref("nn", "matmul_forward")({"inp": inp, "weight": weight, "bias": bias, "N": rows, "C": c, "OC": oc},
                                       "float32")["out"]
    want = np.einsum("nc,oc->no", m2, weight.reshape(oc, c)) + bias
    np.testing.assert_allclose(got, want.reshape(-1), rtol=1e-12)

    got = _ref("nn", "reduce_sum_count")({"inp": x, "N": n, "threshold": 1.0}, "float32")
    assert got["out_sum"][0] == pytest.approx(math.fsum(x), rel=1e-12)
    assert int(got["out_count"][0]) == sum(1 for v in x if abs(v) > 1.0)

    got = _ref("nn", "transpose")({"inp": inp, "rows": rows, "cols": c}, "float32")["out"]
    np.testing.assert_array_equal(got.reshape(c, rows), np.transpose(m2))

    v = 50
    logits = RNG.standard_normal((rows, v))
    probs = scipy.special.softmax(logits, axis=1)
    targets = RNG.integers(0, v, rows)
    got = _ref("nn", "crossentropy_forward")({"probs": probs.reshape(-1), "targets": targets, "N": rows, "V": v},
                                             "float32")["losses"]
    want = -scipy.special.log_softmax(logits, axis=1)[np.arange(rows), targets]
    np.testing.assert_allclose(got, want, rtol=1e-10)


# --------------------------------------------------------------------------- manifest <-> reference


def _stand_in_array(a, count: int, env: dict) -> np.ndarray:
    """One array drawn the way its init asks (a stand-in for the harness's input generator)."""
    if a.init == "pivots":
        return np.array([RNG.integers(i + 1, count + 1) for i in range(count)], dtype=np.int64)
    if a.init == "labels":
        return RNG.integers(0, int(expr.evaluate(a.bound, env)), count)
    if a.init in ("spd", "diag-dominant"):
        rows = int(expr.evaluate(a.matrix[0], env))
        g = RNG.standard_normal((rows, rows))
        mat = g @ g.T + rows * np.eye(rows) if a.init == "spd" else g + 2 * rows * np.eye(rows)
        return mat.T.reshape(-1)[:count]
    if a.init == "probabilities":
        rows = int(expr.evaluate(a.matrix[0], env))
        p = RNG.random((count // rows, rows)) + 0.1
        return (p / p.sum(axis=1, keepdims=True)).reshape(-1)
    return RNG.standard_normal(count)


def _stand_in_inputs(k: KernelSpec, sizes: dict[str, int]) -> dict:
    """Arguments as the harness hands them to a reference (contract 2), for a consistency check."""
    env = kernel_env(k, sizes)
    batch = next((int(env[a.name]) for a in k.args if a.role == "batch"), 1)
    args: dict = {}
    for a in k.args:
        if a.role in ("size", "stride", "batch"):
            args[a.name] = int(env[a.name])
        elif a.role == "scalar":
            args[a.name] = float(a.value) if a.value else float(RNG.standard_normal())
    for a in k.args:
        if a.role not in ARRAY_ROLES:
            continue
        count = int(expr.evaluate(a.shape, env))

        args[a.name] = (np.stack([_stand_in_array(a, count, env) for _ in range(batch)]) if a.batched
                        else _stand_in_array(a, count, env))
    return args


@pytest.mark.parametrize("name", LIBRARIES)
def test_every_reference_returns_every_output_with_its_shape(name: str) -> None:
    lib = load_library(name)
    for k in lib.kernels:
        fn = lib.reference(k)
        for sizes in k.sizes_validate:
            args = _stand_in_inputs(k, sizes)
            out, magnitudes = split_magnitudes(fn(args, k.dtypes[0]))
            wanted = {a.name for a in k.args if a.role in ("output", "inout")}
            assert set(magnitudes) <= wanted, f"{k.name}: magnitudes for {sorted(magnitudes)}"
            for a_name, magnitude in magnitudes.items():
                assert np.shape(magnitude) == np.shape(out[a_name]) and np.all(magnitude >= np.abs(out[a_name]) * (1 - 1e-12)), \
                    f"{k.name}.{a_name}: a magnitude must bound the output's size"
            assert set(out) == wanted, f"{k.name}: returns {sorted(out)}, outputs are {sorted(wanted)}"
            for a in k.args:
                if a.name in wanted:
                    assert np.shape(out[a.name]) == np.shape(args[a.name]), f"{k.name}.{a.name} at {sizes}"
                    assert np.all(np.isfinite(out[a.name])), f"{k.name}.{a.name} at {sizes}"


class NamespaceArray(np.ndarray):
    """An array of the stand-in namespace below: numpy's values, a type of its own."""


class StandInNamespace:
    """numpy under another name, whose functions return NamespaceArray: a reference that builds an
    array with ``np.`` instead of ``xp.`` (or calls np.asarray on its inputs) returns plain arrays."""

    def __getattr__(self, name: str):
        attr = getattr(np, name)
        if isinstance(attr, type) or not callable(attr):
            return attr

        def call(*args, **kwargs):
            return _as_namespace(attr(*args, **kwargs))

        return call


def _as_namespace(value):
    if isinstance(value, np.ndarray) and not isinstance(value, NamespaceArray):
        return value.view(NamespaceArray)
    if isinstance(value, tuple):
        return tuple(_as_namespace(v) for v in value)
    return value


@pytest.mark.parametrize("name", LIBRARIES)
def test_references_compute_in_the_namespace_they_are_given(name: str) -> None:
    from portkern.harness.references import call_reference, takes_namespace

    lib = load_library(name)
    xp = StandInNamespace()
    for k in lib.kernels:
        fn = lib.reference(k)
        assert takes_namespace(fn), f"{k.name}: the reference has no xp parameter"
        args = _stand_in_inputs(k, k.sizes_validate[0])
        on_host, host_magnitudes = split_magnitudes(fn(args, k.dtypes[0]))
        given = {n: (_as_namespace(v) if isinstance(v, np.ndarray) else v) for n, v in args.items()}
        out, magnitudes = split_magnitudes(call_reference(fn, given, k.dtypes[0], xp=xp))
        for a_name, value in {**out, **{f"|{n}|": v for n, v in magnitudes.items()}}.items():
            assert isinstance(value, NamespaceArray), f"{k.name}.{a_name} is {type(value).__name__}, not xp's array"
        for a_name in on_host:
            np.testing.assert_array_equal(np.asarray(out[a_name]), on_host[a_name], err_msg=f"{k.name}.{a_name}")
        assert set(magnitudes) == set(host_magnitudes)


def test_references_without_a_namespace_still_get_numpy() -> None:
    from portkern.harness.references import call_reference

    seen = {}

    def legacy(args, dtype):
        seen.update(args)
        return {"z": args["x"] * 2}

    class DeviceArrayStandIn:
        """Like a CuPy array: not a numpy array, copied to the host by get()."""

        def get(self):
            return np.arange(4.0)

    out = call_reference(legacy, {"x": DeviceArrayStandIn(), "n": 4}, "float64", xp=StandInNamespace())
    assert type(seen["x"]) is np.ndarray and seen["n"] == 4 and np.array_equal(out["z"], [0, 2, 4, 6])


# --------------------------------------------------------------------------- malformed manifests

MINIMAL_MANIFEST = """
name: tiny
dialect: hip
include_dirs: [include]
macros: {kernel: [TINY_KERNEL], device_helper: [], launch: []}
kernels:
  - name: scale
    family: scal
    file: src/scale.cpp
    symbol: scale_kernel
    dtypes: [float32]
    args:
      - {name: n, role: size, value: n}
      - {name: x, role: inout, shape: n}
    launch:
      grid: ["ceil_div(n, NB)", 1, 1]
      block: [NB, 1, 1]
    reference: reference.py:scale
    sizes:
      validate: [{n: 1}, {n: 257}]
      bench: [{n: 1048576}]
    bytes: "2 * n * sizeof(T)"
    flops: "n"
    tunables: {NB: [64, 256]}
"""


def _write_tiny_library(root: Path, manifest: str) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "scale.cpp").write_text("// kernel source is not read by the loader\n")
    (root / "reference.py").write_text("def scale(args, dtype):\n    return {'x': args['x'] * 2.0}\n")
    path = root / "library.yaml"
    path.write_text(manifest)
    return path


def test_minimal_manifest_loads(tmp_path: Path) -> None:
    lib = load_library(_write_tiny_library(tmp_path / "tiny", MINIMAL_MANIFEST))
    assert lib.kernel("scale").defaults == {"NB": 64}
    assert lib.kernel("scale").args[0].dtype == "int32"


@pytest.mark.parametrize("old,new,kernel,field", [
    ("    symbol: scale_kernel\n", "", "scale", "symbol"),
    ("{name: x, role: inout, shape: n}", "{name: x, role: inoutt, shape: n}", "scale", "args.x.role"),
    ('grid: ["ceil_div(n, NB)", 1, 1]', 'grid: ["ceil_div(m, NB)", 1, 1]', "scale", "launches[0]"),
    ('bytes: "2 * n * sizeof(T)"', 'bytes: "2 * n * width"', "scale", "bytes"),
    ("{name: x, role: inout, shape: n}", "{name: x, role: inout}", "scale", "args.x.shape"),
    ("{name: n, role: size, value: n}", "{name: n, role: size, value: n, dtype: float32}", "scale", "args.n.dtype"),
    ("reference.py:scale", "reference.py:missing", "scale", "reference"),
    ("    tunables: {NB: [64, 256]}\n", "    tunables: {NB: [64, 256]}\n    constraints: [\"n % 2 == 0\"]\n",
     "scale", "constraints[0]"),
    ("dialect: hip", "dialect: hip\nflavour: strong", None, "flavour"),
])
def test_malformed_manifest_names_file_kernel_and_field(tmp_path: Path, old: str, new: str, kernel: str | None,
                                                        field: str) -> None:
    assert old in MINIMAL_MANIFEST
    path = _write_tiny_library(tmp_path / "tiny", MINIMAL_MANIFEST.replace(old, new))
    with pytest.raises(ManifestError) as info:
        load_library(path)
    err = info.value
    assert err.file == str(path.resolve()) or err.file == str(path)
    assert err.kernel == kernel
    assert err.field == field
    assert str(path.name) in str(err) and field in str(err)


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    path = _write_tiny_library(tmp_path / "tiny", MINIMAL_MANIFEST.replace("dtypes: [float32]", "dtypes: [float32"))
    with pytest.raises(ManifestError, match="not valid YAML") as info:
        load_library(path)
    assert "library.yaml" in info.value.file
