_base_ = './avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py'
# ConvNeXt-T from mmpretrain instead of ResNet-50: a backbone of another
# OpenMMLab package, named with its scope. Its four stage outputs (strides
# 4-32) are normalised and kept as feature maps for the head.
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ConvNeXt',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,
        gap_before_final_norm=False,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'convnext/downstream/convnext-tiny_3rdparty_32xb128-noema_in1k_'
            '20220301-795e9634.pth',
            prefix='backbone.')),
    decode_head=dict(in_channels=[96, 192, 384, 768]))
