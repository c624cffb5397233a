_base_ = [
    '../_base_/models/avsbench_tpavi_r50.py',
    '../_base_/datasets/avsbench_avss.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_30e.py'
]
# AVSBench baseline on AVSS (AVSBench-semantic) as released: 71 classes
# (0 = background) with softmax cross-entropy on the labelled frames, Adam
# lr 1e-4, 4 clips per batch, 60 epochs, and the KL audio-visual matching
# loss (lambda_1 = 0.5, all four levels) averaged over the labelled frames.
model = dict(
    decode_head=dict(
        # The AVSS release attends within windows of 5 frames (its 10-frame
        # clips are reshaped to 2 x 5), so the padded second half of a
        # 5-frame v1s/v1m clip never mixes with its real frames; its audio
        # projection has no bias.
        fusion=dict(window_frames=5, audio_bias=False),
        loss_av_match=dict(
            type='AVMatchingLoss',
            mask_pooling='avg',
            threshold_mask=False,
            normalize=False,
            reduction='mean',
            # The release's loss treats the last class (C - 1) as background;
            # the AVSS background is class 0. Use -1 to reproduce the release.
            background_index=0,
            loss_weight=0.5),
        num_classes=71,
        out_channels=71,
        threshold=None,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            avg_non_ignore=True,
            loss_weight=1.0,
            loss_name='loss_ce')))
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(_delete_=True, type='Adam', lr=1e-4))
train_cfg = dict(max_epochs=60)
