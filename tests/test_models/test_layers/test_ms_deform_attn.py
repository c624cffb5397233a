# Copyright (c) mmavs contributors. All rights reserved.
import math

import pytest
import torch

from mmavs.models.layers import MSDeformAttention, level_reference_points
from mmavs.ops import KERNEL_ENV, KernelBuildError
from mmavs.ops.ms_deform_attn_build import ensure_ms_deform_attn_kernel


def bilinear_zero_padded(image, x, y):
    """Sample image [C, H, W] at continuous pixel coordinates (x, y) the way
    grid_sample(align_corners=False, padding_mode='zeros') does."""
    channels, height, width = image.shape
    x0, y0 = math.floor(x), math.floor(y)
    out = torch.zeros(channels, dtype=image.dtype)
    for yy, wy in ((y0, y0 + 1 - y), (y0 + 1, y - y0)):
        for xx, wx in ((x0, x0 + 1 - x), (x0 + 1, x - x0)):
            if 0 <= yy < height and 0 <= xx < width:
                out += wx * wy * image[:, yy, xx]
    return out


def slow_reference(module, query, value, reference_points, shapes):
    """Deformable attention written as plain loops over every index."""
    num_batch, num_query, dims = query.shape
    heads, levels, points = (module.num_heads, module.num_levels,
                             module.num_points)
    head_dims = dims // heads
    projected = module.value_proj(value)
    offsets = module.sampling_offsets(query).view(num_batch, num_query,
                                                  heads, levels, points, 2)
    weights = module.attention_weights(query).view(
        num_batch, num_query, heads, levels * points).softmax(-1).view(
            num_batch, num_query, heads, levels, points)
    starts = [0]
    for h, w in shapes:
        starts.append(starts[-1] + h * w)
    out = torch.zeros(num_batch, num_query, dims)
    for b in range(num_batch):
        for q in range(num_query):
            for head in range(heads):
                acc = torch.zeros(head_dims)
                for lvl, (h, w) in enumerate(shapes):
                    image = projected[b, starts[lvl]:starts[lvl + 1],
                                      head * head_dims:(head + 1) *
                                      head_dims].t().reshape(head_dims, h, w)
                    ref = reference_points[min(b, reference_points.shape[0]
                                               - 1), q, lvl]
                    for p in range(points):
                        loc_x = ref[0] + offsets[b, q, head, lvl, p, 0] / w
                        loc_y = ref[1] + offsets[b, q, head, lvl, p, 1] / h
                        sampled = bilinear_zero_padded(
                            image, float(loc_x * w - 0.5),
                            float(loc_y * h - 0.5))
                        acc += weights[b, q, head, lvl, p] * sampled
                out[b, q, head * head_dims:(head + 1) * head_dims] = acc
    return module.output_proj(out)


def test_pure_path_matches_slow_loop():
    torch.manual_seed(0)
    shapes = [(4, 5), (2, 3), (1, 2)]
    module = MSDeformAttention(embed_dims=8, num_heads=2, num_levels=3,
                               num_points=2, kernel='pytorch')
    module.init_weights()
    # Larger random offsets than the init so samples fall outside the map
    # too (zero padding) and between pixels.
    torch.nn.init.normal_(module.sampling_offsets.weight, std=0.5)
    torch.nn.init.normal_(module.attention_weights.weight, std=0.5)
    num_tokens = sum(h * w for h, w in shapes)
    value = torch.randn(2, num_tokens, 8)
    query = torch.randn(2, 3, 8)
    reference = torch.rand(2, 3, 3, 2)
    with torch.no_grad():
        fast = module(query, value, reference, shapes)
        slow = slow_reference(module, query, value, reference, shapes)
    assert fast.shape == (2, 3, 8)
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-5)


def test_rejects_shapes_that_do_not_cover_value():
    module = MSDeformAttention(embed_dims=8, num_heads=2, num_levels=2,
                               num_points=1)
    with pytest.raises(ValueError, match='do not cover'):
        module(torch.randn(1, 2, 8), torch.randn(1, 5, 8),
               torch.rand(1, 2, 2, 2), [(2, 2), (1, 2)])


