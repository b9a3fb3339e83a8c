"""Where a sum reduction's time goes on an NVIDIA GPU: the first stage alone at several grid sizes and
loads in flight per thread, the second stage alone, both together, and single-pass forms, beside the
copy and pure-read bandwidth of the same bytes.

Written for deciding what the search's reduction operators should produce; the kernels here are small
self-contained CUDA written for this measurement (float32 sum of |x|, n = 2^24 by default), compiled
with NVRTC through CuPy. Each figure is the median of per-launch CUDA-event times over ``--reps``
launches, rotating through enough input copies that the L2 cache holds none of the next one.

    python benchmarks/reduction_anatomy.py [--n 16777216] [--reps 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

SOURCE = r"""
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

template <int NB>
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float part[NB / 32];
    v = warp_sum(v);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
    __syncthreads();
    v = threadIdx.x < NB / 32 ? part[threadIdx.x] : 0.0f;
    if (threadIdx.x < 32) v = warp_sum(v);
    return v;
}

// A thread's share of a 512-thread block's grid-strided sum, two float4 loads in flight.
__device__ __forceinline__ float thread_sum_u2(const float4* __restrict__ x, int n4) {
    float a0 = 0.0f, a1 = 0.0f;
    const int stride = gridDim.x * 512;
    int i = blockIdx.x * 512 + threadIdx.x;
    for (; i + stride < n4; i += 2 * stride) {
        float4 v = x[i], w = x[i + stride];
        a0 += fabsf(v.x) + fabsf(v.y) + fabsf(v.z) + fabsf(v.w);
        a1 += fabsf(w.x) + fabsf(w.y) + fabsf(w.z) + fabsf(w.w);
    }
    for (; i < n4; i += stride) {
        float4 v = x[i];
        a0 += fabsf(v.x) + fabsf(v.y) + fabsf(v.z) + fabsf(v.w);
    }
    return a0 + a1;
}

extern "C" {

// Stage one: U independent float4 loads in flight per thread and step, grid-strided.
#define STAGE1(NB, U)                                                                              \
__global__ void __launch_bounds__(NB) stage1_nb##NB##_u##U(const float4* __restrict__ x, int n4,   \
                                                            float* __restrict__ partial) {         \
    float acc[U];                                                                                  \
    _Pragma("unroll") for (int u = 0; u < U; ++u) acc[u] = 0.0f;                                   \
    const int stride = gridDim.x * NB;                                                             \
    int i = blockIdx.x * NB + threadIdx.x;                                                         \
    for (; i + (U - 1) * stride < n4; i += U * stride) {                                           \
        float4 v[U];                                                                               \
        _Pragma("unroll") for (int u = 0; u < U; ++u) v[u] = x[i + u * stride];                    \
        _Pragma("unroll") for (int u = 0; u < U; ++u)                                              \
            acc[u] += fabsf(v[u].x) + fabsf(v[u].y) + fabsf(v[u].z) + fabsf(v[u].w);               \
    }                                                                                              \
    for (; i < n4; i += stride) {                                                                  \
        float4 v = x[i];                                                                           \
        acc[0] += fabsf(v.x) + fabsf(v.y) + fabsf(v.z) + fabsf(v.w);                               \
    }                                                                                              \
    float s = 0.0f;                                                                                \
    _Pragma("unroll") for (int u = 0; u < U; ++u) s += acc[u];                                     \
    s = block_sum<NB>(s);                                                                          \
    if (threadIdx.x == 0) partial[blockIdx.x] = s;                                                 \
}
STAGE1(256, 1) STAGE1(256, 2) STAGE1(256, 4)
STAGE1(512, 1) STAGE1(512, 2) STAGE1(512, 4)
STAGE1(1024, 1) STAGE1(1024, 2)

#define STAGE2(NB)                                                                                 \
__global__ void __launch_bounds__(NB) stage2_nb##NB(const float* __restrict__ partial, int m,      \
                                                     float* __restrict__ result) {                 \
    float s = 0.0f;                                                                                \
    for (int i = threadIdx.x; i < m; i += NB) s += partial[i];                                     \
    s = block_sum<NB>(s);                                                                          \
    if (threadIdx.x == 0) *result = s;                                                             \
}
STAGE2(128) STAGE2(256) STAGE2(1024)

