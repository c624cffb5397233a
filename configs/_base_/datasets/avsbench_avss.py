# AVSBench-semantic (AVSS), read in its released layout:
# data/AVSBench/AVSS/{metadata.csv, label2idx.json, v1s/, v1m/, v2/}.
# One sample = one clip of 10 frames; 71 classes (0 = background). v1s/v1m
# clips have 5 real frames and are padded to 10 (frame_valid = 0).
# Without the real data set, write a synthetic one in the same layout:
#   python tools/dataset_converters/make_synthetic_avsbench.py data/AVSBench
dataset_type = 'AVSBenchSemanticDataset'
data_root = 'data/AVSBench/AVSS'
crop_size = (224, 224)
train_pipeline = [
    dict(type='LoadAVSFrames'),
    # A mask colour outside the 71-entry palette is an error; the release
    # maps it to background silently (unknown_color='background').
    dict(type='LoadAVSAnnotations', unknown_color='error'),
    # audio.wav through the VGGish log-mel front end.
    dict(type='LoadAVSAudio'),
    dict(
        type='ClipTransform',
        transforms=[
            # Short side to 224, then the central 224x224 (AVSS release).
            dict(type='ResizeShortestEdge', scale=crop_size[0], max_size=4096),
            dict(type='CenterCrop', crop_size=crop_size)
        ]),
    dict(type='PackAVSInputs')
]
test_pipeline = [
    dict(type='LoadAVSFrames'),
    dict(
        type='ClipTransform',
        transforms=[dict(type='Resize', scale=crop_size, keep_ratio=False)]),
    # Masks at their original size (mmseg convention); AVSSemanticMetric's
    # eval_size scores at another resolution.
    dict(type='LoadAVSAnnotations', unknown_color='error'),
    dict(type='LoadAVSAudio'),
    dict(type='PackAVSInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline))
val_evaluator = dict(type='AVSSemanticMetric')
test_evaluator = val_evaluator
