#!/usr/bin/env bash
# The GPU checks and figures of docs/benchmark.md, in one run (about 7 min
# on an H100). Usage:
#   tools/analysis_tools/gpu_benchmark.sh OUT_DIR
# PYTHON=... picks the interpreter, STEP_TIMEOUT=... caps each step (s).
# Writes 7 files: env.txt (GPU, versions, kernel build and check), log.txt,
# infer_/train_ JSON figures for the PVTv2-b5 and R50 S4 configs, and
# report.md (their tables for docs/benchmark.md, the bf16 target checked).
set -u
OUT=${1:-work_dirs/gpu_benchmark}
PYTHON=${PYTHON:-python}
STEP_TIMEOUT=${STEP_TIMEOUT:-240}
mkdir -p "$OUT"
LOG="$OUT/log.txt"
: > "$LOG"
FAILED=""
step() {  # step NAME CMD...: run with a time cap, log everything
  local name=$1; shift
  echo "== $name: $*" | tee -a "$LOG"
  local start=$SECONDS
  timeout -k 20 "$STEP_TIMEOUT" "$@" >> "$LOG" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$LOG"
  [ $rc -eq 0 ] || FAILED="$FAILED $name"
  return $rc
}
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $PYTHON -c "import torch, mmcv, mmseg, mmavs; from mmavs.utils import has_compiled_mmcv_ops as h; print('torch', torch.__version__, 'cuda', torch.version.cuda, '| mmcv', mmcv.__version__, '| mmseg', mmseg.__version__, '| mmavs', mmavs.__version__, '| full mmcv ops:', h())"
} 2>&1 | tee "$OUT/env.txt"
# mmcv-lite: build just the deformable-attention kernel (full mmcv has it).
step kernel_build $PYTHON tools/misc/build_kernels.py
grep -E "^(built|error|This mmcv)" "$LOG" | tee -a "$OUT/env.txt"
# The compiled kernel against the pure path, forward and backward.
step kernel_check $PYTHON -m pytest -q -p no:cacheprovider -rs \
    tests/test_models/test_layers/test_ms_deform_attn.py
grep -E "(passed|failed|skipped|error)( |,|$)|^SKIPPED" "$LOG" | tail -n 3 \
    | tee -a "$OUT/env.txt"
# A skipped comparison means no compiled kernel was checked: a failure here.
grep -q "^SKIPPED.*test_ms_deform_attn" "$LOG" && FAILED="$FAILED kernel_check"
PVT=configs/avsegformer/avsegformer_pvtv2-b5_1xb4-30e_avsbench-s4-224x224.py
R50=configs/avsegformer/avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py
# The target first: PVTv2-b5 training, fp32 against bf16 AMP, batch 4.
for pair in "pvt $PVT" "r50 $R50"; do
  set -- $pair
  step "train_$1" $PYTHON -u tools/analysis_tools/train_speed.py "$2" \
      --device cuda --synthetic --image-size 224 --num-clips 48 \
      --batch-size 4 --workers 8 --iters 20 --warmup 5 --dtype fp32 bf16 \
      --out "$OUT/train_$1.json"
  step "infer_$1" $PYTHON -u tools/analysis_tools/benchmark.py "$2" \
      --device cuda --batch-sizes 1 4 --dtype fp32 bf16 --warmup 5 \
      --repeats 20 --out "$OUT/infer_$1.json"
done
$PYTHON tools/analysis_tools/benchmark_report.py "$OUT" | tee "$OUT/report.md"
# The Runner on CUDA: AMP training (fp16, bf16), resume equality, the
# launchers (mmengine puts the model on the GPU when there is one).
step gpu_engine_tests $PYTHON -m pytest -q -p no:cacheprovider -rs -n 4 \
    tests/test_engine
grep -E "(passed|failed)( |,|$)" "$LOG" | tail -n 1 | tee -a "$OUT/env.txt"
grep -E "^== " "$LOG"
[ -z "$FAILED" ] || { echo "failed steps:$FAILED"; exit 1; }
