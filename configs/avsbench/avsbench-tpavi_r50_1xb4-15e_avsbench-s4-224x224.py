_base_ = [
    '../_base_/models/avsbench_tpavi_r50.py',
    '../_base_/datasets/avsbench_s4.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_30e.py'
]
# AVSBench baseline on S4 as released: Adam (no weight decay) at a constant
# lr of 1e-4, 4 clips per batch, 15 epochs; BCE on the labelled first frame
# of each training clip (all 5 frames go through the model, since TPAVI
# attends across them).
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(_delete_=True, type='Adam', lr=1e-4))
train_cfg = dict(max_epochs=15)
# The release tests 4 clips (20 frames) per batch; its F-score depends on
# that (see AVSBinaryMetric).
val_evaluator = dict(type='AVSBinaryMetric', release_batch_frames=20)
test_evaluator = val_evaluator
