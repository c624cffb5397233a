_base_ = './avsegformer-tiny_r18_1xb8-8e_synthetic-s4-64x64.py'
# The demo model with a light trainable audio encoder (0.25M parameters,
# trained with the rest) instead of the frozen randomly initialised VGGish
# (72M): without AudioSet weights the VGGish features cannot adapt to the
# sounds. The head's audio_channels follows the encoder's out_channels (the
# segmentor checks that they match when it is built).
model = dict(
    audio_backbone=dict(
        _delete_=True, type='LightAudioEncoder', out_channels=128),
    decode_head=dict(audio_channels=128))
