# Copyright (c) mmavs contributors. All rights reserved.
"""Release AVSegFormer checkpoints -> mmavs: keys, loading and numbers.

For every released model, a random state dict with exactly the release's
names and shapes is converted, loaded with ``strict=True`` into the matching
``avsegformer-release_*`` config and run; its logits are compared with the
release's forward pass, re-written below from the release's description
(its code cannot be imported here) on the release-named tensors, in float32
and, to round-off, in float64. A full-size model is built once per distinct
model config (four builds in all).
"""
import hashlib
import importlib.util
import logging
import os.path as osp
import random
from collections import OrderedDict
from typing import Dict, List

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import DATASETS, MODELS

from mmavs.datasets.errors import CheckpointError
from mmavs.datasets.synthetic import make_synthetic_avsbench
from mmavs.testing._utils import (REPO_ROOT, demo_av_batch, get_config,
                                  get_model_cfg)

SCRIPT = osp.join(REPO_ROOT, 'tools', 'model_converters',
                  'avsegformer2mmavs.py')
spec = importlib.util.spec_from_file_location('avsegformer2mmavs', SCRIPT)
converter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(converter)

# The name/shape manifests of the five released checkpoints, which the
# converter reads too.
MANIFEST_DIR = converter.MANIFEST_DIR
# release checkpoint -> (backbone, classifier outputs)
RELEASE_MODELS = OrderedDict([
    ('AVSegFormer_res50_s4', ('r50', 1)),
    ('AVSegFormer_res50_avss', ('r50', 71)),
    ('AVSegFormer_pvt2_s4', ('pvtv2-b5', 1)),
    ('AVSegFormer_pvt2_ms3', ('pvtv2-b5', 1)),
    ('AVSegFormer_pvt2_avss', ('pvtv2-b5', 71)),
])
#: sha256 of each manifest as published with the release checkpoints
#: (the S4 and MS3 PVTv2 checkpoints list the same tensors): an edit to a
#: manifest must be deliberate.
MANIFEST_SHA256 = dict(
    AVSegFormer_res50_s4='be63f6765e1b701ccb83607455e77bd8'
    '20a731efd5e2f08249e2c06c16544d77',
    AVSegFormer_res50_avss='0f8df7d70904a6af675b7c460d9f02fd'
    'b75f577a33427c44c4b6856694f81f43',
    AVSegFormer_pvt2_s4='25c3c70e321d88a47e57e854b0333422'
    'f9c4c5dc5cfb3d43ce64ca0bab30f257',
    AVSegFormer_pvt2_ms3='25c3c70e321d88a47e57e854b0333422'
    'f9c4c5dc5cfb3d43ce64ca0bab30f257',
    AVSegFormer_pvt2_avss='90523cb329b6419e0c279dc02f20e770'
    '753477c4b125e6a4adfeb3697102ff8d')
CONFIG_DIR = 'avsegformer/'
# (checkpoint whose names and shapes are used, config). Cases that share a
# model config are adjacent, so that each full-size model is built once.
CASES = [
    ('AVSegFormer_res50_s4',
     'avsegformer-release_r50_1xb2-30e_avsbench-s4-512x512.py'),
    # No manifest of the release's ResNet-50 MS3 checkpoint is at hand; it
    # has the keys of the S4 one (same model, binary output).
    ('AVSegFormer_res50_s4',
     'avsegformer-release_r50_1xb2-60e_avsbench-ms3-512x512.py'),
    ('AVSegFormer_res50_avss',
     'avsegformer-release_r50_1xb4-30e_avsbench-avss-224x224.py'),
    ('AVSegFormer_pvt2_s4',
     'avsegformer-release_pvtv2-b5_1xb2-30e_avsbench-s4-512x512.py'),
    ('AVSegFormer_pvt2_ms3',
     'avsegformer-release_pvtv2-b5_1xb2-60e_avsbench-ms3-512x512.py'),
    ('AVSegFormer_pvt2_avss',
     'avsegformer-release_pvtv2-b5_1xb4-30e_avsbench-avss-224x224.py'),
]
RELEASE_CONFIGS = sorted({config for _, config in CASES})


def read_manifest(name: str) -> 'OrderedDict[str, tuple]':
    """The tab-separated ``name shape`` manifest of a release checkpoint."""
    return converter.read_manifest(osp.join(MANIFEST_DIR, f'{name}.keys.tsv'))


