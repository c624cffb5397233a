_base_ = './avsegformer_pvtv2-b5_1xb4-60e_avsbench-ms3-224x224.py'
# Table 2a: 200 queries instead of 300.
model = dict(decode_head=dict(num_queries=200))
