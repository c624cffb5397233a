#!/usr/bin/env bash
# The GPU checks and figures of docs/benchmark.md, in one run of under 8
# minutes on an H100. Usage:
#   tools/analysis_tools/gpu_benchmark.sh OUT_DIR
# PYTHON=... picks the interpreter; BUDGET=... (s, default 450) bounds the
# whole run: each step gets at most what is left of it (and STEP_TIMEOUT),
# later steps are left out when it is spent (a failure for the kernel
# checks, kernel_check and msda). REQUIRE_COMPILED=1 fails the
# run when mmcv's compiled kernel is missing (no nvcc, no full mmcv);
# otherwise Triton and PyTorch are compared without it.
# DRY_RUN=1 rehearses the same flow on the CPU with tiny shapes (Triton in
# its interpreter, the demo config, no kernel build, no engine tests).
#
# Writes env.txt (GPU, versions, kernel build and checks), log.txt,
# msda_s4.json (deformable attention per kernel and dtype at the S4 shapes
# of 224 and 512 px), train_/infer_ JSON figures for the PVTv2-b5 and R50
# S4 configs (training per kernel, fp32 and bf16 AMP) and report.md (their
# tables for docs/benchmark.md, the targets checked). Exits 1 when a check
# fails: a kernel test, the kernels' error against PyTorch, a step's crash.
set -u
OUT=${1:-work_dirs/gpu_benchmark}
PYTHON=${PYTHON:-python}
BUDGET=${BUDGET:-450}
STEP_TIMEOUT=${STEP_TIMEOUT:-240}
REQUIRE_COMPILED=${REQUIRE_COMPILED:-0}
DRY_RUN=${DRY_RUN:-0}
REPORT_RESERVE=15  # seconds kept for the report at the end
mkdir -p "$OUT"
LOG="$OUT/log.txt"
: > "$LOG"
FAILED=""
NOT_RUN=""
step() {  # step NAME CMD...: run with a time cap, log everything
  local name=$1; shift
  local left=$((BUDGET - SECONDS - REPORT_RESERVE))
  if [ $left -lt 30 ]; then
    echo "== $name: not run, ${left} s of the budget left" | tee -a "$LOG"
    NOT_RUN="$NOT_RUN $name"
    # A correctness check left out checked nothing: a failure.
    case $name in kernel_check|msda) FAILED="$FAILED $name(not-run)";; esac
    return 125
  fi
  local cap=$STEP_TIMEOUT
  [ $left -lt "$cap" ] && cap=$left
  echo "== $name (cap ${cap} s): $*" | tee -a "$LOG"
  local start=$SECONDS
  timeout -k 10 "$cap" "$@" >> "$LOG" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$LOG"
  [ $rc -eq 0 ] || FAILED="$FAILED $name"
  return $rc
}
PVT=configs/avsegformer/avsegformer_pvtv2-b5_1xb4-30e_avsbench-s4-224x224.py
R50=configs/avsegformer/avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py
DEMO=configs/demo/avsegformer-tiny_r18_1xb8-8e_synthetic-s4-64x64.py
if [ "$DRY_RUN" = 1 ]; then
  DEVICE=cpu
  # Triton runs in its interpreter on CPU; set before anything imports it.
  export TRITON_INTERPRET=1
  MSDA_ARGS="--sizes 32 --batch 2 --embed-dims 32 --heads 2 --warmup 0 --repeats 1"
  MODELS="demo $DEMO"
  TRAIN_ARGS="--num-clips 4 --batch-size 2 --workers 0 --iters 1 --warmup 0 --dtype fp32 --kernels pytorch triton compiled"
  INFER_ARGS="--size 64 64 --batch-sizes 1 --dtype fp32 --warmup 0 --repeats 1 --no-flops --audio features"
  KERNEL_TESTS=tests/test_ops/test_triton_ms_deform_attn.py
else
  DEVICE=cuda
  # Every token of the encoder queries: S4 batch 4 clips x 5 frames.
  MSDA_ARGS="--sizes 224 512 --batch 20 --dtype fp32 bf16 --warmup 5 --repeats 20"
  MODELS="pvt $PVT r50 $R50"
  # Model-only steps (the loader is measured once per config): one
  # training run per kernel and dtype, bf16 through AmpOptimWrapper as
  # `tools/train.py --amp` trains.
  TRAIN_ARGS="--image-size 224 --num-clips 24 --batch-size 4 --workers 8 --iters 10 --warmup 3 --dtype fp32 bf16 --kernels pytorch triton compiled"
  INFER_ARGS="--batch-sizes 4 --dtype fp32 bf16 --warmup 3 --repeats 10"
  KERNEL_TESTS="tests/test_models/test_layers/test_ms_deform_attn.py tests/test_ops/test_triton_ms_deform_attn.py"
