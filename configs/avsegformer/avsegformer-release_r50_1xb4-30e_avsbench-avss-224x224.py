_base_ = './avsegformer_r50_1xb4-30e_avsbench-avss-224x224.py'
# AVSegFormer as the public release builds, trains and tests it on AVSS, with
# ResNet-50: the config of its AVSegFormer_res50_avss.pth (converted with
# tools/model_converters/avsegformer2mmavs.py). The model is that of
# avsegformer-release_r50_1xb2-30e_avsbench-s4-512x512.py (see its header)
# with 71 classes; input 224x224 as released.
model = dict(
    decode_head=dict(
        query_generator=dict(
            _delete_=True,
            type='AttentionQueryGenerator',
            num_layers=6,
            num_heads=8,
            ffn_channels=1024,
            act_cfg=dict(type='GELU')),
        encoder=dict(layer_cfg=dict(act_cfg=dict(type='GELU'))),
        # nn.MultiheadAttention with its default biases, as released.
        decoder=dict(
            layer_cfg=dict(act_cfg=dict(type='GELU'), attn_bias=True)),
        mixer=dict(
            type='ChannelAttentionMixer', residual=False, use_sigmoid=True),
        mask_reformer=None,
        feature_mean_aux=True,
        # The release's classifier (head.fc.4) has no bias.
        conv_seg_bias=False))

crop_size = (224, 224)
# The release decodes and resizes with PIL (frames bilinear, masks nearest):
# the pillow backends give the same pixels. A mask colour outside the
# palette is background, as the release maps it.
train_pipeline = [
    dict(type='LoadAVSFrames', imdecode_backend='pillow'),
    dict(type='LoadAVSAnnotations', unknown_color='background'),
    dict(type='LoadAVSAudio'),
    dict(
        type='ClipTransform',
        transforms=[
            # Short side to 224 (the long side is capped at 4096, never
            # reached), then the central 224x224.
            dict(
                type='Resize',
                scale=(4096, crop_size[0]),
                keep_ratio=True,
                backend='pillow'),
            dict(type='CenterCrop', crop_size=crop_size)
        ]),
    dict(type='PackAVSInputs')
]
test_pipeline = [
    dict(type='LoadAVSFrames', imdecode_backend='pillow'),
    # Loaded before the resize, the masks follow the frames to 224x224,
    # where the release scores.
    dict(type='LoadAVSAnnotations', unknown_color='background'),
    dict(type='LoadAVSAudio'),
    dict(
        type='ClipTransform',
        transforms=[
            dict(
                type='Resize',
                scale=crop_size,
                keep_ratio=False,
                backend='pillow')
        ]),
    # ori_shape := img_shape: logits stay at 224x224 (no resize and back).
    dict(
        type='KeyMapper',
        mapping=dict(ori_shape='img_shape'),
        remapping=dict(ori_shape='ori_shape')),
    dict(type='PackAVSInputs')
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_evaluator = dict(type='AVSSemanticMetric', eval_size=crop_size)
test_evaluator = val_evaluator
