# Copyright (c) mmavs contributors. All rights reserved.
"""The Triton deformable-attention kernel against the PyTorch path.

On CPU the kernel runs in Triton's interpreter: the ``interpreter`` fixture
sets ``TRITON_INTERPRET=1`` for one test only, and the kernel module builds
its jitted kernels in whatever mode is on at first use (cached per mode),
so the order of tests in a pytest-xdist worker does not matter.

Tolerances: fp32 within 1e-5 (rtol and atol). Half precision is compared
with the fp32 PyTorch path run on the same (rounded) inputs: the kernel
computes in fp32 and rounds each result once, so it must be within about
one unit in the last place: rtol 1e-3 for fp16 (eps 9.8e-4), 1.6e-2 for
bf16 (eps 7.8e-3), atol 1e-5 for both.
"""
import pytest
import torch
from mmcv.ops.multi_scale_deform_attn import \
    multi_scale_deformable_attn_pytorch

from mmavs.models.layers import MSDeformAttention, level_reference_points
from mmavs.ops import (KERNEL_ENV, KernelBuildError, multi_scale_deform_attn,
                       select_kernel)
from mmavs.ops import triton_ms_deform_attn as triton_module
from mmavs.ops.ms_deform_attn_build import ensure_ms_deform_attn_kernel
from mmavs.ops.multi_scale_deform_attn import level_tensors
from mmavs.ops.triton_ms_deform_attn import (triton_available,
                                             triton_multi_scale_deform_attn)

needs_triton = pytest.mark.skipif(triton_module.triton is None,
                                  reason='triton does not import')
FP32 = dict(rtol=1e-5, atol=1e-5)
HALF = {
    torch.float16: dict(rtol=1e-3, atol=1e-5),
    torch.bfloat16: dict(rtol=1.6e-2, atol=1e-5)
}


@pytest.fixture
def interpreter(monkeypatch):
    monkeypatch.setenv('TRITON_INTERPRET', '1')
    monkeypatch.delenv(KERNEL_ENV, raising=False)
    assert triton_module.triton_interpreting()


def assert_close(result, expected, name, **tolerance):
    """torch.testing.assert_close, its message prefixed with ``name``."""
    torch.testing.assert_close(result, expected, **tolerance,
                               msg=lambda message: f'{name}: {message}')


def level_index(shapes):
    """spatial_shapes [L, 2] and level_start_index [L] tensors."""
    tensor = torch.tensor(shapes, dtype=torch.long)
    return tensor, torch.cat((tensor.new_zeros(1),
                              tensor.prod(1).cumsum(0)[:-1]))


def random_inputs(shapes, batch, queries, heads, channels, points,
                  dtype=torch.float32):
    """value, locations (a fifth of the range outside [0, 1] on each side:
    partly and wholly outside the map) and weights."""
    num_value = sum(h * w for h, w in shapes)
    value = torch.randn(batch, num_value, heads, channels)
    locations = torch.rand(batch, queries, heads, len(shapes), points,
                           2) * 1.4 - 0.2
    weights = torch.rand(batch, queries, heads, len(shapes), points)
    return [t.to(dtype) for t in (value, locations, weights)]


def run_both(shapes, value, locations, weights):
    """Outputs and gradients (value, locations, weights) of the Triton
    kernel on the given tensors and of the PyTorch path on their fp32
    copies, for the same random output gradient."""
    inputs = [t.detach().clone().requires_grad_() for t in
              (value, locations, weights)]
    spatial_shapes, starts = level_index(shapes)
    out = triton_multi_scale_deform_attn(inputs[0], spatial_shapes, starts,
                                         inputs[1], inputs[2])
    grad_out = torch.randn(out.shape).to(out.dtype)
    grads = torch.autograd.grad(out, inputs, grad_out)
    ref_inputs = [t.detach().float().requires_grad_() for t in inputs]
    ref_out = multi_scale_deformable_attn_pytorch(ref_inputs[0], shapes,
                                                  ref_inputs[1],
                                                  ref_inputs[2])
    ref_grads = torch.autograd.grad(ref_out, ref_inputs, grad_out.float())
    return (out, ) + grads, (ref_out, ) + ref_grads


