_base_ = './avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py'
# Audio backbone swap: precomputed VGGish embeddings instead of the network.
# Write them once (same VGGish weights as the paper model):
#   python tools/dataset_converters/extract_vggish_features.py \
#       data/AVSBench/Single-source --task s4 \
#       --checkpoint checkpoints/vggish_mmavs.pth
# The data sets then read [5, 128] features (audio_source='feature') and
# the model neither builds nor loads VGGish. Same numbers as the paper
# config, which runs the frozen VGGish in every epoch.
model = dict(
    audio_backbone=dict(
        _delete_=True, type='PrecomputedAudioFeatures', in_channels=128),
    decode_head=dict(audio_channels=128))
train_dataloader = dict(dataset=dict(audio_source='feature'))
val_dataloader = dict(dataset=dict(audio_source='feature'))
test_dataloader = val_dataloader
