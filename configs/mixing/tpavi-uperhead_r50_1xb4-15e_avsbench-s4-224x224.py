_base_ = '../avsbench/avsbench-tpavi_r50_1xb4-15e_avsbench-s4-224x224.py'
# Mixing by config: the TPAVI audio-visual neck on ResNet-50's four levels,
# in front of mmseg's ordinary UPerHead (which never sees the audio). The
# schedule, data and VGGish are those of the AVSBench S4 baseline.
model = dict(
    neck=dict(
        type='TPAVI',
        in_channels=[256, 512, 1024, 2048],
        stages=(0, 1, 2, 3),
        audio_channels=128),
    decode_head=dict(
        _delete_=True,
        type='UPerHead',
        in_channels=[256, 512, 1024, 2048],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        # Unlabelled S4 frames carry all-255 masks: ignored pixels.
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=True,
            avg_non_ignore=True,
            loss_weight=1.0,
            loss_name='loss_bce')))
