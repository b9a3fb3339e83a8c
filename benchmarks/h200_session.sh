#!/usr/bin/env bash
# One batched session on an NVIDIA GPU machine: a check that the GPU tests pass, then a port of
# libraries/blas through the throughput benchmark (its run folder is kept: those device timings are
# the performance model's training data), then the model's leave-one-family-out evaluation on them.
#
#   OUT=results-folder bash benchmarks/h200_session.sh [port-seconds] [kernels] [strategy] [budget]
#
# Every figure lands under $OUT (gpu.txt, gpu-tests.txt, hip-programs.{md,txt}, throughput.{txt,json} of
# the level-1/2 kernels, gemm-throughput.{txt,json}, runs.tgz, eval.txt, anatomy.{txt,json});
# SKIP_GPU_TESTS=1 leaves the GPU tests out, SKIP_HIP_PROGRAMS=1 the HIP programs, SKIP_ANATOMY=1 the
# reduction anatomy, GEMM_KERNELS= the gemm port, SKIP_EVAL=1 the model's evaluation (runs.tgz keeps what it needs: `portkern model
# eval` on the unpacked runs elsewhere).
set -u
OUT=${OUT:?set OUT to a folder for the results}
LIMIT=${1:-360}
KERNELS=${2:-axpy,scal,copy,swap,rot,dot,nrm2,asum,iamax,gemv_n,gemv_t,ger,trsv_lower,trsv_upper}
# A second, separate port for the gemms (their throughput goal is its own); GEMM_KERNELS= leaves it out.
GEMM_KERNELS=${GEMM_KERNELS-gemm,gemm_strided_batched}
GEMM_LIMIT=${GEMM_LIMIT:-150}
STRATEGY=${3:-evolve}
BUDGET=${4:-8}
# The target registry entry of the GPU (h200, h100, ...).
TARGET=${TARGET:-h200}
mkdir -p "$OUT"
export PORTKERN_CACHE_DIR=${PORTKERN_CACHE_DIR:-/tmp/portkern-session-cache}
# Time every candidate: an uncalibrated model rules nothing out.
export PORTKERN_PERFMODEL=analytic
# Bases at the primary point only (no vendor comparison): the device time goes to candidates.
export PORTKERN_BENCH_BASE_FULL=${PORTKERN_BENCH_BASE_FULL:-0}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw \
  --format=csv > "$OUT/gpu.txt" 2>&1
GPU_TESTS=${GPU_TESTS:-tests/test_harness_ondevice.py tests/test_harness_gpu.py tests/test_harness_profile.py}
if [ -z "${SKIP_GPU_TESTS:-}" ]; then
  # shellcheck disable=SC2086
  timeout "${GPU_TESTS_LIMIT:-200}" python -m pytest -q -m gpu -p no:cacheprovider $GPU_TESTS > "$OUT/gpu-tests.txt" 2>&1
  status=$?
  echo "gpu tests exit $status" >> "$OUT/gpu-tests.txt"
  tail -5 "$OUT/gpu-tests.txt"
  # Checks on the device that do not agree with the host's: gather timings with the host's checks.
  if [ "$status" != 0 ] && grep -q "test_harness_ondevice.*FAILED\|FAILED tests/test_harness_ondevice" "$OUT/gpu-tests.txt"; then
    export PORTKERN_BENCH_CHECK_ON=host
    echo "device checks failed their tests: timing with bench.check_on=host" | tee -a "$OUT/gpu-tests.txt"
  fi
fi
# The self-checking HIP programs translated to CUDA, built and run (SKIP_HIP_PROGRAMS=1 leaves them out).
if [ -z "${SKIP_HIP_PROGRAMS:-}" ]; then
  timeout 300 python benchmarks/hip_programs.py --out /tmp/portkern-hip-programs --results "$OUT/hip-programs.md" \
    > "$OUT/hip-programs.txt" 2>&1
  echo "hip programs exit $?" >> "$OUT/hip-programs.txt"
  grep -E "^Built|exit" "$OUT/hip-programs.txt"
fi
# Where a reduction's time goes (SKIP_ANATOMY=1 leaves it out): stage by stage, and under each flush.
if [ -z "${SKIP_ANATOMY:-}" ]; then
  timeout 120 python benchmarks/reduction_anatomy.py --json "$OUT/anatomy.json" > "$OUT/anatomy.txt" 2>&1
  echo "anatomy exit $?" >> "$OUT/anatomy.txt"
  grep -E "flush|exit" "$OUT/anatomy.txt"
fi
# TERM at the limit, KILL 20 s later: a stopped run keeps what its store recorded.
timeout -k 20 "$LIMIT" python benchmarks/bench_throughput.py --mode device --target "$TARGET" --kernels "$KERNELS" \
  --strategy "$STRATEGY" --budget "$BUDGET" --keep "$OUT" --run-id "blas-$TARGET-data" --json "$OUT/throughput.json" \
  > "$OUT/throughput.txt" 2>&1
echo "throughput exit $?" >> "$OUT/throughput.txt"
tail -15 "$OUT/throughput.txt"
if [ -n "$GEMM_KERNELS" ]; then
  timeout -k 20 "$GEMM_LIMIT" python benchmarks/bench_throughput.py --mode device --target "$TARGET" \
    --kernels "$GEMM_KERNELS" --strategy "$STRATEGY" --budget "$BUDGET" --keep "$OUT" --run-id "gemm-$TARGET-data" \
    --json "$OUT/gemm-throughput.json" > "$OUT/gemm-throughput.txt" 2>&1
  echo "gemm throughput exit $?" >> "$OUT/gemm-throughput.txt"
  tail -15 "$OUT/gemm-throughput.txt"
fi
# rocBLAS's own kernels, translated to CUDA and searched (ROCBLAS_KERNELS=a,b,... with ROCBLAS_SRC pointing at
# a rocBLAS checkout), their bases timed beside the vendor library: what the operators do on code nobody here wrote.
if [ -n "${ROCBLAS_KERNELS:-}" ]; then
  PORTKERN_BENCH_BASE_FULL=1 timeout -k 20 "${ROCBLAS_LIMIT:-150}" python benchmarks/bench_throughput.py --mode device \
    --lib rocblas --target "$TARGET" --kernels "$ROCBLAS_KERNELS" --strategy "$STRATEGY" --budget "$BUDGET" \
    --keep "$OUT" --run-id "rocblas-$TARGET" --json "$OUT/rocblas-throughput.json" > "$OUT/rocblas-throughput.txt" 2>&1
  echo "rocblas throughput exit $?" >> "$OUT/rocblas-throughput.txt"
  tail -25 "$OUT/rocblas-throughput.txt"
fi
if [ -z "${SKIP_EVAL:-}" ]; then
  python -m portkern model eval "$OUT/runs" > "$OUT/eval.txt" 2>&1
  cat "$OUT/eval.txt"
fi
# The run folder nests deeper than the transfer back keeps: pack it.
tar czf "$OUT/runs.tgz" -C "$OUT" runs && rm -rf "$OUT/runs"
