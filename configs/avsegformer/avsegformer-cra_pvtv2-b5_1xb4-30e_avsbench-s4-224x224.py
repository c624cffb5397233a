_base_ = './avsegformer_pvtv2-b5_1xb4-30e_avsbench-s4-224x224.py'
# Table 2c: cross-attention mixer (CRA) instead of channel attention (CHA).
model = dict(
    decode_head=dict(mixer=dict(_delete_=True, type='CrossAttentionMixer')))
