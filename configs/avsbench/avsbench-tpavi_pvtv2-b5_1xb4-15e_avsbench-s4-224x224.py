_base_ = './avsbench-tpavi_r50_1xb4-15e_avsbench-s4-224x224.py'
# PVTv2-b5 (mmdet's PyramidVisionTransformerV2) as in the release's
# pvt_v2_b5: depths 3/6/40/3, drop path 0.1, ImageNet weights.
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdet.PyramidVisionTransformerV2',
        embed_dims=64,
        num_layers=[3, 6, 40, 3],
        num_heads=[1, 2, 5, 8],
        sr_ratios=[8, 4, 2, 1],
        mlp_ratios=[4, 4, 4, 4],
        qkv_bias=True,
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://github.com/whai362/PVT/releases/download/'
            'v2/pvt_v2_b5.pth')),
    decode_head=dict(in_channels=[64, 128, 320, 512]))
