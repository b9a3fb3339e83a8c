"""The CPU emulator backend: device API semantics at warp width 32 and 64, built by a real host
compiler and run through the Program interface."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from portkern.backends import get

from portkern.errors import CompileError, LaunchError, LoadError
from portkern.model import CompileOptions

emu = get("emu")
pytestmark = pytest.mark.skipif(not emu.available().ok, reason="no host C++ compiler for the emulator")

BASICS = r"""
#include <hip/hip_runtime.h>
#include <hip/hip_fp16.h>

__global__ void indices(int* out) {
  int b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  int t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  int g = b * blockDim.x * blockDim.y * blockDim.z + t;
  out[g * 8 + 0] = threadIdx.x; out[g * 8 + 1] = threadIdx.y; out[g * 8 + 2] = threadIdx.z;
  out[g * 8 + 3] = blockIdx.x;  out[g * 8 + 4] = blockIdx.y;  out[g * 8 + 5] = blockIdx.z;
  out[g * 8 + 6] = blockDim.x * blockDim.y * blockDim.z;
  out[g * 8 + 7] = gridDim.x * gridDim.y * gridDim.z;
}

// Reverse each block's slice through static and through dynamic shared memory.
__global__ void reverse_static(const float* x, float* y) {
  __shared__ float tile[128];
  int t = threadIdx.x, base = blockIdx.x * blockDim.x;
  tile[t] = x[base + t];
  __syncthreads();
  y[base + t] = tile[blockDim.x - 1 - t];
}
__global__ void reverse_dynamic(const double* x, double* y) {
  extern __shared__ double dyn[];
  int t = threadIdx.x, base = blockIdx.x * blockDim.x;
  dyn[t] = x[base + t];
  __syncthreads();
  y[base + t] = dyn[blockDim.x - 1 - t];
}

__global__ void barrier_votes(const int* pred, int* out) {
  int p = pred[blockIdx.x * blockDim.x + threadIdx.x];
  int c = __syncthreads_count(p);
  int a = __syncthreads_and(p);
  int o = __syncthreads_or(p);
  if (threadIdx.x == 0) { out[blockIdx.x * 3] = c; out[blockIdx.x * 3 + 1] = a; out[blockIdx.x * 3 + 2] = o; }
}

// Every shuffle form; `arg` and `width` come from the host so one kernel covers all cases.
__global__ void shuffles(const float* x, float* out, int arg, int width) {
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  int n = gridDim.x * blockDim.x;
  float v = x[t];
  out[t]         = __shfl(v, arg, width);
  out[n + t]     = __shfl_up(v, arg, width);
  out[2 * n + t] = __shfl_down(v, arg, width);
  out[3 * n + t] = __shfl_xor(v, arg, width);
  out[4 * n + t] = __shfl_sync(0xffffffffu, v, arg, width);
  out[5 * n + t] = __shfl_down_sync(0xffffffffu, v, arg, width);
}
__global__ void shuffle_double(const double* x, double* out) {
  int t = threadIdx.x;
  out[t] = __shfl_xor(x[t], 1);
}

__global__ void votes(const int* pred, unsigned long long* ballots, int* anyall, int* mask_bits) {
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  int p = pred[t];
  ballots[t] = (unsigned long long)__ballot(p);
  anyall[2 * t] = __any(p);
  anyall[2 * t + 1] = __all(p);
  mask_bits[t] = (int)(sizeof(__ballot(p)) * 8);
}

__global__ void atomics(int* i, unsigned* u, unsigned long long* ull, float* f, double* d) {
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(&i[0], 1); atomicSub(&i[1], 2); atomicMin(&i[2], -t); atomicMax(&i[3], t);
  atomicAnd(&i[4], ~(1 << (t % 31))); atomicOr(&i[5], 1 << (t % 31)); atomicXor(&i[6], t);
  atomicCAS(&i[7], 0, t + 1);                      // only the first CAS wins
  atomicExch(&i[8], 7);
  atomicAdd(&u[0], 2u); atomicInc(&u[1], 9u); atomicDec(&u[2], 1000u); atomicMax(&u[3], (unsigned)t);
  atomicAdd(&ull[0], 3ull); atomicMax(&ull[1], (unsigned long long)t); atomicCAS(&ull[2], 0ull, 5ull);
  atomicAdd(&f[0], 0.5f); atomicMax(&f[1], (float)t); atomicExch(&f[2], 1.5f);
  atomicAdd(&d[0], 0.25); atomicMin(&d[1], -(double)t);
}

