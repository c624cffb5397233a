# The AVSBench baseline (Zhou et al., ECCV 2022; github OpenNLPLab/AVSBench):
# ResNet-50, frozen VGGish, and the AVSBench decoder: per level an ASPP-like
# sum of four dilated 3x3 convs (dilations 3/6/12/18) to 256 channels, TPAVI
# ("dot" non-local audio-visual attention over T x H x W) on all four levels,
# top-down residual fusion blocks and output convs 256 -> 128 -> x2 -> 32 ->
# classes. Binary masks with a sigmoid BCE loss (S4 / MS3).
data_preprocessor = dict(
    type='AVSDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=32)
model = dict(
    type='AVEncoderDecoder',
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
        type='AVSBenchHead',
        in_channels=[256, 512, 1024, 2048],
        feat_channels=256,
        hidden_channels=128,
        channels=32,
        dilations=(3, 6, 12, 18),
        # TPAVI on the 256-channel maps of all four levels, audio projected
        # 128 -> 256, inner width 128, zero-initialised output BN, residual
        # and layer norm (--tpavi_stages 0 1 2 3 --tpavi_va_flag).
        fusion=dict(
            type='TPAVI',
            stages=(0, 1, 2, 3),
            audio_channels=128,
            audio_bias=True,
            use_layer_norm=True),
        # No audio-visual matching loss (loss_av_match) for S4, as released;
        # the MS3 / AVSS configs add it.
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        dropout_ratio=0.0,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=True,
            avg_non_ignore=True,
            loss_weight=1.0,
            loss_name='loss_bce')),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