def random_release_state_dict(
        shapes: Dict[str, tuple],
        seed: int = 0) -> 'OrderedDict[str, torch.Tensor]':
    """Random tensors with the given names and shapes, scaled so that the
    forward pass stays well conditioned: matrices ~ N(0, 1/fan_in), norm
    scales ~ 1, positive running variances."""
    generator = torch.Generator().manual_seed(seed)
    state_dict = OrderedDict()
    for name, shape in shapes.items():
        if name.endswith('num_batches_tracked'):
            value = torch.tensor(0)
        elif name.endswith('running_var'):
            value = torch.rand(shape, generator=generator) + 0.5
        elif len(shape) == 1:
            value = 0.05 * torch.randn(shape, generator=generator)
            # 1-D weights are the scales of BN/LN/GN layers.
            if name.endswith('.weight'):
                value += 1
        else:
            fan_in = torch.Size(shape[1:]).numel()
            value = torch.randn(shape, generator=generator) / fan_in**0.5
        state_dict[name] = value
    return state_dict


def float64(tensors: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The floating-point tensors of a state dict as float64."""
    return {
        name: value.double() if value.is_floating_point() else value
        for name, value in tensors.items()
    }


def meta_state_dict(shapes: Dict[str, tuple]) -> Dict[str, torch.Tensor]:
    """Tensors on the meta device: names and shapes without memory."""
    return {
        name: torch.empty(shape, device='meta')
        for name, shape in shapes.items()
    }


# ---------------------------------------------------------------------------
# The release's forward pass, on release-named tensors.
# ---------------------------------------------------------------------------
def _linear(sd, prefix, x):
    return F.linear(x, sd[f'{prefix}.weight'], sd.get(f'{prefix}.bias'))


def _layer_norm(sd, prefix, x, eps=1e-5):
    return F.layer_norm(x, x.shape[-1:], sd[f'{prefix}.weight'],
                        sd[f'{prefix}.bias'], eps)


def _attention(q, k, v, num_heads):
    """Multi-head scaled dot-product attention of projected inputs."""
    batch, num_q, channels = q.shape
    head_dims = channels // num_heads

    def split(x):
        return x.reshape(batch, -1, num_heads, head_dims).transpose(1, 2)

    weights = (split(q) @ split(k).transpose(-2, -1)) * head_dims**-0.5
    out = weights.softmax(-1) @ split(v)
    return out.transpose(1, 2).reshape(batch, num_q, channels)


def _mha(sd, prefix, query, key, num_heads=8):
    """nn.MultiheadAttention (packed in_proj, optional biases)."""
    w_q, w_k, w_v = sd[f'{prefix}.in_proj_weight'].chunk(3)
    bias = sd.get(f'{prefix}.in_proj_bias')
    b_q, b_k, b_v = (None, ) * 3 if bias is None else bias.chunk(3)
    q = F.linear(query, w_q, b_q)
    k = F.linear(key, w_k, b_k)
    v = F.linear(key, w_v, b_v)
    return _linear(sd, f'{prefix}.out_proj', _attention(q, k, v, num_heads))


def release_resnet50(sd, x) -> List[torch.Tensor]:
    """The release's B2_ResNet (branch 1) is torchvision's ResNet-50."""
    import torchvision
    net = torchvision.models.resnet50().to(x.dtype)
    weights = {
        key[len('backbone.'):].replace('layer3_1.', 'layer3.').replace(
            'layer4_1.', 'layer4.'):
        value
        for key, value in sd.items()
        if key.startswith('backbone.') and '_2.' not in key
    }
    missing, unexpected = net.load_state_dict(weights, strict=False)
    assert sorted(missing) == ['fc.bias', 'fc.weight'] and not unexpected
    net.eval()
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    outs = []
    for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
        x = layer(x)
        outs.append(x)
    return outs


def release_pvt_v2_b5(sd, x, inner_norm_eps=1e-5) -> List[torch.Tensor]:
    """The release's PVTv2-b5 (original PVT code): its patch-embedding and
    spatial-reduction LayerNorms are plain ``nn.LayerNorm`` (eps
    ``inner_norm_eps``, 1e-5 in the release), the blocks' ``norm1`` /
    ``norm2`` and the stage norms have eps 1e-6."""
    outs = []
    for stage, (depth, heads, ratio) in enumerate(
            zip((3, 6, 40, 3), (1, 2, 5, 8), (8, 4, 2, 1)), 1):
        prefix = f'backbone.patch_embed{stage}'
        weight = sd[f'{prefix}.proj.weight']
        x = F.conv2d(
            x,
            weight,
            sd[f'{prefix}.proj.bias'],
            stride=4 if stage == 1 else 2,
            padding=weight.shape[-1] // 2)
        batch, channels, height, width = x.shape
        tokens = _layer_norm(sd, f'{prefix}.norm',
                             x.flatten(2).transpose(1, 2), inner_norm_eps)
        for block in range(depth):
            prefix = f'backbone.block{stage}.{block}'
            y = _layer_norm(sd, f'{prefix}.norm1', tokens, 1e-6)
            kv_in = y
            if ratio > 1:
                grid = y.transpose(1, 2).reshape(batch, channels, height,
                                                 width)
                grid = F.conv2d(
                    grid,
                    sd[f'{prefix}.attn.sr.weight'],
                    sd[f'{prefix}.attn.sr.bias'],
                    stride=ratio)
                kv_in = _layer_norm(sd, f'{prefix}.attn.norm',
                                    grid.flatten(2).transpose(1, 2),
                                    inner_norm_eps)
            k, v = _linear(sd, f'{prefix}.attn.kv', kv_in).chunk(2, -1)
            q = _linear(sd, f'{prefix}.attn.q', y)
            tokens = tokens + _linear(sd, f'{prefix}.attn.proj',
                                      _attention(q, k, v, heads))
            y = _linear(sd, f'{prefix}.mlp.fc1',
                        _layer_norm(sd, f'{prefix}.norm2', tokens, 1e-6))
            y = y.transpose(1, 2).reshape(batch, -1, height, width)
            y = F.conv2d(
                y,
                sd[f'{prefix}.mlp.dwconv.dwconv.weight'],
                sd[f'{prefix}.mlp.dwconv.dwconv.bias'],
                padding=1,
                groups=y.shape[1])
            y = F.gelu(y.flatten(2).transpose(1, 2))
            tokens = tokens + _linear(sd, f'{prefix}.mlp.fc2', y)
        tokens = _layer_norm(sd, f'backbone.norm{stage}', tokens, 1e-6)
        x = tokens.transpose(1, 2).reshape(batch, channels, height, width)
        outs.append(x)
    return outs


def release_vggish(sd, x) -> torch.Tensor:
    """torchvggish's VGG as the release runs it: [N, 1, 96, 64] -> 128."""
    for index, pool in ((0, True), (3, True), (6, False), (8, True),
                        (11, False), (13, True)):
        x = F.relu(_linear_conv(sd, f'vggish.features.{index}', x, 1))
        if pool:
            x = F.max_pool2d(x, 2, 2)
    x = x.transpose(1, 3).transpose(1, 2).reshape(x.shape[0], -1)
    for index in (0, 2, 4):
        x = F.relu(_linear(sd, f'vggish.embeddings.{index}', x))
    return x


def _linear_conv(sd, prefix, x, padding):
    return F.conv2d(
        x, sd[f'{prefix}.weight'], sd.get(f'{prefix}.bias'), padding=padding)


def _conv_gn(sd, prefix, x, padding=0):
    x = _linear_conv(sd, f'{prefix}.0', x, padding)
    return F.group_norm(x, 32, sd[f'{prefix}.1.weight'],
                        sd[f'{prefix}.1.bias'])


def _sine_encoding(height, width, num_feats=128, temperature=10000):
    """DETR's sine encoding of a grid without padding, not normalised:
    [h * w, 2 * num_feats], y features first."""
    dim_t = temperature**(2 * (torch.arange(num_feats) // 2) / num_feats)
    ys = torch.arange(1, height + 1, dtype=torch.float32)
    xs = torch.arange(1, width + 1, dtype=torch.float32)

    def encode(positions):
        pos = positions[:, None] / dim_t
        return torch.stack((pos[:, 0::2].sin(), pos[:, 1::2].cos()),
                           -1).flatten(1)

    pos_y = encode(ys)[:, None].expand(height, width, num_feats)
    pos_x = encode(xs)[None].expand(height, width, num_feats)
    return torch.cat((pos_y, pos_x), -1).flatten(0, 1)


def _deformable_attention(sd, prefix, query, value, points, shapes):
    """Deformable DETR's multi-scale deformable attention (8 heads, 3
    levels, 4 points), sampling with grid_sample."""
    batch, num_q, channels = query.shape
    heads, levels, num_points = 8, len(shapes), 4
    head_dims = channels // heads
    value = _linear(sd, f'{prefix}.value_proj', value)
    offsets = _linear(sd, f'{prefix}.sampling_offsets',
                      query).view(batch, num_q, heads, levels, num_points, 2)
    weights = _linear(sd, f'{prefix}.attention_weights', query).view(
        batch, num_q, heads,
        levels * num_points).softmax(-1).view(batch, num_q, heads, levels,
                                              num_points)
    normalizer = torch.tensor([[w, h] for h, w in shapes], dtype=query.dtype)
    locations = points[None, :, None, None, None, :] + \
        offsets / normalizer[None, None, None, :, None, :]
    out = query.new_zeros(batch * heads, head_dims, num_q)
    start = 0
    for level, (height, width) in enumerate(shapes):
        level_value = value[:, start:start + height * width].reshape(
            batch, height, width, heads, head_dims).permute(0, 3, 4, 1, 2)
        start += height * width
        grid = 2 * locations[:, :, :, level] - 1
        sampled = F.grid_sample(
            level_value.reshape(batch * heads, head_dims, height, width),
            grid.transpose(1, 2).reshape(batch * heads, num_q, num_points, 2),
            mode='bilinear',
            padding_mode='zeros',
            align_corners=False)
        level_weights = weights[:, :, :, level].transpose(1, 2).reshape(
            batch * heads, 1, num_q, num_points)
        out = out + (sampled * level_weights).sum(-1)
    out = out.view(batch, channels, num_q).transpose(1, 2)
    return _linear(sd, f'{prefix}.output_proj', out)


def release_head(sd, feats, audio_feat) -> torch.Tensor:
    """AVSegHead (with the query generator) and the segmentor's audio_proj:
    backbone features + VGGish features [N, 128] -> logits [N, C, H, W]."""
    batch = feats[0].shape[0]
    audio = _linear(sd, 'audio_proj', audio_feat)[:, None]
    projected = [
        _conv_gn(sd, f'head.in_proj.{level}', feat)
        for level, feat in enumerate(feats)
    ]
    levels = projected[1:]
    shapes = [tuple(level.shape[-2:]) for level in levels]
    src = torch.cat([level.flatten(2).transpose(1, 2) for level in levels], 1)
    pos = torch.cat([
        _sine_encoding(h, w) + sd['head.level_embed'][index]
        for index, (h, w) in enumerate(shapes)
    ])[None]
    # Pixel centres of every level, normalised; the same on all levels.
    points = torch.cat([
        torch.stack(
            torch.meshgrid(
                (torch.arange(w) + 0.5) / w, (torch.arange(h) + 0.5) / h,
                indexing='xy'), -1).reshape(-1, 2) for h, w in shapes
    ])
    memory = src
    for layer in range(6):
        prefix = f'head.transformer.encoder.layers.{layer}'
        attended = _deformable_attention(sd, f'{prefix}.self_attn',
                                         memory + pos, memory, points, shapes)
        memory = _layer_norm(sd, f'{prefix}.norm1', memory + attended)
        ffn = _linear(sd, f'{prefix}.linear2',
                      F.gelu(_linear(sd, f'{prefix}.linear1', memory)))
        memory = _layer_norm(sd, f'{prefix}.norm2', memory + ffn)

    query = sd['head.query_generator.query.weight'][None].expand(batch, -1, -1)
    for layer in range(6):
        prefix = f'head.query_generator.layers.{layer}'
        query = _layer_norm(
            sd, f'{prefix}.norm1',
            query + _mha(sd, f'{prefix}.self_attn', query, query))
        query = _layer_norm(
            sd, f'{prefix}.norm2',
            query + _mha(sd, f'{prefix}.cross_attn', query, audio))
        ffn = _linear(sd, f'{prefix}.ffn.2',
                      F.gelu(_linear(sd, f'{prefix}.ffn.0', query)))
        query = _layer_norm(sd, f'{prefix}.norm3', query + ffn)
    query = query + sd['head.learnable_query.weight'][None]
    for layer in range(6):
        prefix = f'head.transformer.decoder.layers.{layer}'
        query = _layer_norm(
            sd, f'{prefix}.norm1',
            query + _mha(sd, f'{prefix}.self_attn', query, query))
        query = _layer_norm(
            sd, f'{prefix}.norm2',
            query + _mha(sd, f'{prefix}.cross_attn', query, memory))
        ffn = _linear(sd, f'{prefix}.linear2',
                      F.gelu(_linear(sd, f'{prefix}.linear1', query)))
        query = _layer_norm(sd, f'{prefix}.norm3', query + ffn)

    height, width = shapes[0]
    finest = memory[:, :height * width].transpose(1, 2).reshape(
        batch, -1, height, width)
    lateral = _conv_gn(sd, 'head.lateral_conv', projected[0])
    mask_feature = F.relu(
        _conv_gn(
            sd,
            'head.out_conv',
            lateral + F.interpolate(
                finest,
                size=lateral.shape[-2:],
                mode='bilinear',
                align_corners=False),
            padding=1))
    # CrossModalMixer: the audio token attends over the pixels; the result,
    # squashed by a sigmoid, scales the channels.
    tokens = mask_feature.flatten(2).transpose(1, 2)
    k, v = F.linear(tokens,
                    sd['head.fusion_block.kv_proj.weight']).chunk(2, -1)
    q = F.linear(audio, sd['head.fusion_block.q_proj.weight'])
    channel_weights = _linear(sd, 'head.fusion_block.proj',
                              _attention(q, k, v, 8)).sigmoid()
    fused = mask_feature * channel_weights[:, 0, :, None, None]

    maps = torch.einsum('bqc,bchw->bqhw', query, fused)
    for index in range(3):
        maps = _linear_conv(sd, f'head.mlp.layers.{index}', maps, 0)
        if index < 2:
            maps = F.relu(maps)
    x = _linear_conv(sd, 'head.fc.0', fused + maps, 1)
    x = F.interpolate(x, scale_factor=4, mode='bilinear', align_corners=False)
    x = F.relu(_linear_conv(sd, 'head.fc.2', x, 1))
    return _linear_conv(sd, 'head.fc.4', x, 0)


def release_forward(sd,
                    backbone: str,
                    frames: torch.Tensor,
                    log_mel: torch.Tensor,
                    pvt_inner_norm_eps: float = 1e-5) -> torch.Tensor:
    """The release's AVSegFormer.forward: frames [N, 3, H, W] (normalised)
    and log-mel [N, 1, 96, 64] -> logits [N, C, H, W], in the dtype of the
    tensors."""
    if backbone == 'r50':
        feats = release_resnet50(sd, frames)
    else:
        feats = release_pvt_v2_b5(sd, frames, pvt_inner_norm_eps)
    return release_head(sd, feats, release_vggish(sd, log_mel))


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------
def build_release_model(config: str) -> torch.nn.Module:
    """The full-size model of a release config, without pretrained files."""
    cfg = get_model_cfg(CONFIG_DIR + config)
    cfg.backbone.init_cfg = None
    cfg.audio_backbone.init_cfg = None
    model = MODELS.build(cfg)
    model.eval()
    return model


@pytest.fixture(scope='module')
def release_models():
    """Build each distinct model config once and keep only the last one
    (CASES sharing a model are adjacent), to bound memory."""
    cache = {}

    def get(config: str) -> torch.nn.Module:
        key = repr(get_model_cfg(CONFIG_DIR + config).to_dict())
        if key not in cache:
            cache.clear()
            cache[key] = build_release_model(config)
        return cache[key]

    yield get
    cache.clear()


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('name', list(RELEASE_MODELS))
def test_every_manifest_is_detected_and_checked(name):
    """Each released checkpoint's keys are the ones the converter expects
    for the model it detects (the MS3 checkpoint has the S4 keys), and
    the manifest is the published one."""
    with open(osp.join(MANIFEST_DIR, f'{name}.keys.tsv'), 'rb') as file:
        assert hashlib.sha256(file.read()).hexdigest() == \
            MANIFEST_SHA256[name]
    manifest = read_manifest(name)
    detected = converter.detect_release_model(meta_state_dict(manifest))
    assert detected == RELEASE_MODELS[name]
    expected = converter.release_key_shapes(*detected)
    assert list(expected.items()) == list(manifest.items())


def test_manifests_hold_torchvggish_names_and_shapes():
    """The VGGish part of every manifest is torchvggish's state dict, as
    the VGGish converter knows it."""
    vggish_script = osp.join(osp.dirname(SCRIPT), 'vggish2mmavs.py')
    vggish_spec = importlib.util.spec_from_file_location(
        'vggish2mmavs', vggish_script)
    vggish = importlib.util.module_from_spec(vggish_spec)
    vggish_spec.loader.exec_module(vggish)
    for name in RELEASE_MODELS:
        in_manifest = OrderedDict(
            (key[len('vggish.'):], shape)
            for key, shape in read_manifest(name).items()
            if key.startswith('vggish.'))
        assert list(in_manifest.items()) == [
            (key, tuple(shape)) for key, shape in vggish.VGGISH_SHAPES.items()
        ]


def test_unknown_release_model_and_broken_manifest(tmp_path):
    with pytest.raises(ValueError, match='No release model'):
        converter.release_key_shapes('r50', 3)
    broken = tmp_path / 'x.keys.tsv'
    broken.write_text('name\tshape\nhead.fc.4.weight\t[1, 32\n')
    with pytest.raises(ValueError, match='line 2'):
        converter.read_manifest(str(broken))


@pytest.mark.parametrize(
    'name,config', CASES, ids=[config[20:-3] for _, config in CASES])
def test_release_config_trains_exactly_the_release_parameters(
        name, config, release_models):
    """What a release config trains is what the release trains: the
    parameters of its checkpoint (under mmavs names), without the frozen
    VGGish and the modules the release builds but never runs."""
    converted, _ = converter.convert_release_state_dict(
        meta_state_dict(read_manifest(name)))
    model = release_models(config)
    buffers = {name for name, _ in model.named_buffers()}
    released = {(key, tuple(value.shape))
                for key, value in converted.items() if key not in buffers
                and not key.startswith('audio_backbone.')}
    trainable = {(key, tuple(param.shape))
                 for key, param in model.named_parameters()
                 if param.requires_grad}
    assert trainable - released == set()
    assert released - trainable == set()


@pytest.mark.parametrize(
    'name,config', CASES, ids=[config[20:-3] for _, config in CASES])
def test_release_checkpoint_converts_loads_and_predicts(
        name, config, release_models, caplog):
    backbone, out_channels = RELEASE_MODELS[name]
    shapes = read_manifest(name)
    source = random_release_state_dict(shapes)
    with caplog.at_level(logging.INFO, logger='avsegformer2mmavs'):
        converted, num_dropped = converter.convert_release_state_dict(source)
    assert num_dropped == (185 if backbone == 'r50' else 11)
    assert f'Dropped {num_dropped} tensors' in caplog.text
    assert config in converter.RELEASE_CONFIGS[(backbone, out_channels)]

    model = release_models(config)
    model.load_state_dict(converted, strict=True)
    head = model.decode_head
    assert head.out_channels == out_channels
    torch.testing.assert_close(head.conv_seg.weight,
                               source['head.fc.4.weight'])
    assert head.conv_seg.bias is None

    num_classes = 71 if out_channels == 71 else 2
    inputs, samples = demo_av_batch(
        batch_size=1,
        num_frames=2,
        image_size=(64, 64),
        num_classes=num_classes)
    metainfo = [s.metainfo for s in samples]
    inputs64 = {name: value.double() for name, value in inputs.items()}
    with torch.no_grad():
        results = model.predict(inputs, samples)
        logits = model.encode_decode(inputs, metainfo)
        # The release's forward pass with the release's own LayerNorm eps,
        # in float64 so that round-off cannot hide a difference in function.
        expected = release_forward(
            float64(source), backbone, inputs64['frames'].flatten(0, 1),
            inputs64['audio'].flatten(0, 1))
        model.double()
        try:
            logits64 = model.encode_decode(inputs64, metainfo)
        finally:
            model.float()
    assert len(results) == 2
    for result in results:
        assert result.pred_sem_seg.shape == (64, 64)
        assert torch.isfinite(result.seg_logits.data).all()
    assert logits.shape == (2, out_channels, 64, 64)
    scale = expected.abs().max().item()
    assert scale > 0
    # float32: round-off only (about 5e-6 of the scale).
    torch.testing.assert_close(
        logits, expected.float(), rtol=1e-4, atol=1e-4 * scale)
    # float64: the same function. The ResNet-50 and PVTv2-b5 models agree to
    # about 1e-14 of the scale; mmdet's PVTv2 in place of OriginalPVTv2
    # (LayerNorm eps 1e-6 everywhere) would be off by about 2e-5.
    torch.testing.assert_close(logits64, expected, rtol=0, atol=1e-10 * scale)


def test_original_pvtv2_is_the_release_backbone_and_mmdet_pvtv2_is_not():
    """With converted release weights, in float64, the release configs'
    ``OriginalPVTv2`` computes the release's PVTv2-b5 (LayerNorm eps 1e-5 in
    the patch embeddings and spatial reductions, 1e-6 elsewhere) to
    round-off. mmdet's ``PyramidVisionTransformerV2`` (eps 1e-6 everywhere)
    differs by far more than round-off, and only by that eps."""
    backbone_cfg = get_model_cfg(
        CONFIG_DIR +
        'avsegformer-release_pvtv2-b5_1xb2-30e_avsbench-s4-512x512.py'
    ).backbone
    assert backbone_cfg.type == 'OriginalPVTv2'
    backbone_cfg.init_cfg = None
    shapes = read_manifest('AVSegFormer_pvt2_s4')
    source = float64(random_release_state_dict(shapes))
    converted, _ = converter.convert_release_state_dict(source)
    weights = {
        key[len('backbone.'):]: value
        for key, value in converted.items() if key.startswith('backbone.')
    }
    frames = torch.randn(
        1, 3, 64, 64, dtype=torch.float64,
        generator=torch.Generator().manual_seed(1))

    def run(cfg):
        backbone = MODELS.build(cfg).double().eval()
        backbone.load_state_dict(weights, strict=True)
        with torch.no_grad():
            return backbone(frames)

    with torch.no_grad():
        released = release_pvt_v2_b5(source, frames)
        single_eps = release_pvt_v2_b5(source, frames, inner_norm_eps=1e-6)
    original = run(backbone_cfg)
    mmdet = run(dict(backbone_cfg, type='mmdet.PyramidVisionTransformerV2'))
    for stage in range(4):
        scale = released[stage].abs().max().item()
        torch.testing.assert_close(
            original[stage], released[stage], rtol=0, atol=1e-10 * scale)
        torch.testing.assert_close(
            mmdet[stage], single_eps[stage], rtol=0, atol=1e-10 * scale)
        assert (mmdet[stage] - released[stage]).abs().max() > 1e-7 * scale


def test_conversion_is_byte_identical_and_weights_only(tmp_path):
    shapes = read_manifest('AVSegFormer_res50_s4')
    source = tmp_path / 'AVSegFormer_res50_s4.pth'
    torch.save(random_release_state_dict(shapes, seed=1), source)
    digests = []
    for index in range(2):
        dst = tmp_path / f'out{index}' / 'converted.pth'
        converter.main([str(source), str(dst)])
        digests.append(hashlib.sha256(dst.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    checkpoint = torch.load(dst, map_location='cpu', weights_only=True)
    assert checkpoint['meta'] == dict(
        converter='avsegformer2mmavs',
        source='AVSegFormer_res50_s4.pth',
        backbone='r50',
        out_channels=1,
        dropped_tensors=185)
    # Every kept tensor, renamed; nothing added.
    assert len(checkpoint['state_dict']) == len(shapes) - 185


def test_output_order_does_not_depend_on_the_source_order():
    shapes = read_manifest('AVSegFormer_pvt2_avss')
    items = list(meta_state_dict(shapes).items())
    first, _ = converter.convert_release_state_dict(dict(items))
    random.Random(0).shuffle(items)
    # A DataParallel checkpoint: every key prefixed with 'module.'.
    second, _ = converter.convert_release_state_dict({
        f'module.{key}': value
        for key, value in items
    })
    assert list(first) == list(second)
    assert list(first)[:2] == [
        'backbone.layers.0.0.projection.weight',
        'backbone.layers.0.0.projection.bias'
    ]


def test_missing_and_unknown_keys_are_named():
    shapes = read_manifest('AVSegFormer_res50_s4')
    state_dict = meta_state_dict(shapes)
    del state_dict['head.fc.2.bias']
    del state_dict['backbone.layer2.3.bn1.running_var']
    state_dict['head.extra_module.weight'] = torch.empty(3, device='meta')
    with pytest.raises(KeyError) as error:
        converter.convert_release_state_dict(state_dict)
    message = str(error.value)
    for key in ('head.fc.2.bias', 'backbone.layer2.3.bn1.running_var',
                'head.extra_module.weight'):
        assert key in message
    assert '2 missing' in message and '1 unexpected' in message


def test_wrong_shapes_and_foreign_checkpoints_are_refused():
    shapes = read_manifest('AVSegFormer_pvt2_s4')
    state_dict = meta_state_dict(shapes)
    state_dict['head.mlp.layers.0.weight'] = torch.empty(
        2048, 100, 1, 1, device='meta')
    with pytest.raises(ValueError, match=r'head\.mlp\.layers\.0\.weight'):
        converter.convert_release_state_dict(state_dict)
    with pytest.raises(KeyError, match='Not an AVSegFormer release'):
        converter.convert_release_state_dict(
            {'features.0.weight': torch.empty(64, 1, 3, 3, device='meta')})


def test_unsafe_sources_need_an_explicit_flag(tmp_path):
    """Refused without --unsafe-load; the error names the file and what was
    refused, and never advises turning the protection off (nor carries
    torch's message, which does)."""
    path = tmp_path / 'pickled.pth'
    torch.save(dict(state_dict={}, extra=_Opaque()), path)
    with pytest.raises(CheckpointError,
                       match=rf'{path}: refused: it refers to '
                       r'[\w.]*_Opaque') as error:
        converter.load_release_checkpoint(str(path))
    message = str(error.value).replace(str(path), 'FILE')
    for advice in ('unsafe', '=False', 'trust'):
        assert advice not in message
    assert error.value.__context__ is None  # torch's error not shown
    with pytest.warns(UserWarning, match='unpickling it fully'):
        assert converter.load_release_checkpoint(
            str(path), unsafe_load=True) == {}
    # Broken files are not unpickled fully, even when asked.
    (tmp_path / 'cut.pth').write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match='truncated'):
        converter.load_release_checkpoint(
            str(tmp_path / 'cut.pth'), unsafe_load=True)


class _Opaque:
    """An object that weights-only unpickling refuses."""


@pytest.mark.parametrize('config', RELEASE_CONFIGS)
def test_release_configs_share_the_release_head(config):
    head = get_model_cfg(CONFIG_DIR + config).decode_head
    assert head.query_generator == dict(
        type='AttentionQueryGenerator',
        num_layers=6,
        num_heads=8,
        ffn_channels=1024,
        act_cfg=dict(type='GELU'))
    assert head.mixer == dict(
        type='ChannelAttentionMixer', residual=False, use_sigmoid=True)
    assert head.mask_reformer is None and head.feature_mean_aux
    for part in ('encoder', 'decoder'):
        assert head[part].layer_cfg.act_cfg == dict(type='GELU')


@pytest.fixture(scope='module')
def synthetic_avsbench(tmp_path_factory):
    """One clip per split and task, non-square frames on disk."""
    root = tmp_path_factory.mktemp('avsbench')
    return make_synthetic_avsbench(
        str(root), num_clips=1, image_size=(48, 64), seed=0)


@pytest.mark.parametrize('task,config,size', [
    ('s4', 'avsegformer-release_r50_1xb2-30e_avsbench-s4-512x512.py', 512),
    ('ms3', 'avsegformer-release_pvtv2-b5_1xb2-60e_avsbench-ms3-512x512.py',
     512),
    ('avss', 'avsegformer-release_r50_1xb4-30e_avsbench-avss-224x224.py', 224),
])
def test_release_pipelines_work_at_the_release_size(task, config, size,
                                                    synthetic_avsbench):
    """Frames, masks and ``ori_shape`` at the release's input size, so the
    logits are scored where the release scores them."""
    cfg = get_config(CONFIG_DIR + config)
    for loader in ('train_dataloader', 'test_dataloader'):
        dataset_cfg = cfg[loader].dataset
        dataset_cfg.data_root = synthetic_avsbench[task]
        packed = DATASETS.build(dataset_cfg)[0]
        frames = packed['inputs']['frames']
        assert tuple(frames.shape[-2:]) == (size, size)
        for sample in packed['data_samples'].frames:
            assert tuple(sample.gt_sem_seg.shape) == (size, size)
            if loader == 'test_dataloader':
                assert tuple(sample.metainfo['ori_shape']) == (size, size)
    assert cfg.test_evaluator.eval_size == (size, size)
