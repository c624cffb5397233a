_base_ = './avsegformer_pvtv2-b5_1xb4-60e_avsbench-ms3-224x224.py'
# Table 2b: audio queries only, no learnable queries.
model = dict(decode_head=dict(use_learnable_queries=False))