# (level shapes, batch, queries, heads, channels, points): odd sizes, none
# a multiple of the interpreter's 8 queries per program nor (channels) of
# a power of two; 1 and 4 levels, 1/4/8 points, 1 and 8 heads.
CASES = [
    ([(5, 7)], 2, 13, 1, 3, 1),
    ([(9, 7), (5, 4), (3, 2), (1, 1)], 1, 6, 8, 4, 4),
    ([(6, 5)], 1, 11, 8, 5, 8),
    ([(7, 9), (4, 5), (2, 3), (1, 2)], 2, 7, 1, 17, 8),
    ([(3, 5), (2, 3), (1, 2), (1, 1)], 1, 5, 8, 2, 1),
]


@needs_triton
@pytest.mark.parametrize('shapes,batch,queries,heads,channels,points', CASES)
def test_fp32_matches_pytorch_path(interpreter, shapes, batch, queries,
                                   heads, channels, points):
    value, locations, weights = random_inputs(shapes, batch, queries, heads,
                                              channels, points)
    results, reference = run_both(shapes, value, locations, weights)
    assert results[0].shape == (batch, queries, heads * channels)
    for name, result, expected in zip(('output', 'value', 'locations',
                                       'weights'), results, reference):
        assert result.dtype == torch.float32, name
        assert expected.abs().max() > 0.1, name  # a real comparison
        assert_close(result, expected, name, **FP32)


# Sampling points in pixel coordinates (x, y) of a w x h level (pixel
# x = loc_x * w - 0.5): borders, integer coordinates (the kinks of bilinear
# sampling) and points outside. 'in': samples the map; 'edge': one pixel
# left of the map, it samples zero but its one inside corner (of weight 0)
# gives it an x gradient, as in PyTorch (mmcv's CUDA kernel gives none);
# 'out': zero and no gradient (one pixel below the map, floor puts both
# corners outside).
BORDER_POINTS = [
    (lambda w, h: (-0.5, -0.5), 'in'),  # loc (0, 0): top-left corner
    (lambda w, h: (w - 0.5, h - 0.5), 'in'),  # loc (1, 1)
    (lambda w, h: (0.0, 0.0), 'in'),  # first pixel centre
    (lambda w, h: (w - 1.0, h - 1.0), 'in'),  # last pixel centre
    (lambda w, h: (1.0, h - 0.25), 'in'),  # partly in the padding
    (lambda w, h: (-1.0, 0.0), 'edge'),
    (lambda w, h: (0.0, h), 'out'),
    (lambda w, h: (-1.5, 0.0), 'out'),
    (lambda w, h: (0.0, h + 0.25), 'out'),
    (lambda w, h: (1e6, 0.0), 'out'),  # far away: would overflow int32
    (lambda w, h: (0.0, -1e6), 'out'),
]


@needs_triton
def test_points_on_and_outside_the_borders(interpreter):
    # Sizes of powers of two: the locations and the pixel coordinates of
    # both paths are exact, so integer coordinates are met exactly.
    shapes = [(4, 8), (2, 2)]
    locations = torch.tensor(
        [[[(x + 0.5) / w, (y + 0.5) / h]
          for x, y in (point(w, h) for point, _ in BORDER_POINTS)]
         for h, w in shapes]).transpose(0, 1)  # [Lq, levels, 2]
    # [1, Lq, heads, levels, points, 2]: head 1 samples in reverse order.
    locations = torch.stack((locations, locations.flip(0)), 1)
    locations = locations[None, :, :, :, None]
    queries = len(BORDER_POINTS)
    value = torch.randn(1, sum(h * w for h, w in shapes), 2, 3)
    weights = torch.rand(1, queries, 2, len(shapes), 1) + 0.5
    results, reference = run_both(shapes, value, locations, weights)
    for name, result, expected in zip(('output', 'value', 'locations',
                                       'weights'), results, reference):
        assert_close(result, expected, name, **FP32)
    output, _, grad_locations, grad_weights = results
    # Head 0 (head 1 holds the same points in reverse order).
    kind = [kind for _, kind in BORDER_POINTS]
    inside, edge, out = (torch.tensor([k == name for k in kind])
                         for name in ('in', 'edge', 'out'))
    assert (output[0, inside, :3] != 0).all()
    assert (output[0, edge | out, :3] == 0).all()
    assert (grad_weights[0, inside, 0] != 0).all()
    assert (grad_weights[0, edge | out, 0] == 0).all()
    assert (grad_locations[0, edge, 0, :, 0, 0] != 0).all()
    assert (grad_locations[0, out, 0] == 0).all()


