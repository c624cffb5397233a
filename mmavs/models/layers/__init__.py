# Copyright (c) mmavs contributors. All rights reserved.
from .mask_reformers import (AttentionOnlyReformer, MaskReformer,
                             QueryMixedReformer, mask_predictor)
from .mixers import ChannelAttentionMixer, CrossAttentionMixer
from .ms_deform_attn import MSDeformAttention, level_reference_points
from .query_generators import AttentionQueryGenerator, RepeatAudioQuery
from .transformer import (FFN, DeformableEncoder, DeformableEncoderLayer,
                          QueryDecoder, QueryDecoderLayer, attention_logits)

__all__ = [
    'AttentionOnlyReformer', 'MaskReformer', 'QueryMixedReformer',
    'mask_predictor', 'ChannelAttentionMixer', 'CrossAttentionMixer',
    'MSDeformAttention', 'level_reference_points', 'AttentionQueryGenerator',
    'RepeatAudioQuery', 'FFN', 'DeformableEncoder', 'DeformableEncoderLayer',
    'QueryDecoder', 'QueryDecoderLayer', 'attention_logits'
]
