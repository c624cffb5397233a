# Copyright (c) mmavs contributors. All rights reserved.
"""Export an mmavs model to ONNX, with what a runtime needs beside it.

``AVSInferencer(config, weights='model.onnx')`` runs the graph
(:mod:`mmavs.apis.inferencer.backends`); ``tools/deployment/pytorch2onnx.py``
is the command line.

The graph takes what the inferencer's test pipeline makes of a clip and
returns what the segmentor's ``predict`` puts in ``seg_logits``:

- ``frames``: float32 [B, T, 3, H, W], BGR, 0-255, resized as the test
  pipeline resizes (the data preprocessor's channel swap and
  normalisation are inside the graph);
- ``audio``: float32 [B, T, 1, 96, 64] VGGish log-mel examples (computed
  in NumPy in front of the graph, by :mod:`mmavs.datasets.audio`), or
  [B, T, C] features for models that take precomputed features;
- ``seg_logits``: float32 [B * T, C, H, W] at the input size, clip major:
  the foreground probability (sigmoid) for one-channel models, class
  logits otherwise.

Beside ``model.onnx`` goes ``model.onnx.json``: the config (with its test
pipeline resizing to the exported size), the inputs and output, the
normalisation, the classes and the facts the inferencer needs about the
model (see :func:`export_onnx`). The exported graph samples the
deformable attention with ``GridSample`` (the pure-PyTorch path); the
Triton and compiled kernels are PyTorch's only.
"""
import copy
import json
import os
import os.path as osp
import warnings
from contextlib import contextmanager
from typing import Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

from mmavs.datasets.audio import EXAMPLE_SHAPE
from mmavs.version import __version__
from .inferencer.backends import (INPUT_NAMES, OUTPUT_NAME, OnnxBackend,
                                  meta_path)
from .inferencer.batching import pipeline_size
from .inferencer.configs import eval_dataset_class, load_config
from .model_init import init_model

#: Format version of the sidecar.
META_VERSION = 1


class DeployableModel(nn.Module):
    """A segmentor as the exported graph runs it: normalised frames and
    audio in, ``seg_logits`` out (see the module docstring).

    Args:
        model (nn.Module): An mmavs segmentor (``AVEncoderDecoder``), in
            eval mode.
        size (tuple[int, int]): (H, W) of the frames.
    """

    def __init__(self, model: nn.Module, size: Tuple[int, int]) -> None:
        super().__init__()
        self.model = model
        self.size = tuple(int(s) for s in size)
        preprocessor = model.data_preprocessor
        self.swap_channels = bool(preprocessor.channel_conversion)
        self.register_buffer('mean', preprocessor.mean.detach().clone())
        self.register_buffer('std', preprocessor.std.detach().clone())

    def forward(self, frames: torch.Tensor,
                audio: torch.Tensor) -> torch.Tensor:
        """Segment clips.

        Args:
            frames (Tensor): float32 [B, T, 3, H, W] BGR 0-255.
            audio (Tensor): float32 [B, T, 1, 96, 64] or [B, T, C].

        Returns:
            Tensor: float32 [B*T, C, H, W] probabilities (one channel) or
            logits.
        """
        images = frames.flatten(0, 1)
        if self.swap_channels:
            images = images[:, [2, 1, 0]]
        images = ((images - self.mean) / self.std).view(frames.shape)
        shape = self.size
        metas = [dict(img_shape=shape, pad_shape=shape, ori_shape=shape)
                 ] * (frames.shape[0] * frames.shape[1])
        logits = self.model.encode_decode(dict(frames=images, audio=audio),
                                          metas)
        return logits.sigmoid() if logits.shape[1] == 1 else logits


@contextmanager
def export_mode() -> Iterator[None]:
    """What tracing for ONNX needs: nn.MultiheadAttention's fused fast path
    off (opset 17 has no such operator) and the deformable attention on
    its PyTorch path (``grid_sample``, ONNX's ``GridSample``)."""
    fast_path = torch.backends.mha.get_fastpath_enabled()
    kernel = os.environ.get('MMAVS_MSDA_KERNEL')
    torch.backends.mha.set_fastpath_enabled(False)
    os.environ['MMAVS_MSDA_KERNEL'] = 'pytorch'
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fast_path)
        if kernel is None:
            os.environ.pop('MMAVS_MSDA_KERNEL', None)
        else:
            os.environ['MMAVS_MSDA_KERNEL'] = kernel