@needs_triton
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision_within_one_rounding(interpreter, dtype):
    shapes = [(7, 9), (4, 5), (2, 3), (1, 2)]
    torch.manual_seed(1)
    value, locations, weights = random_inputs(shapes, 1, 11, 2, 8, 4, dtype)
    results, reference = run_both(shapes, value, locations, weights)
    for name, result, expected in zip(('output', 'value', 'locations',
                                       'weights'), results, reference):
        assert result.dtype == dtype, name
        assert_close(result.float(), expected, name, **HALF[dtype])
    # Accumulating in fp32 beats running the PyTorch path in half
    # precision (which also rounds the sampling grid to the half dtype).
    half_path = multi_scale_deformable_attn_pytorch(value, shapes, locations,
                                                    weights)
    error = (results[0].float() - reference[0]).abs().max()
    assert error < (half_path.float() - reference[0]).abs().max()


@needs_triton
def test_amp_dtypes_are_kept(interpreter):
    """As under AMP: half-precision value, fp32 locations and weights. Each
    gradient comes back in its input's dtype; nothing is rounded to half
    but the value and the output."""
    shapes = [(5, 6), (3, 3)]
    value, locations, weights = random_inputs(shapes, 1, 9, 2, 4, 2)
    value = value.bfloat16()
    results, reference = run_both(shapes, value, locations, weights)
    dtypes = [torch.bfloat16, torch.bfloat16, torch.float32, torch.float32]
    # The fp32 gradients are held to the fp32 tolerance: rounding them to
    # bf16 on the way out would miss it by far.
    tolerances = [HALF[torch.bfloat16]] * 2 + [FP32] * 2
    for name, result, expected, dtype, tolerance in zip(
            ('output', 'value', 'locations', 'weights'), results, reference,
            dtypes, tolerances):
        assert result.dtype == dtype, name
        assert_close(result.float(), expected, name, **tolerance)
    for name, expected in zip(('locations', 'weights'), reference[2:]):
        rounded = expected.bfloat16().float()
        assert not torch.allclose(rounded, expected, **FP32), name


@needs_triton
def test_no_queries_and_shape_errors(interpreter):
    shapes = [(3, 4)]
    spatial_shapes, starts = level_index(shapes)
    value = torch.randn(2, 12, 2, 4, requires_grad=True)
    locations = torch.rand(2, 0, 2, 1, 3, 2, requires_grad=True)
    weights = torch.rand(2, 0, 2, 1, 3, requires_grad=True)
    out = triton_multi_scale_deform_attn(value, spatial_shapes, starts,
                                         locations, weights)
    assert out.shape == (2, 0, 8)
    out.sum().backward()
    assert (value.grad == 0).all()
    with pytest.raises(ValueError, match='attention_weights'):
        triton_multi_scale_deform_attn(value, spatial_shapes, starts,
                                       torch.rand(2, 5, 2, 1, 3, 2),
                                       torch.rand(2, 5, 2, 1, 4))
    with pytest.raises(ValueError, match='spatial_shapes'):
        triton_multi_scale_deform_attn(value, spatial_shapes[:, :1], starts,
                                       torch.rand(2, 5, 2, 1, 3, 2),
                                       torch.rand(2, 5, 2, 1, 3))


def test_level_tensors_are_built_once_and_outlive_inference_mode():
    # Shapes no other test uses, so that the first call is under
    # inference mode; its tensors are later saved for backward.
    with torch.inference_mode():
        shapes, starts = level_tensors([(3, 5), (2, 7)], torch.device('cpu'))
    assert not shapes.is_inference() and not starts.is_inference()
    assert shapes.tolist() == [[3, 5], [2, 7]] and starts.tolist() == [0, 15]
    assert level_tensors(((3, 5), (2, 7)), 'cpu')[0] is shapes


def small_module_inputs(kernel):
    torch.manual_seed(0)
    shapes = [(5, 3), (3, 2)]
    module = MSDeformAttention(embed_dims=16, num_heads=2, num_levels=2,
                               num_points=3, kernel=kernel)
    module.init_weights()
    torch.nn.init.normal_(module.sampling_offsets.weight, std=0.5)
    value = torch.randn(2, sum(h * w for h, w in shapes), 16)
    query = torch.randn(2, 7, 16)
    reference = torch.rand(2, 7, 2, 2)
    return module, (query, value, reference, shapes)


