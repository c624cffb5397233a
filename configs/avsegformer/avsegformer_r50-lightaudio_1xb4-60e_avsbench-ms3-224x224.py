_base_ = './avsegformer_r50_1xb4-60e_avsbench-ms3-224x224.py'
# Audio backbone swap (see the S4 config of the same name): a light
# trainable CNN instead of the frozen AudioSet VGGish. A wider output works
# too, e.g. out_channels=256 with decode_head.audio_channels=256.
model = dict(
    audio_backbone=dict(
        _delete_=True, type='LightAudioEncoder', out_channels=128),
    decode_head=dict(audio_channels=128))
