_base_ = './avsegformer-release_r50_1xb2-30e_avsbench-s4-512x512.py'
# The release's PVTv2-b5 model: the ResNet-50 release config with the
# backbone of the PVTv2-b5 paper configs, as OriginalPVTv2 (mmdet's
# PyramidVisionTransformerV2 with the original PVT code's LayerNorm eps:
# 1e-5 in the patch embeddings and spatial reductions, 1e-6 elsewhere). The
# release's PVT naming is converted by
# tools/model_converters/avsegformer2mmavs.py.
model = dict(
    backbone=dict(
        _delete_=True,
        type='OriginalPVTv2',
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