def test_triton_on_cpu_needs_the_interpreter(monkeypatch):
    monkeypatch.delenv('TRITON_INTERPRET', raising=False)
    monkeypatch.delenv(KERNEL_ENV, raising=False)
    assert not triton_available('cpu')
    module, inputs = small_module_inputs('triton')
    with pytest.raises(RuntimeError, match='TRITON_INTERPRET=1'):
        module(*inputs)
    # The automatic choice keeps the PyTorch path on CPU.
    assert select_kernel('cpu') == 'pytorch'


@needs_triton
def test_dispatcher_and_module_run_triton_under_the_interpreter(
        interpreter, monkeypatch):
    assert triton_available('cpu')
    assert select_kernel('cpu', 'triton') == 'triton'
    assert select_kernel('cpu') == 'pytorch'  # never chosen on CPU itself
    # Count the Triton calls: comparing the PyTorch path with itself would
    # pass too.
    calls = []

    def counted(*args):
        calls.append(args[0].shape)
        return triton_multi_scale_deform_attn(*args)

    monkeypatch.setattr(triton_module, 'triton_multi_scale_deform_attn',
                        counted)
    module, inputs = small_module_inputs('pytorch')
    outputs = {}
    for source in ('config', 'environment'):
        module.kernel = 'triton' if source == 'config' else 'pytorch'
        if source == 'environment':
            monkeypatch.setenv(KERNEL_ENV, 'triton')
        module.zero_grad()
        out = module(*inputs)
        out.square().sum().backward()
        outputs[source] = (out.detach(),
                           module.sampling_offsets.weight.grad.clone(),
                           module.value_proj.weight.grad.clone())
    assert calls == [(2, 21, 2, 8)] * 2  # [N, S, heads, C], once per source
    monkeypatch.delenv(KERNEL_ENV)
    module.kernel = 'pytorch'
    module.zero_grad()
    out = module(*inputs)
    out.square().sum().backward()
    assert len(calls) == 2
    expected = (out.detach(), module.sampling_offsets.weight.grad,
                module.value_proj.weight.grad)
    for source, results in outputs.items():
        for result, reference in zip(results, expected):
            assert_close(result, reference, source, rtol=1e-4, atol=1e-5)
    # The functional entry point computes level starts when not given.
    value, locations, weights = random_inputs([(3, 4), (2, 2)], 1, 5, 2, 4,
                                              2)
    torch.testing.assert_close(
        multi_scale_deform_attn(value, [(3, 4), (2, 2)], locations, weights,
                                kernel='triton'),
        multi_scale_deformable_attn_pytorch(value, [(3, 4), (2, 2)],
                                            locations, weights), **FP32)
    assert len(calls) == 3


def require_cuda_kernel(kernel):
    """Skip, naming why, when ``kernel`` cannot run on this CUDA machine:
    a kernel left out silently would leave its comparison untested."""
    if kernel == 'compiled':
        try:
            ensure_ms_deform_attn_kernel(build=True)
        except KernelBuildError as error:
            pytest.skip(f'no compiled kernel: {error}')