__global__ void mathfns(const float* x, float* out, const double* xd, double* outd) {
  int t = threadIdx.x;
  float v = x[t];
  out[t * 8 + 0] = sinf(v); out[t * 8 + 1] = __expf(v); out[t * 8 + 2] = rsqrtf(v);
  out[t * 8 + 3] = __fdividef(1.0f, v); out[t * 8 + 4] = fmaxf(v, 0.5f); out[t * 8 + 5] = erff(v);
  out[t * 8 + 6] = __saturatef(v - 1.0f); out[t * 8 + 7] = (float)__popc(__float_as_uint(v));
  double w = xd[t];
  outd[t * 4 + 0] = sqrt(w); outd[t * 4 + 1] = exp(w); outd[t * 4 + 2] = rsqrt(w); outd[t * 4 + 3] = fma(w, w, 1.0);
}

__global__ void vectors(const float4* x, float4* y, int4* z) {
  int t = threadIdx.x;
  float4 v = x[t];
  y[t] = make_float4(v.w, v.z, v.y, v.x + 1.0f);
  z[t] = make_int4(t, 2 * t, __clz(t), __ffs(t));
}

__global__ void halves(const float* x, float* back, __half* h, float* bf) {
  int t = threadIdx.x;
  __half a = __float2half(x[t]);
  h[t] = __hadd(a, __float2half(1.0f));
  back[t] = __half2float(a);
  bf[t] = __bfloat162float(__float2bfloat16(x[t]));
}

template <int BLOCK, typename T>
__global__ void block_reduce(const T* __restrict__ x, T* __restrict__ out, int n) {
  __shared__ T partial[64];
  int i = blockIdx.x * BLOCK + threadIdx.x;
  T v = i < n ? x[i] : T(0);
  for (int o = warpSize / 2; o > 0; o >>= 1) v += __shfl_down(v, o);
  int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < BLOCK / warpSize ? partial[lane] : T(0);
    for (int o = warpSize / 2; o > 0; o >>= 1) v += __shfl_down(v, o);
    if (lane == 0) out[blockIdx.x] = v;
  }
}

__global__ void early_exit_then_barrier(float* x, int n) {
  int i = threadIdx.x;
  if (i >= n) return;            // threads past n leave...
  x[i] *= 2.0f;
  __syncthreads();               // ...while the others wait here
  x[i] += 1.0f;
}

