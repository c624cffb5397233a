_base_ = './avsegformer-tiny_r18-lightaudio_1xb8-8e_synthetic-s4-64x64.py'
# The demo model with the light audio encoder on the synthetic MS3 set
# (several objects per clip, one or two sounding at once, all five frames
# labelled). Every MS3 training frame is labelled, so an epoch costs five
# times an S4 one: 8 epochs keep training within 10 minutes on 2 cores.
data_root = 'data/synthetic/Multi-sources'
train_dataloader = dict(
    dataset=dict(type='AVSBenchMS3Dataset', data_root=data_root))
val_dataloader = dict(
    dataset=dict(type='AVSBenchMS3Dataset', data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=8, val_interval=4)
default_hooks = dict(checkpoint=dict(interval=4))
