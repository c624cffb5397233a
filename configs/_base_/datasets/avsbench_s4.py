# AVSBench S4 (single source), read in its released layout:
# data/AVSBench/Single-source/{s4_meta_data.csv, s4_data/...}.
# One sample = one clip of 5 frames; train clips are labelled on frame 1 only.
# Without the real data set, write a synthetic one in the same layout:
#   python tools/dataset_converters/make_synthetic_avsbench.py data/AVSBench
dataset_type = 'AVSBenchS4Dataset'
data_root = 'data/AVSBench/Single-source'
# The paper works at 224x224. The AVSegFormer release resizes S4 frames and
# masks to 512x512: to reproduce it, override both pipelines with
# scale=(512, 512) (a plain `img_scale = (512, 512)` in a child config does
# not reach the dicts below, which are built when this file is read).
img_scale = (224, 224)
train_pipeline = [
    dict(type='LoadAVSFrames'),
    dict(type='LoadAVSAnnotations'),
    # The released log-mel .pkl; audio_source='wav' in the dataset reads the
    # wavs through the VGGish front end instead.
    dict(type='LoadAVSAudio'),
    dict(
        type='ClipTransform',
        transforms=[dict(type='Resize', scale=img_scale, keep_ratio=False)]),
    dict(type='PackAVSInputs')
]
test_pipeline = [
    dict(type='LoadAVSFrames'),
    dict(
        type='ClipTransform',
        transforms=[dict(type='Resize', scale=img_scale, keep_ratio=False)]),
    # Loaded after the resize, the masks keep their original size and the
    # predictions are scored there (mmseg convention). Loading them before
    # ClipTransform scores at img_scale, as the AVSBench release does.
    dict(type='LoadAVSAnnotations'),
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
    # AVSegFormer tests 2 clips per batch.
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline))
val_evaluator = dict(type='AVSBinaryMetric')
test_evaluator = val_evaluator
