# Copyright (c) mmavs contributors. All rights reserved.
import torch
import torch.nn.functional as F

from mmavs.models.layers import (DeformableEncoder, QueryDecoder,
                                 QueryDecoderLayer, attention_logits)


def test_encoder_keeps_token_shape_and_mixes_levels():
    encoder = DeformableEncoder(
        num_layers=2,
        layer_cfg=dict(embed_dims=16, num_heads=4, num_levels=3,
                       ffn_channels=32, dropout=0.0))
    encoder.eval()
    shapes = [(4, 4), (2, 2), (1, 1)]
    src = torch.randn(3, 21, 16)
    pos = torch.randn(1, 21, 16)
    out = encoder(src, pos, shapes)
    assert out.shape == (3, 21, 16)
    # Changing a coarse-level token changes fine-level outputs: the
    # attention really is multi-scale.
    changed = src.clone()
    changed[:, -1] += 5.0
    assert not torch.allclose(
        encoder(changed, pos, shapes)[:, :16], out[:, :16])


def test_attention_logits_are_the_head_mean_of_per_head_logits():
    layer = QueryDecoderLayer(embed_dims=16, num_heads=4, ffn_channels=32)
    query, key = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    attn = layer.cross_attn
    q = F.linear(query, attn.in_proj_weight[:16], attn.in_proj_bias[:16])
    k = F.linear(key, attn.in_proj_weight[16:32], attn.in_proj_bias[16:32])
    per_head = torch.einsum('bqhd,bkhd->bhqk', q.view(2, 5, 4, 4),
                            k.view(2, 7, 4, 4)) / 2.0  # sqrt(head dims 4)
    torch.testing.assert_close(
        attention_logits(attn, query, key), per_head.mean(1))


def test_decoder_returns_every_layer_and_logits_on_request():
    decoder = QueryDecoder(
        num_layers=3, layer_cfg=dict(embed_dims=16, num_heads=4,
                                     ffn_channels=32, dropout=0.0))
    query, memory = torch.randn(2, 5, 16), torch.randn(2, 9, 16)
    outputs, logits = decoder(query, memory)
    assert len(outputs) == 3 and logits == []
    outputs, logits = decoder(query, memory, return_attn_logits=True)
    assert [o.shape for o in outputs] == [(2, 5, 16)] * 3
    assert [a.shape for a in logits] == [(2, 5, 9)] * 3
    assert not torch.equal(outputs[0], outputs[-1])


def test_decoder_layer_gelu_and_bias_switches():
    layer = QueryDecoderLayer(embed_dims=8, num_heads=2, ffn_channels=16,
                              act_cfg=dict(type='GELU'), attn_bias=False)
    assert isinstance(layer.ffn.activation, torch.nn.GELU)
    assert layer.self_attn.in_proj_bias is None