def with_pipeline_size(cfg: Config, size: Tuple[int, int]) -> Config:
    """A copy of ``cfg`` whose test pipeline resizes frames to ``size``.

    Raises:
        ValueError: The pipeline has no resize to change.
    """
    cfg = copy.deepcopy(cfg)
    height, width = size
    changed = False

    def visit(transforms):
        nonlocal changed
        for transform in transforms:
            if transform.get('type', '').split('.')[-1] == 'Resize':
                transform['scale'] = (width, height)
                transform['keep_ratio'] = False
                changed = True
            if 'transforms' in transform:
                visit(transform['transforms'])

    try:
        pipelines = [cfg.test_dataloader.dataset.pipeline]
    except AttributeError:
        pipelines = []
    if cfg.get('test_pipeline'):
        pipelines.append(cfg.test_pipeline)
    for pipeline in pipelines:
        visit(pipeline)
    if not changed:
        raise ValueError('the config\'s test pipeline has no Resize to set '
                         f'to {height}x{width}')
    return cfg


def audio_input_shape(model: nn.Module, num_frames: int) -> Tuple[int, ...]:
    """[T, 1, 96, 64] for models that take log-mel examples, [T, C] for
    precomputed features."""
    backbone = model.audio_backbone
    if type(backbone).__name__ == 'PrecomputedAudioFeatures':
        return (num_frames, int(backbone.out_channels))
    return (num_frames, ) + tuple(EXAMPLE_SHAPE)


def _trace(model: nn.Module, frames: torch.Tensor, audio: torch.Tensor,
           path: str, opset: int, dynamic: bool) -> None:
    """torch.onnx.export (TorchScript tracing) of ``model`` to ``path``."""
    axes = dict(frames={0: 'B'}, audio={0: 'B'}, **{OUTPUT_NAME: {
        0: 'BT'
    }}) if dynamic else None
    torch.onnx.export(
        model, (frames, audio), path, input_names=list(INPUT_NAMES),
        output_names=[OUTPUT_NAME], opset_version=opset, dynamic_axes=axes,
        dynamo=False)


def _batch_is_dynamic(model: nn.Module, path: str, frames: torch.Tensor,
                      audio: torch.Tensor) -> bool:
    """Whether the graph at ``path`` gives the model's output for two clips
    (a traced shape may have fixed the batch)."""
    import onnxruntime
    pair = (torch.cat([frames, frames.flip(-1)]),
            torch.cat([audio, audio.flip(1)]))
    expected = model(*pair).numpy()
    session = onnxruntime.InferenceSession(
        path, providers=['CPUExecutionProvider'])
    try:
        got = session.run(None, dict(frames=pair[0].numpy(),
                                     audio=pair[1].numpy()))[0]
    except Exception:  # a shape error: the batch is baked in
        return False
    return got.shape == expected.shape and bool(
        np.abs(got - expected).max() < 1e-3)


