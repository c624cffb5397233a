_base_ = './avsbench-tpavi_r50_1xb4-30e_avsbench-ms3-224x224.py'
# Audio backbone swap for the TPAVI baseline: a light trainable CNN on the
# log-mel examples (LightAudioEncoder) instead of the frozen AudioSet
# VGGish. TPAVI's audio_channels follows the encoder's out_channels (the
# segmentor checks that they match when it is built).
model = dict(
    audio_backbone=dict(
        _delete_=True, type='LightAudioEncoder', out_channels=128),
    decode_head=dict(fusion=dict(audio_channels=128)))
