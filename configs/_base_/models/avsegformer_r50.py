# AVSegFormer as in the paper (Gao et al., 2023): ResNet-50, VGGish, 300
# audio + learnable queries, channel-attention mixer with residual,
# query-mixed intermediate mask loss (lambda = 0.1), Dice loss.
data_preprocessor = dict(
    type='AVSDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=32)
model = dict(
    type='AVSegFormer',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        style='pytorch',
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    audio_backbone=dict(
        type='VGGish',
        frozen=True,
        # Converted from torchvggish's vggish-10086976.pth with
        # tools/model_converters/vggish2mmavs.py.
        init_cfg=dict(
            type='Pretrained', checkpoint='checkpoints/vggish_mmavs.pth')),
    decode_head=dict(
        type='AVSegFormerHead',
        in_channels=[256, 512, 1024, 2048],
        channels=32,
        embed_dims=256,
        audio_channels=128,
        num_queries=300,
        use_learnable_queries=True,
        query_generator=dict(type='RepeatAudioQuery'),
        encoder=dict(
            num_layers=6,
            layer_cfg=dict(
                num_heads=8,
                num_points=4,
                ffn_channels=2048,
                dropout=0.1,
                act_cfg=dict(type='ReLU'))),
        decoder=dict(
            num_layers=6,
            layer_cfg=dict(
                num_heads=8,
                ffn_channels=2048,
                dropout=0.1,
                act_cfg=dict(type='ReLU'))),
        positional_encoding=dict(num_feats=128, normalize=False),
        mixer=dict(type='ChannelAttentionMixer', residual=True),
        mask_reformer=dict(type='QueryMixedReformer'),
        loss_inter=dict(
            type='AVSDiceLoss', loss_weight=0.1, loss_name='loss_inter'),
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        loss_decode=dict(type='AVSDiceLoss', loss_name='loss_dice')),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
