_base_ = './avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py'
# Audio backbone swap: a light trainable CNN on the log-mel examples
# (LightAudioEncoder, 0.25M parameters, trained with the model) instead of
# the frozen AudioSet VGGish (72M), for training without AudioSet weights.
# The head's audio_channels follows the encoder's out_channels (checked
# when the model is built).
model = dict(
    audio_backbone=dict(
        _delete_=True, type='LightAudioEncoder', out_channels=128),
    decode_head=dict(audio_channels=128))