def export_onnx(config: Union[str, Config],
                checkpoint: Optional[str],
                out: str,
                shape: Optional[Sequence[int]] = None,
                num_frames: Optional[int] = None,
                batch_size: Optional[int] = None,
                opset: int = 17,
                verify: bool = False) -> dict:
    """Export a model to ONNX and write its sidecar.

    Args:
        config (str | Config): Config file, shipped config name or config.
        checkpoint (str, optional): Weights (loaded safely); None exports
            random weights (for tests).
        out (str): The ``.onnx`` file; ``out + '.json'`` gets the sidecar.
            Both are written under temporary names and renamed at the end:
            nothing half-written is left.
        shape (Sequence[int], optional): (H, W) of the frames; defaults to
            the test pipeline's. Another size also sets the sidecar
            config's resize.
        num_frames (int, optional): Frames per clip T; defaults to the
            config's data set (5, 10 for AVSS).
        batch_size (int, optional): A fixed number of clips B; None (the
            default) makes B dynamic, where the model allows it (checked
            with two clips; otherwise B is fixed to 1, with a warning).
        opset (int): ONNX opset. Defaults to 17.
        verify (bool): Run ONNX Runtime and PyTorch on the same random
            clip and record the largest difference. Defaults to False.

    Returns:
        dict: The sidecar (also written): ``format``, ``mmavs_version``,
        ``torch_version``, ``opset``, ``inputs`` and ``outputs`` (name,
        shape with ``"B"`` for a dynamic batch, dtype, meaning),
        ``normalisation`` (inside the graph), ``size``, ``num_frames``,
        ``out_channels``, ``num_classes``, ``threshold``, ``align_corners``,
        ``processes_frames_independently``, ``dataset_meta``, ``config``
        (its text) and, with ``verify``, ``max_abs_diff``.
    """
    cfg = load_config(config)
    if not isinstance(cfg, Config):
        raise ValueError(f'no config given or found: {config!r}')
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    size = pipeline_size(cfg)
    if shape is not None and tuple(shape) != size:
        size = tuple(int(s) for s in shape)
        cfg = with_pipeline_size(cfg, size)
    dataset = eval_dataset_class(cfg)
    num_frames = int(num_frames or getattr(dataset, 'NUM_FRAMES', 5))
    model = init_model(cfg, checkpoint, 'cpu')
    deployable = DeployableModel(model, size).eval()
    batch = batch_size or 1
    audio_shape = audio_input_shape(model, num_frames)
    torch.manual_seed(0)
    frames = torch.rand(batch, num_frames, 3, *size) * 255
    audio = torch.randn(batch, *audio_shape) - 3.0
    tmp_out = out + '.part'
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with export_mode(), torch.no_grad():
        expected = deployable(frames, audio)
        _trace(deployable, frames, audio, tmp_out, opset, batch_size is None)
        if batch_size is None and not _batch_is_dynamic(
                deployable, tmp_out, frames, audio):
            # Some backbones (Swin's windows) reshape by the batch size as
            # traced: their graph holds for that batch only.
            warnings.warn(f'{out}: this model\'s graph cannot take a '
                          'dynamic batch (its backbone reshapes by the '
                          'traced batch size); exported for one clip at a '
                          'time, which the inferencer handles')
            batch_size = 1
            _trace(deployable, frames, audio, tmp_out, opset, False)
    binary = model.out_channels == 1
    head = model.decode_head
    first = 'B' if batch_size is None else batch
    meta = dict(
        format=META_VERSION,
        mmavs_version=__version__,
        torch_version=torch.__version__,
        opset=opset,
        inputs=[
            dict(name='frames', shape=[first, num_frames, 3, *size],
                 dtype='float32',
                 meaning='the test pipeline\'s frames, BGR 0-255'),
            dict(name='audio', shape=[first, *audio_shape], dtype='float32',
                 meaning='VGGish log-mel examples, one per frame'
                 if len(audio_shape) == 4 else 'audio features, one per '
                 'frame'),
        ],
        outputs=[
            dict(name=OUTPUT_NAME,
                 shape=['B*T' if batch_size is None else batch * num_frames,
                        int(model.out_channels), *size],
                 dtype='float32',
                 meaning='foreground probability (sigmoid)' if binary else
                 'class logits (argmax for the mask, softmax for scores)'),
        ],
        normalisation=dict(
            inside_graph=True,
            bgr_to_rgb=deployable.swap_channels,
            mean=deployable.mean.flatten().tolist(),
            std=deployable.std.flatten().tolist()),
        size=list(size),
        num_frames=num_frames,
        out_channels=int(model.out_channels),
        num_classes=int(model.num_classes),
        threshold=getattr(head, 'threshold', None),
        align_corners=bool(model.align_corners),
        processes_frames_independently=bool(
            getattr(model, 'processes_frames_independently', False)),
        dataset_meta=getattr(model, 'dataset_meta', None),
        config=cfg.pretty_text)
    if verify:
        runner = OnnxBackend(tmp_out, meta=meta)
        got = runner.run(frames.numpy(), audio.numpy())
        meta['max_abs_diff'] = float(np.abs(got - expected.numpy()).max())
    with open(meta_path(tmp_out), 'w', encoding='utf-8') as file:
        json.dump(meta, file, indent=1)
    os.replace(tmp_out, out)
    os.replace(meta_path(tmp_out), meta_path(out))
    return meta
