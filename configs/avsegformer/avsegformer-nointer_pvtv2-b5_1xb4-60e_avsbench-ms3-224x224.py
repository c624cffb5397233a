_base_ = './avsegformer_pvtv2-b5_1xb4-60e_avsbench-ms3-224x224.py'
# Table 2d: no intermediate mask loss.
model = dict(decode_head=dict(mask_reformer=None))
