_base_ = [
    '../_base_/models/avsegformer_r50.py',
    '../_base_/datasets/avsbench_s4.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_30e.py'
]
# The backbone is frozen for the first 5 epochs (AVSegFormer release).
custom_hooks = [dict(type='FreezeModuleHook', freeze_epochs=5)]
# Frozen parameters get no gradient: DDP must not wait for them.
model_wrapper_cfg = dict(find_unused_parameters=True)