fi
{
  if [ "$DRY_RUN" = 1 ]; then echo "dry run on the CPU (TRITON_INTERPRET=1)"
  else nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  fi
  $PYTHON -c "import torch, mmcv, mmseg, mmavs; from mmavs.ops import has_compiled_mmcv_ops as h; from mmavs.ops.triton_ms_deform_attn import triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, '| triton', getattr(triton, '__version__', None), '| mmcv', mmcv.__version__, '| mmseg', mmseg.__version__, '| mmavs', mmavs.__version__, '| full mmcv ops:', h())"
} 2>&1 | tee "$OUT/env.txt"
if [ "$DRY_RUN" != 1 ]; then
  # mmcv-lite: build just the deformable-attention kernel (full mmcv has
  # it). Without nvcc this fails and the compiled kernel is left out.
  if ! step kernel_build $PYTHON tools/misc/build_kernels.py; then
    FAILED=${FAILED% kernel_build}
    echo "no compiled kernel: Triton and PyTorch are compared without it" \
      | tee -a "$OUT/env.txt"
    [ "$REQUIRE_COMPILED" = 1 ] && FAILED="$FAILED kernel_build"
  fi
  grep -E "^(built|error|This mmcv)" "$LOG" | tee -a "$OUT/env.txt"
fi
# Compiled and Triton kernels against the PyTorch path, forward and
# backward (the Triton tests also run in the interpreter, on the CPU).
step kernel_check $PYTHON -m pytest -q -p no:cacheprovider -rs $KERNEL_TESTS
grep -E "(passed|failed|skipped|error)( |,|$)|^SKIPPED" "$LOG" | tail -n 4 \
    | tee -a "$OUT/env.txt"
# A kernel test skipped on a GPU machine checked nothing: a failure (the
# compiled kernel's only when it is required).
SKIP_FAILS="needs CUDA|triton does not import"
[ "$REQUIRE_COMPILED" = 1 ] && SKIP_FAILS="$SKIP_FAILS|no compiled kernel"
if [ "$DRY_RUN" != 1 ] && grep -qE "^SKIPPED.*($SKIP_FAILS)" "$LOG"; then
  FAILED="$FAILED kernel_check(skipped)"
fi
# Deformable attention alone, per kernel and dtype; exits 1 when the Triton
# or compiled kernel is off the fp32 PyTorch path by more than 1e-4 (fp32)
# or 1e-2 (bf16) of the largest value.
step msda $PYTHON -u tools/analysis_tools/ms_deform_attn_benchmark.py \
    --device $DEVICE $MSDA_ARGS --out "$OUT/msda_s4.json"
set -- $MODELS
while [ $# -ge 2 ]; do
  step "train_$1" $PYTHON -u tools/analysis_tools/train_speed.py "$2" \
      --device $DEVICE --synthetic $TRAIN_ARGS --modes model \
      --out "$OUT/train_$1.json"
  shift 2
done
set -- $MODELS
while [ $# -ge 2 ]; do
  step "infer_$1" $PYTHON -u tools/analysis_tools/benchmark.py "$2" \
      --device $DEVICE $INFER_ARGS --out "$OUT/infer_$1.json"
  shift 2
done
$PYTHON tools/analysis_tools/benchmark_report.py "$OUT" | tee "$OUT/report.md"
if [ "$DRY_RUN" != 1 ]; then
  # The Runner on CUDA: AMP training (fp16, bf16), resume equality, the
  # launchers (mmengine puts the model on the GPU when there is one). Last:
  # left out when the budget is spent.
  step gpu_engine_tests $PYTHON -m pytest -q -p no:cacheprovider -rs -n 4 \
      tests/test_engine
  grep -E "(passed|failed)( |,|$)" "$LOG" | tail -n 1 | tee -a "$OUT/env.txt"
fi
grep -E "^== " "$LOG"
echo "total: $SECONDS s of a ${BUDGET} s budget" | tee -a "$OUT/env.txt"
[ -z "$NOT_RUN" ] || echo "not run (time budget):$NOT_RUN" \
    | tee -a "$OUT/env.txt"
[ -z "$FAILED" ] || { echo "failed steps:$FAILED"; exit 1; }