def test_a_kernel_that_cannot_be_built_is_skipped_by_name(monkeypatch):

    def cannot_build(build):
        raise KernelBuildError('nvcc not found')

    monkeypatch.setitem(globals(), 'ensure_ms_deform_attn_kernel',
                        cannot_build)
    with pytest.raises(pytest.skip.Exception,
                       match='no compiled kernel: nvcc not found'):
        require_cuda_kernel('compiled')
    require_cuda_kernel('triton')  # nothing to build


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@needs_triton
@pytest.mark.parametrize('kernel', ['triton', 'compiled'])
def test_cuda_kernels_agree_through_the_module(monkeypatch, kernel):
    """Triton and compiled (when it can be built) against PyTorch on CUDA at
    the S4 224 px shapes, forward and backward: in fp32 within 1e-4; under
    bf16 autocast against the fp32 PyTorch result, within 5e-2 of the
    largest value (the bf16 projections around the kernel dominate that
    error; the PyTorch path is not held to it, as it samples at locations
    rounded to bf16)."""
    monkeypatch.delenv('TRITON_INTERPRET', raising=False)
    monkeypatch.delenv(KERNEL_ENV, raising=False)
    # TF32 would blur the comparison of the projections around the kernel.
    monkeypatch.setattr(torch.backends.cuda.matmul, 'allow_tf32', False)
    require_cuda_kernel(kernel)
    torch.manual_seed(0)
    shapes = [(28, 28), (14, 14), (7, 7)]
    module = MSDeformAttention(embed_dims=256).cuda()
    module.init_weights()
    torch.nn.init.normal_(module.sampling_offsets.weight, std=0.1)
    value = torch.randn(4, sum(h * w for h, w in shapes), 256).cuda()
    query = torch.randn_like(value)
    reference = level_reference_points(shapes, 3, value.device, value.dtype)

    def run(kernel, amp):
        module.kernel = kernel
        module.zero_grad()
        value_leaf = value.clone().requires_grad_()
        with torch.autocast('cuda', dtype=torch.bfloat16, enabled=amp):
            output = module(query, value_leaf, reference, shapes)
        assert output.dtype == (torch.bfloat16 if amp else torch.float32)
        output.float().square().mean().backward()
        return dict(output=output.detach().float(), value=value_leaf.grad,
                    offsets=module.sampling_offsets.weight.grad.clone(),
                    weights=module.attention_weights.weight.grad.clone())

    expected = run('pytorch', amp=False)
    for name, result in run(kernel, amp=False).items():
        assert_close(result, expected[name], f'{kernel}, fp32, {name}',
                     rtol=1e-4, atol=1e-4)
    for name, result in run(kernel, amp=True).items():
        assert torch.isfinite(result).all(), (kernel, name)
        error = ((result - expected[name]).abs().max() /
                 expected[name].abs().max())
        assert error < 5e-2, (kernel, 'bf16 autocast', name, error)


def _nvidia_backend():
    try:
        from triton.backends import backends
    except Exception:
        return False
    return 'nvidia' in backends


@needs_triton
@pytest.mark.skipif(not _nvidia_backend(), reason='no Triton CUDA backend')
def test_kernels_compile_for_hopper_without_a_gpu(monkeypatch):
    """The interpreter runs the kernel as Python; this compiles it, as a
    GPU run would (Triton ships ptxas), for an H100 and the AMP dtypes
    (bf16 value, fp32 locations and weights), and checks that the channel
    gathers and the grad_value atomics are vectorised and relaxed."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from triton.runtime.jit import JITFunction
    if not isinstance(triton.language.standard._sum_combine, JITFunction):
        pytest.skip('triton was imported with TRITON_INTERPRET=1: its own '
                    'helpers can only be interpreted in this process')
    monkeypatch.delenv('TRITON_INTERPRET', raising=False)
    kernel = triton.jit(triton_module._ms_deform_attn_kernel)
    names = kernel.arg_names
    pointers = dict(value_ptr='*bf16', shapes_ptr='*i64', starts_ptr='*i64',
                    loc_ptr='*fp32', attn_ptr='*fp32', out_ptr='*bf16',
                    grad_value_ptr='*fp32', grad_loc_ptr='*fp32',
                    grad_attn_ptr='*fp32')
    # What a launch specialises on: 16-byte aligned tensors, head_dim 32
    # and row_stride 256 (multiples of 16).
    aligned = list(pointers) + ['head_dim', 'row_stride']
    attrs = {(names.index(name), ): [['tt.divisibility', 16]]
             for name in aligned}
    ptx = {}
    for backward in (False, True):
        constants = dict(NUM_LEVELS=3, NUM_POINTS=4, BACKWARD=backward,
                         BLOCK_Q=32, BLOCK_C=32)
        signature = {
            name: pointers.get(name,
                               'constexpr' if name in constants else 'i32')
            for name in names
        }
        source = ASTSource(kernel, signature, constants, attrs)
        ptx[backward] = triton.compile(
            source, target=GPUTarget('cuda', 90, 32),
            options=dict(num_warps=4)).asm['ptx']
    # 8 bf16 channels per 16-byte load; fp32 atomics 4 channels at a time.
    assert 'ld.global.v4.b32' in ptx[False]
    assert 'st.global.v4.b32' in ptx[False] or 'st.global.v2.b32' in ptx[
        False]
    assert 'atom.global.gpu.relaxed.add.v4.f32' in ptx[True]
    assert 'acq_rel' not in ptx[True]
