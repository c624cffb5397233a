_base_ = [
    '../_base_/models/avsegformer_r50.py',
    '../_base_/datasets/avsbench_avss.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_30e.py'
]
# 71 classes (background = 0): softmax cross-entropy on labelled frames; the
# intermediate masks predict the foreground (gt > 0) with Dice.
model = dict(
    decode_head=dict(
        num_classes=71,
        out_channels=71,
        threshold=None,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            avg_non_ignore=True,
            loss_weight=1.0,
            loss_name='loss_ce')))
default_hooks = dict(checkpoint=dict(save_best='mIoU'))
