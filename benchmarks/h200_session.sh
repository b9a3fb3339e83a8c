#!/usr/bin/env bash
# One batched session on an NVIDIA GPU machine: a check that the GPU tests pass, then a port of
# libraries/blas through the throughput benchmark (its run folder is kept: those device timings are
# the performance model's training data), then the model's leave-one-family-out evaluation on them.
#
#   OUT=results-folder bash benchmarks/h200_session.sh [port-seconds] [kernels] [strategy] [budget]
#
# Every figure lands under $OUT (gpu.txt, gpu-tests.txt, throughput.{txt,json}, runs.tgz, eval.txt);
# SKIP_GPU_TESTS=1 leaves the GPU tests out.
set -u
OUT=${OUT:?set OUT to a folder for the results}
LIMIT=${1:-360}
KERNELS=${2:-axpy,scal,copy,swap,rot,dot,nrm2,asum,iamax,gemv_n,gemv_t,ger,gemm}
STRATEGY=${3:-evolve}
BUDGET=${4:-8}
mkdir -p "$OUT"
export PORTKERN_CACHE_DIR=${PORTKERN_CACHE_DIR:-/tmp/portkern-session-cache}
# Time every candidate: an uncalibrated model rules nothing out.
export PORTKERN_PERFMODEL=analytic
# Bases at the primary point only (no vendor comparison): the device time goes to candidates.
export PORTKERN_BENCH_BASE_FULL=${PORTKERN_BENCH_BASE_FULL:-0}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw \
  --format=csv > "$OUT/gpu.txt" 2>&1
if [ -z "${SKIP_GPU_TESTS:-}" ]; then
  timeout 150 python -m pytest -q -x -m gpu -p no:cacheprovider tests/test_harness_gpu.py > "$OUT/gpu-tests.txt" 2>&1
  echo "gpu tests exit $?" >> "$OUT/gpu-tests.txt"
  tail -3 "$OUT/gpu-tests.txt"
fi
timeout -s INT "$LIMIT" python benchmarks/bench_throughput.py --mode device --target h200 --kernels "$KERNELS" \
  --strategy "$STRATEGY" --budget "$BUDGET" --keep "$OUT" --run-id blas-h200-data --json "$OUT/throughput.json" \
  > "$OUT/throughput.txt" 2>&1
echo "throughput exit $?" >> "$OUT/throughput.txt"
tail -15 "$OUT/throughput.txt"
python -m portkern model eval "$OUT/runs" > "$OUT/eval.txt" 2>&1
cat "$OUT/eval.txt"
# The run folder nests deeper than the transfer back keeps: pack it.
tar czf "$OUT/runs.tgz" -C "$OUT" runs && rm -rf "$OUT/runs"