// Single pass: each block leaves its partial, the last block to finish folds them all and resets
// the ticket for the next launch.
__global__ void __launch_bounds__(512) lastblock_u2(const float4* __restrict__ x, int n4,
                                                    float* __restrict__ partial,
                                                    unsigned int* __restrict__ ticket,
                                                    float* __restrict__ result) {
    float s = block_sum<512>(thread_sum_u2(x, n4));
    __shared__ bool last;
    if (threadIdx.x == 0) {
        partial[blockIdx.x] = s;
        __threadfence();
        last = atomicAdd(ticket, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (!last) return;
    __threadfence();
    float t = 0.0f;
    for (int j = threadIdx.x; j < gridDim.x; j += 512) t += ((volatile float*)partial)[j];
    t = block_sum<512>(t);
    if (threadIdx.x == 0) { *result = t; *ticket = 0u; }
}

// Single pass with an atomic add of each block's partial into a result zeroed beforehand.
__global__ void __launch_bounds__(512) atomic_u2(const float4* __restrict__ x, int n4,
                                                 float* __restrict__ result) {
    float s = block_sum<512>(thread_sum_u2(x, n4));
    if (threadIdx.x == 0) atomicAdd(result, s);
}

__global__ void empty_kernel() {}
}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1 << 24, help="float32 elements (a multiple of 4)")
    parser.add_argument("--reps", type=int, default=200, help="timed launches per figure")
    parser.add_argument("--json", default="", help="also write the figures here")
    args = parser.parse_args(argv)
    try:
        import cupy as cp
    except ImportError:
        print("reduction_anatomy: needs CuPy and an NVIDIA GPU", file=sys.stderr)
        return 2
    n = args.n - args.n % 4
    n4 = n // 4
    nbytes = n * 4
    props = cp.cuda.runtime.getDeviceProperties(0)
    sms = props["multiProcessorCount"]
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    mod = cp.RawModule(code=SOURCE, options=("-std=c++17",))
    l2 = props.get("l2CacheSize", 64 << 20)
    copies = max(3, -(-3 * l2 // nbytes) + 1)
    rng = cp.random.default_rng(1)
    xs = [rng.standard_normal(n, dtype=cp.float32) for _ in range(copies)]
    dst = cp.empty(n, dtype=cp.float32)
    partial = cp.zeros(1 << 16, dtype=cp.float32)
    result = cp.zeros(1, dtype=cp.float32)
    ticket = cp.zeros(1, dtype=cp.uint32)
    want = float(cp.abs(xs[0].astype(cp.float64)).sum())
    stream = cp.cuda.Stream(non_blocking=True)

    flush = cp.empty(2 * l2, dtype=cp.uint8)
    flushes = {"write": lambda r: flush.fill(r & 0xFF), "read": lambda r: flush.max(),
               "write then read": lambda r: (flush.fill(r & 0xFF), flush.max())}

    def timed(launch, before=None) -> float:
        with stream:
            for r in range(10):
                launch(xs[r % copies])
            events = [(cp.cuda.Event(), cp.cuda.Event()) for _ in range(args.reps)]
            for r, (a, b) in enumerate(events):
                if before is not None:
                    before(r)
                a.record(stream)
                launch(xs[r % copies])
                b.record(stream)
            stream.synchronize()
        return statistics.median(cp.cuda.get_elapsed_time(a, b) for a, b in events) * 1000.0  # us

    rows: list[dict] = []

    def row(what: str, us: float, bytes_moved: int, check: float | None = None) -> None:
        gbs = bytes_moved / (us * 1e-6) / 1e9
        ok = "" if check is None else ("  ok" if abs(check - want) <= 1e-3 * want else f"  WRONG {check}")
        rows.append({"what": what, "us": round(us, 2), "gbs": round(gbs, 1), "check": ok.strip()})
        print(f"{what:58s} {us:8.2f} us {gbs:8.1f} GB/s{ok}", flush=True)

    print(f"{name}, {sms} SMs, n = {n} float32 ({nbytes >> 20} MiB), {copies} rotated copies, "
          f"median of {args.reps} launches", flush=True)
    row("cudaMemcpy D2D (read + write)", timed(lambda x: dst.data.copy_from_device_async(x.data, nbytes, stream)),
        2 * nbytes)
    empty = mod.get_function("empty_kernel")
    row("empty kernel", timed(lambda x: empty((1,), (32,), ())), 0)
    stage2 = {nb: mod.get_function(f"stage2_nb{nb}") for nb in (128, 256, 1024)}
    for nb, us_list in ((256, (1, 2, 4)), (512, (1, 2, 4)), (1024, (1, 2))):
        occ = 2048 // nb
        wave = sms * occ
        for u in us_list:
            f = mod.get_function(f"stage1_nb{nb}_u{u}")
            for blocks in sorted({wave, 2 * wave, 4 * wave, n // (nb * 4), n // (nb * 32), 1024, 4096}):
                if blocks > partial.size:
                    continue
                us = timed(lambda x, f=f, b=blocks, nb=nb: f((b,), (nb,), (x, cp.int32(n4), partial)))
                row(f"stage 1 NB={nb} U={u} blocks={blocks} ({blocks / wave:.2f} waves)", us, nbytes)
    for blocks in (264, 528, 1024, 4096):
        for nb2, f2 in stage2.items():
            us = timed(lambda x, f2=f2, b=blocks, nb2=nb2: f2((1,), (nb2,), (partial, cp.int32(b), result)))
            row(f"stage 2 alone NB2={nb2} over {blocks} partials", us, 0)
    for nb, u in ((512, 2), (512, 4), (256, 4)):
        f = mod.get_function(f"stage1_nb{nb}_u{u}")
        wave = sms * (2048 // nb)
        for blocks in (wave, 2 * wave, 1024):
            for nb2 in (256, 1024):
                def both(x, f=f, b=blocks, nb2=nb2, nb=nb):
                    f((b,), (nb,), (x, cp.int32(n4), partial))
                    stage2[nb2]((1,), (nb2,), (partial, cp.int32(b), result))
                us = timed(both)
                both(xs[0])
                row(f"two stages NB={nb} U={u} blocks={blocks} NB2={nb2}", us, nbytes, float(result.get()[0]))
    last = mod.get_function("lastblock_u2")
    atomic = mod.get_function("atomic_u2")
    wave = sms * 4
    for blocks in (wave, 2 * wave, 1024):
        ticket.fill(0)
        us = timed(lambda x, b=blocks: last((b,), (512,), (x, cp.int32(n4), partial, ticket, result)))
        last((blocks,), (512,), (xs[0], cp.int32(n4), partial, ticket, result))
        row(f"single pass, last block folds, blocks={blocks}", us, nbytes, float(result.get()[0]))

        def zero_then_add(x, b=blocks):
            result.data.memset_async(0, 4, stream)
            atomic((b,), (512,), (x, cp.int32(n4), result))
        us = timed(zero_then_add)
        with stream:
            zero_then_add(xs[0])
        stream.synchronize()
        row(f"single pass, memset + atomicAdd, blocks={blocks}", us, nbytes, float(result.get()[0]))
    # The same two-stage reduction and copy with the cache emptied before each launch (untimed), by
    # writing twice its size (dirty lines left behind) or reading it (clean lines left behind).
    f = mod.get_function("stage1_nb512_u1")

    def two(x):
        f((1024,), (512,), (x, cp.int32(n4), partial))
        stage2[1024]((1,), (1024,), (partial, cp.int32(1024), result))
    for how, before in flushes.items():
        row(f"two stages NB=512 U=1 blocks=1024 NB2=1024, {how} flush", timed(two, before), nbytes)
        row(f"cudaMemcpy D2D, {how} flush",
            timed(lambda x: dst.data.copy_from_device_async(x.data, nbytes, stream), before), 2 * nbytes)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"device": name, "sms": sms, "n": n, "reps": args.reps, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
