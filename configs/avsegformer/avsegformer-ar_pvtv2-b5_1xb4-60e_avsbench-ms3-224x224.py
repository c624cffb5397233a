_base_ = './avsegformer_pvtv2-b5_1xb4-60e_avsbench-ms3-224x224.py'
# Table 2d: attention-only reformer (AR) instead of query-mixed (QR).
model = dict(
    decode_head=dict(
        mask_reformer=dict(_delete_=True, type='AttentionOnlyReformer')))