def test_forcing_compiled_kernel_on_cpu_fails_clearly():
    module = MSDeformAttention(embed_dims=8, num_heads=2, num_levels=1,
                               num_points=1, kernel='compiled')
    with pytest.raises(RuntimeError, match='needs CUDA tensors'):
        module(torch.randn(1, 2, 8), torch.randn(1, 4, 8),
               torch.rand(1, 2, 1, 2), [(2, 2)])


def test_environment_overrides_the_config_kernel(monkeypatch):
    module = MSDeformAttention(embed_dims=8, num_heads=2, num_levels=1,
                               num_points=1, kernel='pytorch')
    inputs = (torch.randn(1, 2, 8), torch.randn(1, 4, 8),
              torch.rand(1, 2, 1, 2), [(2, 2)])
    monkeypatch.setenv(KERNEL_ENV, 'compiled')
    with pytest.raises(RuntimeError, match='MMAVS_MSDA_KERNEL.*CUDA'):
        module(*inputs)
    monkeypatch.setenv(KERNEL_ENV, 'fastest')
    with pytest.raises(ValueError, match='MMAVS_MSDA_KERNEL must be one of'):
        module(*inputs)


def test_unknown_kernel_name_fails_when_built():
    with pytest.raises(ValueError, match='kernel must be one of'):
        MSDeformAttention(embed_dims=8, kernel='cuda')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_compiled_kernel_matches_pure_path():
    """Full mmcv's kernel, or the one mmavs builds from mmcv's sources."""
    try:
        ensure_ms_deform_attn_kernel(build=True)
    except KernelBuildError as error:
        pytest.skip(f'no compiled kernel: {error}')
    torch.manual_seed(0)
    shapes = [(28, 28), (14, 14), (7, 7)]
    module = MSDeformAttention(embed_dims=256).cuda()
    module.init_weights()
    torch.nn.init.normal_(module.sampling_offsets.weight, std=0.1)
    # 6 frames with im2col_step 4: the kernel must get a step dividing 6.
    value = torch.randn(6, sum(h * w for h, w in shapes), 256).cuda()
    query = torch.randn_like(value)
    reference = level_reference_points(shapes, 3, value.device, value.dtype)
    results = {}
    for kernel in ('compiled', 'pytorch'):
        module.kernel = kernel
        module.im2col_step = 4
        module.zero_grad()
        value_leaf = value.clone().requires_grad_()
        output = module(query, value_leaf, reference, shapes)
        output.square().mean().backward()
        results[kernel] = (output.detach(), value_leaf.grad,
                           module.sampling_offsets.weight.grad.clone())
    for compiled, pure in zip(results['compiled'], results['pytorch']):
        torch.testing.assert_close(compiled, pure, rtol=1e-4, atol=1e-4)


def test_reference_points_are_pixel_centres():
    points = level_reference_points([(2, 4), (1, 1)], 3, torch.device('cpu'),
                                    torch.float32)
    assert points.shape == (1, 9, 3, 2)
    torch.testing.assert_close(points[0, 0, 0], torch.tensor([0.125, 0.25]))
    torch.testing.assert_close(points[0, 7, 2], torch.tensor([0.875, 0.75]))
    torch.testing.assert_close(points[0, 8, 1], torch.tensor([0.5, 0.5]))


def test_kernel_is_chosen_in_the_encoder_config():
    """``decode_head.encoder.layer_cfg.kernel`` reaches every layer."""
    from mmavs.models.layers import DeformableEncoder
    encoder = DeformableEncoder(
        num_layers=2,
        layer_cfg=dict(embed_dims=8, num_heads=2, num_levels=1,
                       num_points=1, ffn_channels=8, kernel='pytorch'))
    assert [layer.self_attn.kernel for layer in encoder.layers] == [
        'pytorch', 'pytorch'
    ]
    with pytest.raises(ValueError, match='kernel must be one of'):
        DeformableEncoder(num_layers=1, layer_cfg=dict(kernel='fast'))
