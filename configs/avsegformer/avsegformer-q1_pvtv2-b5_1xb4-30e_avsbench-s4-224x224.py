_base_ = './avsegformer_pvtv2-b5_1xb4-30e_avsbench-s4-224x224.py'
# Table 2a: 1 queries instead of 300.
model = dict(decode_head=dict(num_queries=1))
