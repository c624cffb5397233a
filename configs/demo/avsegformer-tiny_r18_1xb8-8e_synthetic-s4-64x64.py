_base_ = [
    '../_base_/models/avsegformer_r50.py',
    '../_base_/datasets/avsbench_s4.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_30e.py'
]
# The README's main job: a small AVSegFormer trained from scratch on the
# synthetic S4 set (tools/dataset_converters/make_synthetic_avsbench.py) in a
# few minutes on 2 CPU cores. Same components as the paper model, smaller:
# ResNet-18 at half width, D = 64, 16 queries, 2+2 transformer layers, and a
# frozen VGGish with random weights. No AudioSet weights can be downloaded
# here; PyTorch's default init makes an untrained VGGish map every sound to
# nearly the same vector (features differ by 0.004 in norm), while a
# variance-preserving Kaiming init keeps the synthetic tones apart (by ~10).
data_root = 'data/synthetic/Single-source'
img_scale = (64, 64)
model = dict(
    backbone=dict(
        type='ResNetV1c', depth=18, base_channels=32, stem_channels=32,
        init_cfg=None),
    audio_backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='Kaiming',
            layer=['Conv2d', 'Linear'],
            mode='fan_in',
            nonlinearity='relu')),
    decode_head=dict(
        in_channels=[32, 64, 128, 256],
        embed_dims=64,
        num_queries=16,
        channels=16,
        mask_mlp_channels=64,
        tail_hidden_channels=32,
        norm_cfg=dict(type='GN', num_groups=16),
        positional_encoding=dict(num_feats=32),
        encoder=dict(
            num_layers=2,
            layer_cfg=dict(num_heads=4, ffn_channels=128, dropout=0.0)),
        decoder=dict(
            num_layers=2,
            layer_cfg=dict(num_heads=4, ffn_channels=128, dropout=0.0)),
        mixer=dict(num_heads=4)),
    # Only frame 1 of an S4 training clip is labelled, and AVSegFormer
    # treats frames independently: train on the labelled frames only.
    train_cfg=dict(skip_unlabelled_frames=True))
train_pipeline = [
    dict(type='LoadAVSFrames'),
    dict(type='LoadAVSAnnotations'),
    dict(type='LoadAVSAudio'),
    dict(
        type='ClipTransform',
        transforms=[
            dict(type='Resize', scale=img_scale, keep_ratio=False),
            dict(type='RandomFlip', prob=0.5)
        ]),
    dict(type='PackAVSInputs')
]
test_pipeline = [
    dict(type='LoadAVSFrames'),
    dict(
        type='ClipTransform',
        transforms=[dict(type='Resize', scale=img_scale, keep_ratio=False)]),
    dict(type='LoadAVSAnnotations'),
    dict(type='LoadAVSAudio'),
    dict(type='PackAVSInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.01))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, eta_min=1e-5)]
train_cfg = dict(max_epochs=8, val_interval=4)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=4, max_keep_ckpts=1))
