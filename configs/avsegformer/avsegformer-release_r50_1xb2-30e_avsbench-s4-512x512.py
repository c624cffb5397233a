_base_ = './avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py'
# AVSegFormer as the public release (github vvvb-github/AVSegFormer) builds,
# trains and tests it: the config of its ResNet-50 S4 checkpoint
# (AVSegFormer_res50_s4.pth, converted with
# tools/model_converters/avsegformer2mmavs.py). What differs from the paper
# config it inherits:
# - queries: 6 layers of [self-attention, cross-attention to the audio
#   token, GELU FFN 1024] (attention without bias) over 300 learned queries,
#   plus the learnable queries, instead of the repeated audio feature;
# - mixer: F_mask * sigmoid(w), no residual;
# - encoder and decoder FFNs use GELU;
# - one auxiliary mask, the channel mean of the mixed mask feature (Dice,
#   weight 0.1), instead of the per-decoder-layer reformer masks;
# - frames and masks resized to 512x512 with PIL, 2 clips per batch, and
#   the release's metric reduction at 512x512.
# The MS3 (avsegformer-release_r50_1xb2-60e_avsbench-ms3-512x512.py) and
# AVSS (avsegformer-release_r50_1xb4-30e_avsbench-avss-224x224.py) release
# configs repeat the model part; the PVTv2-b5 configs inherit from these.
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
# The release reads frames with PIL and resizes frames (bilinear) and masks
# (nearest) with torchvision's Resize on PIL images; the pillow backends
# give the same pixels (cv2's resizing differs here and there).
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
    # Loaded before the resize, the masks follow the frames to 512x512: the
    # release scores its 512x512 logits against masks resized so.
    dict(type='LoadAVSAnnotations'),
    dict(type='LoadAVSAudio'),
    dict(type='ClipTransform', transforms=[release_resize]),
    # ori_shape := img_shape, so the logits are not resized to the frames'
    # size on disk and back: predictions, saved masks and scores are at
    # 512x512, as in the release.
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
