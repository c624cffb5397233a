_base_ = [
    '../_base_/models/avsbench_tpavi_r50.py',
    '../_base_/datasets/avsbench_ms3.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_30e.py'
]
# AVSBench baseline on MS3 as released: Adam lr 1e-4, 4 clips per batch,
# 30 epochs; BCE on all 5 frames plus the audio-visual matching loss (KL,
# lambda_1 = 0.5, all four TPAVI levels, average pooling of the sigmoid
# mask, no feature normalisation, summed over the frames of the batch:
# --masked_av_flag --masked_av_stages 0 1 2 3 --lambda_1 0.5 --kl_flag).
model = dict(
    decode_head=dict(
        loss_av_match=dict(
            type='AVMatchingLoss',
            mask_pooling='avg',
            threshold_mask=False,
            normalize=False,
            reduction='sum',
            loss_weight=0.5)))
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(_delete_=True, type='Adam', lr=1e-4))
train_cfg = dict(max_epochs=30)
val_evaluator = dict(type='AVSBinaryMetric', release_batch_frames=20)
test_evaluator = val_evaluator
