_base_ = './avsegformer_r50_1xb4-60e_avsbench-ms3-224x224.py'
# AVSegFormer as the public release builds, trains and tests it on MS3, with
# ResNet-50: the model and pipelines of
# avsegformer-release_r50_1xb2-30e_avsbench-s4-512x512.py (see its header)
# on the MS3 data and schedule. The release's ResNet-50 MS3 checkpoint, if
# you have one, has the keys of its ResNet-50 S4 checkpoint and converts
# the same way.
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

img_scale = (512, 512)
# PIL decoding and resizing, as the release (see the S4 release config).
release_resize = dict(
    type='Resize', scale=img_scale, keep_ratio=False, backend='pillow')
train_pipeline = [
    dict(type='LoadAVSFrames', imdecode_backend='pillow'),
    dict(type='LoadAVSAnnotations'),
    dict(type='LoadAVSAudio'),
    dict(type='ClipTransform', transforms=[release_resize]),
    dict(type='PackAVSInputs')
]
test_pipeline = [
    dict(type='LoadAVSFrames', imdecode_backend='pillow'),
    # Masks follow the frames to 512x512, where the release scores.
    dict(type='LoadAVSAnnotations'),
    dict(type='LoadAVSAudio'),
    dict(type='ClipTransform', transforms=[release_resize]),
    # ori_shape := img_shape: logits stay at 512x512 (no resize and back).
    dict(
        type='KeyMapper',
        mapping=dict(ori_shape='img_shape'),
        remapping=dict(ori_shape='ori_shape')),
    dict(type='PackAVSInputs')
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(batch_size=2, dataset=dict(pipeline=test_pipeline))
# The release averages over test batches of 2 clips (10 frames).
val_evaluator = dict(
    type='AVSBinaryMetric',
    mode='release',
    release_batch_frames=10,
    eval_size=img_scale)
test_evaluator = val_evaluator
