# Copyright (c) mmavs contributors. All rights reserved.
import torch

from mmavs.models.layers import (AttentionOnlyReformer,
                                 AttentionQueryGenerator,
                                 ChannelAttentionMixer, CrossAttentionMixer,
                                 QueryMixedReformer, RepeatAudioQuery)


def _constant_channel_weights(mixer, weights):
    """Make the mixer output the channel weights ``weights`` for any input."""
    torch.nn.init.zeros_(mixer.proj.weight)
    mixer.proj.bias.data.copy_(weights)


def test_channel_attention_paper_and_release_forms():
    feature = torch.randn(2, 8, 3, 3)
    audio = torch.randn(2, 1, 8)
    weights = torch.linspace(-1, 1, 8)
    paper = ChannelAttentionMixer(8, num_heads=2)
    _constant_channel_weights(paper, weights)
    expected = feature + feature * weights[None, :, None, None]
    torch.testing.assert_close(paper(feature, audio), expected)
    release = ChannelAttentionMixer(8, num_heads=2, residual=False,
                                    use_sigmoid=True)
    _constant_channel_weights(release, weights)
    torch.testing.assert_close(
        release(feature, audio),
        feature * weights.sigmoid()[None, :, None, None])


def test_channel_attention_depends_on_audio_and_batch_one_works():
    mixer = ChannelAttentionMixer(8, num_heads=2)
    feature = torch.randn(1, 8, 4, 4)
    out_a = mixer(feature, torch.randn(1, 1, 8))
    out_b = mixer(feature, torch.randn(1, 1, 8))
    assert out_a.shape == (1, 8, 4, 4)
    assert not torch.allclose(out_a, out_b)


def test_cross_attention_mixer_shape():
    mixer = CrossAttentionMixer(8, num_heads=2)
    assert mixer(torch.randn(2, 8, 3, 5), torch.randn(2, 1, 8)).shape == (
        2, 8, 3, 5)


def test_repeat_audio_query_repeats_the_audio_token():
    audio = torch.randn(3, 1, 8)
    queries = RepeatAudioQuery(num_queries=5, embed_dims=8)(audio)
    assert queries.shape == (3, 5, 8)
    assert torch.equal(queries[:, 4], audio[:, 0])


def test_attention_query_generator_has_release_layout():
    generator = AttentionQueryGenerator(num_queries=4, embed_dims=8,
                                        num_heads=2, num_layers=2,
                                        ffn_channels=16)
    generator.init_weights()
    names = {name for name, _ in generator.named_parameters()}
    assert {'query.weight', 'layers.1.self_attn.in_proj_weight',
            'layers.1.cross_attn.out_proj.weight', 'layers.1.ffn.0.weight',
            'layers.1.ffn.2.bias', 'layers.1.norm3.weight'} <= names
    assert 'layers.0.self_attn.in_proj_bias' not in names
    out = generator(torch.randn(2, 1, 8))
    assert out.shape == (2, 4, 8)


def test_reformers_predict_full_resolution_masks():
    shapes = [(8, 8), (4, 4), (2, 2)]
    tokens = sum(h * w for h, w in shapes)
    queries = torch.randn(2, 5, 16)
    attn = torch.randn(2, 5, tokens)
    qr = QueryMixedReformer(embed_dims=16, tail_channels=(8, 4))
    ar = AttentionOnlyReformer(num_queries=5, embed_dims=16,
                               tail_channels=(8, 4))
    # 1/8 level of 8x8 -> 1/4 (16x16) -> x4 = 64x64 input resolution.
    assert qr(queries, attn, shapes).shape == (2, 1, 64, 64)
    assert ar(queries, attn, shapes).shape == (2, 1, 64, 64)
    # QR mixes in the queries, AR ignores them.
    other = torch.randn_like(queries)
    assert not torch.allclose(qr(queries, attn, shapes),
                              qr(other, attn, shapes))
    torch.testing.assert_close(ar(queries, attn, shapes),
                               ar(other, attn, shapes))
