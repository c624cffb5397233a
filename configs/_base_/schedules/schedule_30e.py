# AdamW, lr 2e-5, constant (no warm-up, no decay, no clipping) as the paper
# and the release; epoch based with validation after every epoch.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-5, weight_decay=0.01))
param_scheduler = []
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=True,
        interval=1,
        max_keep_ckpts=2,
        save_best='mIoU',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # All ranks end every epoch with the same batch-norm statistics.
    sync_buffers=dict(type='SyncBuffersHook'),
    # Resumed runs continue with the random state they stopped with.
    random_state=dict(type='RandomStateHook'),
    visualization=dict(type='AVSVisualizationHook'))
