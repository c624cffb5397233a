_base_ = './avsegformer_pvtv2-b5_1xb4-30e_avsbench-s4-224x224.py'
# Table 2d: no intermediate mask loss.
model = dict(decode_head=dict(mask_reformer=None))