__global__ void elementwise(const float* x, float* y, float a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + 1.0f;
}
"""

ENTRIES = ["indices", "reverse_static", "reverse_dynamic", "barrier_votes", "shuffles", "shuffle_double",
           "votes", "atomics", "mathfns", "vectors", "halves", "block_reduce<256, float>",
           "block_reduce<128, double>", "early_exit_then_barrier", "elementwise"]


@pytest.fixture(scope="module", params=[32, 64], ids=["wave32", "wave64"])
def build(request):
    wave = request.param
    compiled = emu.compile(BASICS, None, CompileOptions(entries=ENTRIES, wavefront=wave), name=f"basics{wave}")
    return wave, compiled


def program(build, entry):
    return emu.load(build[1], entry)


def test_compile_result_describes_the_build(build):
    wave, compiled = build
    assert compiled.backend == "emu" and compiled.arch == f"cpu-wave{wave}"
    assert set(compiled.entry_map) == set(ENTRIES)
    assert compiled.binary[:4] == b"\x7fELF"
    again = emu.compile(BASICS, None, CompileOptions(entries=ENTRIES, wavefront=wave), name=f"basics{wave}")
    assert again.cached and again.cache_key == compiled.cache_key


def test_indices_in_three_dimensions(build):
    grid, block = (3, 2, 2), (4, 3, 2)
    nthreads = math.prod(grid) * math.prod(block)
    out = np.full(nthreads * 8, -1, np.int32)
    program(build, "indices")(out, grid=grid, block=block)
    rows = out.reshape(nthreads, 8)
    expect = []
    for bz in range(2):
        for by in range(2):
            for bx in range(3):
                for tz in range(2):
                    for ty in range(3):
                        for tx in range(4):
                            expect.append([tx, ty, tz, bx, by, bz, 24, 12])
    np.testing.assert_array_equal(rows, np.array(expect, np.int32))


def test_static_and_dynamic_shared_memory(build):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(128 * 5).astype(np.float32)
    y = np.zeros_like(x)
    program(build, "reverse_static")(x, y, grid=5, block=128)
    np.testing.assert_array_equal(y, x.reshape(5, 128)[:, ::-1].ravel())
    xd = rng.standard_normal(96 * 4)
    yd = np.zeros_like(xd)
    program(build, "reverse_dynamic")(xd, yd, grid=4, block=96, shared_bytes=96 * 8)
    np.testing.assert_array_equal(yd, xd.reshape(4, 96)[:, ::-1].ravel())


def test_barrier_count_and_or(build):
    rng = np.random.default_rng(2)
    pred = (rng.random(4 * 200) < 0.3).astype(np.int32)
    pred[200:400] = 1   # block 1: all true
    pred[400:600] = 0   # block 2: all false
    out = np.zeros(4 * 3, np.int32)
    program(build, "barrier_votes")(pred, out, grid=4, block=200)
    for b in range(4):
        p = pred[b * 200:(b + 1) * 200]
        assert list(out[b * 3:b * 3 + 3]) == [p.sum(), int(p.all()), int(p.any())]


def _model_shuffle(x, wave, kind, arg, width):
    out = np.empty_like(x)
    for t in range(len(x)):
        warp_base = t // wave * wave
        lane = t - warp_base
        seg = lane & ~(width - 1)
        if kind == "idx":
            src = seg + (arg & (width - 1))
        elif kind == "up":
            src = lane - arg if lane - seg >= arg else lane
        elif kind == "down":
            src = lane + arg if lane - seg + arg < width else lane
        else:
            src = lane ^ arg
            src = lane if src >= seg + width else src
        out[t] = x[warp_base + src]
    return out


@pytest.mark.parametrize("arg,width", [(1, 0), (3, 0), (5, 16), (1, 8), (16, 32), (2, 4)])
def test_shuffles_in_every_form(build, arg, width):
    wave = build[0]
    width = width or wave
    block = 128
    x = np.arange(block * 2, dtype=np.float32) * 1.5 + 0.25
    out = np.zeros(6 * len(x), np.float32)
    program(build, "shuffles")(x, out, np.int32(arg), np.int32(width), grid=2, block=block)
    n = len(x)
    for k, kind in enumerate(["idx", "up", "down", "xor", "idx", "down"]):
        np.testing.assert_array_equal(out[k * n:(k + 1) * n], _model_shuffle(x, wave, kind, arg, width),
                                      err_msg=f"{kind} arg={arg} width={width}")


def test_shuffle_of_double(build):
    x = np.arange(64, dtype=np.float64) / 7
    out = np.zeros_like(x)
    program(build, "shuffle_double")(x, out, grid=1, block=64)
    np.testing.assert_array_equal(out, x.reshape(-1, 2)[:, ::-1].ravel())


def test_votes_and_ballot_width(build):
    wave = build[0]
    rng = np.random.default_rng(3)
    pred = (rng.random(256) < 0.5).astype(np.int32)
    pred[:wave] = 1              # first warp: all true
    ballots = np.zeros(256, np.uint64)
    anyall = np.zeros(512, np.int32)
    bits = np.zeros(256, np.int32)
    program(build, "votes")(pred, ballots, anyall, bits, grid=2, block=128)
    assert set(bits) == {wave}
    for t in range(256):
        w = pred[t // wave * wave:(t // wave + 1) * wave]
        expect = sum(int(p) << i for i, p in enumerate(w))
        assert int(ballots[t]) == expect
        assert anyall[2 * t] == int(w.any()) and anyall[2 * t + 1] == int(w.all())


def test_atomics_on_every_type(build):
    i = np.array([0, 0, 0, 0, -1, 0, 0, 0, 0], np.int32)
    u = np.array([0, 0, 0, 0], np.uint32)
    ull = np.zeros(3, np.uint64)
    f = np.array([0, -1, 0], np.float32)
    d = np.array([0, 0], np.float64)
    grid, block = 8, 64
    n = grid * block
    program(build, "atomics")(i, u, ull, f, d, grid=grid, block=block)
    assert i[0] == n and i[1] == -2 * n and i[2] == -(n - 1) and i[3] == n - 1
    assert i[4] == np.int32(-2**31) and i[5] == 0x7FFFFFFF and i[6] == np.bitwise_xor.reduce(np.arange(n))
    assert 1 <= i[7] <= n and i[8] == 7
    assert u[0] == 2 * n and u[1] == n % 10 and u[3] == n - 1
    dec = 0
    for _ in range(n):  # atomicDec wraps to the limit at 0
        dec = 1000 if dec == 0 or dec > 1000 else dec - 1
    assert u[2] == dec
    assert list(ull) == [3 * n, n - 1, 5]
    assert f[0] == 0.5 * n and f[1] == n - 1 and f[2] == 1.5
    assert d[0] == 0.25 * n and d[1] == -(n - 1)


def test_math_library_and_intrinsics(build):
    x = np.linspace(0.1, 3.0, 32).astype(np.float32)
    out = np.zeros(32 * 8, np.float32)
    xd = np.linspace(0.1, 3.0, 32)
    outd = np.zeros(32 * 4)
    program(build, "mathfns")(x, out, xd, outd, grid=1, block=32)
    o = out.reshape(32, 8).astype(np.float64)
    xf = x.astype(np.float64)
    from scipy.special import erf
    np.testing.assert_allclose(o[:, 0], np.sin(xf), rtol=1e-6)
    np.testing.assert_allclose(o[:, 1], np.exp(xf), rtol=1e-6)
    np.testing.assert_allclose(o[:, 2], 1 / np.sqrt(xf), rtol=1e-6)
    np.testing.assert_allclose(o[:, 3], 1 / xf, rtol=1e-6)
    np.testing.assert_allclose(o[:, 4], np.maximum(xf, 0.5), rtol=0)
    np.testing.assert_allclose(o[:, 5], erf(xf), rtol=1e-6)
    np.testing.assert_allclose(o[:, 6], np.clip(xf - 1, 0, 1), rtol=1e-6)
    np.testing.assert_array_equal(o[:, 7], [bin(v).count("1") for v in x.view(np.uint32)])
    od = outd.reshape(32, 4)
    np.testing.assert_allclose(od[:, 0], np.sqrt(xd), rtol=1e-15)
    np.testing.assert_allclose(od[:, 1], np.exp(xd), rtol=1e-15)
    np.testing.assert_allclose(od[:, 2], 1 / np.sqrt(xd), rtol=1e-15)
    np.testing.assert_allclose(od[:, 3], xd * xd + 1, rtol=1e-15)


def test_vector_types(build):
    x = np.arange(16 * 4, dtype=np.float32)
    y = np.zeros_like(x)
    z = np.zeros(16 * 4, np.int32)
    program(build, "vectors")(x, y, z, grid=1, block=16)
    xv = x.reshape(16, 4)
    np.testing.assert_array_equal(y.reshape(16, 4), np.stack([xv[:, 3], xv[:, 2], xv[:, 1], xv[:, 0] + 1], 1))
    t = np.arange(16)
    clz = [32 - int(v).bit_length() for v in t]
    ffs = [(int(v) & -int(v)).bit_length() for v in t]
    np.testing.assert_array_equal(z.reshape(16, 4), np.stack([t, 2 * t, clz, ffs], 1))


def test_half_and_bfloat16_round_to_nearest_even(build):
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.standard_normal(60) * 100, [65504.0, 1e-7, -3e-5, 70000.0]]).astype(np.float32)
    back = np.zeros(64, np.float32)
    h = np.zeros(64, np.float16)
    bf = np.zeros(64, np.float32)
    program(build, "halves")(x, back, h, bf, grid=1, block=64)
    with np.errstate(over="ignore"):  # 70000 overflows to inf in binary16, on both sides
        expect = x.astype(np.float16)
    np.testing.assert_array_equal(back, expect.astype(np.float32))
    np.testing.assert_array_equal(h, (expect.astype(np.float32) + 1).astype(np.float16))
    bits = x.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16).astype(np.uint32)
    np.testing.assert_array_equal(bf, rounded.view(np.float32))


@pytest.mark.parametrize("entry,dtype,block", [("block_reduce<256, float>", np.float32, 256),
                                               ("block_reduce<128, double>", np.float64, 128)])
def test_block_reduction(build, entry, dtype, block):
    n = 100_003
    rng = np.random.default_rng(5)
    x = rng.standard_normal(n).astype(dtype)
    blocks = (n + block - 1) // block
    out = np.full(blocks, np.nan, dtype)
    program(build, entry)(x, out, np.int32(n), grid=blocks, block=block)
    padded = np.zeros(blocks * block)
    padded[:n] = x
    np.testing.assert_allclose(out, padded.reshape(blocks, block).sum(1), rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-4)


def _mappings() -> int:
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc/self/maps (Linux)")
def test_fiber_stacks_are_kept_between_launches_and_released_with_the_build(build, monkeypatch):
    """A block that suspends every thread at a barrier needs a stack per thread: they are mapped once and
    reused by later launches (not mapped and unmapped at each), and freed when the caller releases the
    build (a session closing)."""
    monkeypatch.setenv("PORTKERN_EMU_THREADS", "1")   # one CPU thread runs every block: counts are exact
    prog = program(build, "block_reduce<256, float>")
    x = np.ones(256 * 4, np.float32)
    out = np.zeros(4, np.float32)
    prog.release()
    before = _mappings()
    prog(x, out, np.int32(x.size), grid=4, block=256)
    after_first = _mappings()
    for _ in range(10):
        prog(x, out, np.int32(x.size), grid=4, block=256)
    after_more = _mappings()
    np.testing.assert_array_equal(out, np.full(4, 256, np.float32))
    assert after_first - before >= 256          # a guard page and a stack per suspended thread, kept
    assert after_more - after_first <= 8        # later launches reuse them
    prog.release()
    assert _mappings() - before <= 8            # released with the build


def test_barrier_divergence_is_an_error_not_a_hang(build):
    x = np.ones(64, np.float32)
    with pytest.raises(LaunchError, match=r"barrier divergence in kernel 'early_exit_then_barrier'"):
        program(build, "early_exit_then_barrier")(x, np.int32(40), grid=1, block=64)
    program(build, "early_exit_then_barrier")(x, np.int32(64), grid=1, block=64)  # all arrive: fine


def test_arguments_are_checked_against_the_kernel_signature(build):
    p = program(build, "elementwise")
    x = np.ones(10, np.float32)
    y = np.zeros(10, np.float32)
    with pytest.raises(LaunchError, match="argument 2 is a 4-byte floating-point parameter but got np.float64"):
        p(x, y, np.float64(2), np.int32(10), grid=1, block=32)
    with pytest.raises(LaunchError, match="takes 4 arguments"):
        p(x, y, grid=1, block=32)
    assert p(x, y, np.float32(2), np.int32(10), grid=1, block=32, wait=True) > 0
    np.testing.assert_array_equal(y, 3 * np.ones(10, np.float32))
    with pytest.raises(LoadError, match="not in this build"):
        emu.load(build[1], "no_such_kernel")


def test_warpsize_is_not_a_compile_time_constant():
    src = "#include <cuda_runtime.h>\n__global__ void k(float* x) { __shared__ float s[warpSize]; s[0] = 1; x[0] = s[0]; }\n"
    with pytest.raises(CompileError, match="isn.t constant|not a constant|non-constant|variable length"):
        emu.compile(src, None, CompileOptions(entries=["k"], wavefront=32), name="warpsize_const")


def test_compile_error_carries_the_log():
    with pytest.raises(CompileError) as info:
        emu.compile("__global__ void k(float* x) { x[0] = undefined_name; }\n", None,
                    CompileOptions(entries=["k"]), name="broken")
    assert "undefined_name" in info.value.log and "broken.cu:1" in info.value.log


def test_cuda_file_with_chevron_host_launcher_compiles_and_runs():
    src = r"""
