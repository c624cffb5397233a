_base_ = './avsegformer-tiny_r18-lightaudio_1xb8-8e_synthetic-s4-64x64.py'
# The demo model with the light audio encoder on the synthetic MS3 set
# (several objects per clip, one or two sounding at once, all five frames
# labelled).
data_root = 'data/synthetic/Multi-sources'
train_dataloader = dict(
    dataset=dict(type='AVSBenchMS3Dataset', data_root=data_root))
val_dataloader = dict(
    dataset=dict(type='AVSBenchMS3Dataset', data_root=data_root))
test_dataloader = val_dataloader
