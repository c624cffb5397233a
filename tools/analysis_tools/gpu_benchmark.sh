#!/usr/bin/env bash
# The GPU checks and figures of docs/benchmark.md, in one run.
# Usage: tools/analysis_tools/gpu_benchmark.sh OUT_DIR   (PYTHON=... to pick
# the interpreter). Needs CUDA; full mmcv (compiled ops) for the kernel check.
set -u
OUT=${1:-work_dirs/gpu_benchmark}
PYTHON=${PYTHON:-python}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
$PYTHON -c "import mmavs; from mmavs.utils import has_compiled_mmcv_ops as h; print('compiled mmcv ops:', h())" | tee -a "$OUT/gpu.txt"
# The compiled deformable-attention kernel against the pure path.
$PYTHON -m pytest tests/test_models/test_layers/test_ms_deform_attn.py -q -p no:cacheprovider 2>&1 | tail -3 | tee "$OUT/kernel_check.txt"
for config in configs/avsegformer/avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py \
              configs/avsegformer/avsegformer_pvtv2-b5_1xb4-30e_avsbench-s4-224x224.py; do
  name=$(basename "$config" .py)
  $PYTHON -u tools/analysis_tools/benchmark.py "$config" --device cuda \
      --batch-sizes 1 4 --dtype fp32 bf16 --warmup 5 --repeats 20 \
      --out "$OUT/infer_$name.json" 2>&1 | grep -v -i warn | tee "$OUT/infer_$name.txt"
  $PYTHON -u tools/analysis_tools/train_speed.py "$config" --device cuda \
      --synthetic --image-size 224 --num-clips 64 --batch-size 4 --workers 8 \
      --iters 20 --warmup 5 --dtype fp32 bf16 \
      --out "$OUT/train_$name.json" 2>&1 | grep -v -i warn | tee "$OUT/train_$name.txt"
done