#include <cuda_runtime.h>
template <int B>
__global__ void add_one(float* x, int n) { int i = blockIdx.x * B + threadIdx.x; if (i < n) x[i] += 1.0f; }
void launch_add_one(float* x, int n, cudaStream_t s) {
  add_one<128><<<(n + 127) / 128, 128, 0, s>>>(x, n);
}
"""
    compiled = emu.compile(src, None, CompileOptions(entries=["add_one<128>"], wavefront=32), name="chevron")
    x = np.arange(300, dtype=np.float32)
    emu.load(compiled, "add_one<128>")(x, np.int32(300), grid=3, block=128)
    np.testing.assert_array_equal(x, np.arange(300, dtype=np.float32) + 1)


PCH_KERNEL = r"""
#include <hip/hip_runtime.h>
__global__ void scale(float* x, float a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = a * x[i] + SHIFT;
}
"""


def _scale_result(compiled) -> np.ndarray:
    x = np.arange(300, dtype=np.float32)
    emu.load(compiled, "scale")(x, np.float32(2.0), np.int32(300), grid=3, block=128)
    return x


@pytest.mark.skipif(not emu.available().ok or emu.available().details.get("compiler_family") != "gcc",
                    reason="the runtime header is precompiled for g++ builds only")
def test_precompiled_runtime_header_is_made_once_used_and_rebuilt_when_damaged(tmp_path, monkeypatch):

    monkeypatch.setenv("PORTKERN_CACHE_DIR", str(tmp_path))
    opts = CompileOptions(entries=["scale"], wavefront=32)
    with_pch = emu.compile(PCH_KERNEL.replace("SHIFT", "1.0f"), None, opts, name="pch_a")
    made = list((tmp_path / "emu" / "pch").glob("*/portkern_emu/runtime.h.gch"))
    assert len(made) == 1 and made[0].stat().st_size > 0
    first_mtime = made[0].stat().st_mtime_ns
    # A second unit with the same flags reuses it; a build without it gives the same results.
    emu.compile(PCH_KERNEL.replace("SHIFT", "3.0f"), None, opts, name="pch_b")
    assert made[0].stat().st_mtime_ns == first_mtime
    monkeypatch.setenv("PORTKERN_EMU_PCH", "0")
    without = emu.compile(PCH_KERNEL.replace("SHIFT", "1.0f") + "// no pch\n", None, opts, name="pch_c")
    np.testing.assert_array_equal(_scale_result(with_pch), _scale_result(without))
    np.testing.assert_array_equal(_scale_result(with_pch), 2 * np.arange(300, dtype=np.float32) + 1)
    # A damaged file: the build still succeeds (from the header itself) and the file is made again later.
    monkeypatch.setenv("PORTKERN_EMU_PCH", "1")
    made[0].write_bytes(made[0].read_bytes()[:4096])
    damaged = emu.compile(PCH_KERNEL.replace("SHIFT", "5.0f"), None, opts, name="pch_d")
    np.testing.assert_array_equal(_scale_result(damaged), 2 * np.arange(300, dtype=np.float32) + 5)
    emu.compile(PCH_KERNEL.replace("SHIFT", "6.0f"), None, opts, name="pch_e")
    assert made[0].stat().st_size > 4096
