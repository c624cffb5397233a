_base_ = [
    '../_base_/models/avsegformer_r50.py',
    '../_base_/datasets/avsbench_ms3.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_30e.py'
]
train_cfg = dict(max_epochs=60)
custom_hooks = [dict(type='FreezeModuleHook', freeze_epochs=10)]
model_wrapper_cfg = dict(find_unused_parameters=True)
