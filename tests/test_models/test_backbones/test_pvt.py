# Copyright (c) mmavs contributors. All rights reserved.
import pytest
import torch
import torch.nn as nn
from mmseg.registry import MODELS

from mmavs.models import OriginalPVTv2
from mmavs.testing import get_model_cfg

# A small PVTv2: 4 stages, sr ratios 8/4/2/1 (stage 4 has no reduction).
TINY = dict(embed_dims=8, num_layers=[1, 2, 1, 1], drop_path_rate=0.0)


def norm_eps(backbone):
    """eps of every LayerNorm, grouped by kind."""
    kinds = dict(patch_embed=[], sr=[], block=[], stage=[])
    for name, module in backbone.named_modules():
        if not isinstance(module, nn.LayerNorm):
            continue
        parts = name.split('.')  # layers.{i}.{0,1,2}...
        if parts[2] == '0':
            kind = 'patch_embed'
        elif parts[2] == '2':
            kind = 'stage'
        elif parts[-2] == 'attn':
            kind = 'sr'
        else:
            assert parts[-1] in ('norm1', 'norm2')
            kind = 'block'
        kinds[kind].append(module.eps)
    return kinds


def test_norm_eps_of_each_kind_are_the_original_pvtv2s():
    backbone = MODELS.build(dict(type='OriginalPVTv2', **TINY))
    assert isinstance(backbone, OriginalPVTv2)
    kinds = norm_eps(backbone)
    assert kinds['patch_embed'] == [1e-5] * 4
    # Stages 1-3 (sr 8, 4, 2) have 1 + 2 + 1 reductions, stage 4 none.
    assert kinds['sr'] == [1e-5] * 4
    assert kinds['block'] == [1e-6] * 2 * 5
    assert kinds['stage'] == [1e-6] * 4


def test_eps_arguments_and_norm_cfg():
    kinds = norm_eps(
        OriginalPVTv2(
            patch_embed_norm_eps=1e-3,
            sr_norm_eps=1e-4,
            norm_cfg=dict(type='LN', eps=1e-7),
            **TINY))
    assert set(kinds['patch_embed']) == {1e-3}
    assert set(kinds['sr']) == {1e-4}
    assert set(kinds['block']) == set(kinds['stage']) == {1e-7}
    # None keeps norm_cfg's eps: mmdet's PVTv2.
    kinds = norm_eps(
        OriginalPVTv2(patch_embed_norm_eps=None, sr_norm_eps=None, **TINY))
    assert {eps for values in kinds.values() for eps in values} == {1e-6}


def test_same_names_as_mmdet_pvtv2_and_only_eps_differs():
    mmdet_pvt = MODELS.build(
        dict(type='mmdet.PyramidVisionTransformerV2', **TINY)).eval()
    original = OriginalPVTv2(**TINY).eval()
    state_dict = mmdet_pvt.state_dict()
    assert list(original.state_dict()) == list(state_dict)
    original.load_state_dict(state_dict, strict=True)
    frames = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = mmdet_pvt(frames)
        outs = original(frames)
        assert [o.shape for o in outs] == [e.shape for e in expected]
        assert any(not torch.equal(o, e) for o, e in zip(outs, expected))
        for module in original.modules():
            if isinstance(module, nn.LayerNorm):
                module.eps = 1e-6
        for out, exp in zip(original(frames), expected):
            assert torch.equal(out, exp)


@pytest.mark.parametrize('task', [
    '1xb2-30e_avsbench-s4-512x512', '1xb2-60e_avsbench-ms3-512x512',
    '1xb4-30e_avsbench-avss-224x224'
])
def test_release_configs_use_the_release_eps(task):
    cfg = get_model_cfg(
        f'avsegformer/avsegformer-release_pvtv2-b5_{task}.py').backbone
    assert cfg.type == 'OriginalPVTv2'
    cfg.update(init_cfg=None, **TINY)
    kinds = norm_eps(MODELS.build(cfg))
    assert set(kinds['patch_embed']) == set(kinds['sr']) == {1e-5}
    assert set(kinds['block']) == set(kinds['stage']) == {1e-6}
