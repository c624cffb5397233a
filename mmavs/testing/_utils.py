# Copyright (c) mmavs contributors. All rights reserved.
"""Helpers for tests: load shipped configs, shrink them, fake batches."""
import copy
import os.path as osp
from typing import List, Optional, Tuple

import torch
from mmengine.config import Config, ConfigDict
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def get_config(relative_path: str) -> Config:
    """Load a config shipped in ``configs/`` by its path below it.

    Args:
        relative_path (str): E.g.
            ``'avsegformer/avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py'``.

    Returns:
        Config: The full config.
    """
    return Config.fromfile(osp.join(REPO_ROOT, 'configs', relative_path))


def get_model_cfg(relative_path: str) -> ConfigDict:
    """The ``model`` entry of a shipped config (a deep copy)."""
    return copy.deepcopy(get_config(relative_path).model)


# Small versions of every visual backbone the shipped configs use.
_TINY_BACKBONES = {
    'ResNet': dict(depth=18),
    'ResNetV1c': dict(depth=18),
    'mmdet.PyramidVisionTransformerV2': dict(
        embed_dims=8, num_layers=[1, 1, 1, 1], drop_path_rate=0.0),
    'OriginalPVTv2': dict(
        embed_dims=8, num_layers=[1, 1, 1, 1], drop_path_rate=0.0),
    'SwinTransformer': dict(
        embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2],
        window_size=2, drop_path_rate=0.0),
    'MixVisionTransformer': dict(
        embed_dims=8, num_layers=[1, 1, 1, 1], drop_path_rate=0.0),
    'mmpretrain.ConvNeXt': dict(
        arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 32, 64]),
        drop_path_rate=0.0),
}


def _backbone_channels(backbone_cfg: dict) -> List[int]:
    backbone = MODELS.build(copy.deepcopy(backbone_cfg))
    backbone.eval()
    with torch.no_grad():
        feats = backbone(torch.zeros(1, 3, 64, 64))
    return [feat.shape[1] for feat in feats]


def shrink_model_cfg(model_cfg: dict, embed_dims: int = 32,
                     num_queries: int = 8) -> ConfigDict:
    """Shrink a shipped model config so that it runs in a test in seconds.

    The structure (types, switches, losses) stays; widths, depths and
    query counts shrink, pretrained weights are dropped, and the head's (and
    a TPAVI neck's) ``in_channels`` are re-derived from the shrunk backbone.
    Knows the AVSegFormer and AVSBench heads and mmseg's UPerHead and
    SegformerHead.

    Args:
        model_cfg (dict): A ``model`` config.
        embed_dims (int): Transformer width. Defaults to 32.
        num_queries (int): Queries. Defaults to 8.

    Returns:
        ConfigDict: The shrunk copy.
    """
    cfg = ConfigDict(copy.deepcopy(model_cfg))
    backbone = cfg.backbone
    if backbone.type not in _TINY_BACKBONES:
        raise KeyError(f'No tiny version of backbone {backbone.type} in '
                       'mmavs.testing; add one to _TINY_BACKBONES.')
    backbone.update(_TINY_BACKBONES[backbone.type])
    backbone.init_cfg = None
    if 'audio_backbone' in cfg:
        cfg.audio_backbone.init_cfg = None
    channels = _backbone_channels(backbone)
    if cfg.get('neck') and cfg.neck.type == 'TPAVI':
        cfg.neck.in_channels = channels
    head = cfg.decode_head
    if head.type == 'AVSBenchHead':
        head.update(in_channels=channels, feat_channels=16,
                    hidden_channels=16, channels=8)
    elif head.type in ('UPerHead', 'SegformerHead'):
        head.update(in_channels=channels, channels=16)
    elif head.type == 'AVSegFormerHead':
        head.update(
            in_channels=channels,
            embed_dims=embed_dims,
            num_queries=num_queries,
            channels=8,
            mask_mlp_channels=32,
            tail_hidden_channels=16)
        head.positional_encoding = dict(
            head.get('positional_encoding', {}), num_feats=embed_dims // 2)
        for part in ('encoder', 'decoder'):
            head[part] = dict(head.get(part, {}), num_layers=2)
            head[part]['layer_cfg'] = dict(
                head[part].get('layer_cfg', {}), ffn_channels=64,
                num_heads=4)
        if head.get('mixer'):
            head.mixer['num_heads'] = 4
        if head.get('query_generator', {}).get(
                'type') == 'AttentionQueryGenerator':
            head.query_generator.update(
                num_layers=2, num_heads=4, ffn_channels=64)
        if head.get('norm_cfg', {}).get('type') == 'GN':
            head.norm_cfg['num_groups'] = 8
        else:
            head.norm_cfg = dict(type='GN', num_groups=8)
    else:
        raise KeyError(f'No shrinking rule for decode head {head.type} in '
                       'mmavs.testing.shrink_model_cfg.')
    return cfg


def demo_av_batch(batch_size: int = 2,
                  num_frames: int = 3,
                  image_size: Tuple[int, int] = (64, 64),
                  num_classes: int = 2,
                  audio: str = 'log_mel',
                  labelled: Optional[List[int]] = None,
                  seed: int = 0) -> Tuple[dict, List[SegDataSample]]:
    """A random preprocessed batch: model inputs and frame samples.

    Args:
        batch_size (int): Clips B.
        num_frames (int): Frames per clip T.
        image_size (tuple[int, int]): (H, W).
        num_classes (int): Label values are in ``[0, num_classes)``.
        audio (str): ``'log_mel'`` -> [B, T, 1, 96, 64];
            ``'features'`` -> [B, T, 128].
        labelled (list[int], optional): Frame indices with a label; the
            others get ``label_flag=False`` and an all-255 mask. Defaults to
            every frame.
        seed (int): Random seed.

    Returns:
        tuple: ``inputs`` dict (frames [B, T, 3, H, W], audio) and B*T
        :class:`SegDataSample` (clip major).
    """
    generator = torch.Generator().manual_seed(seed)
    height, width = image_size
    frames = torch.randn(
        batch_size, num_frames, 3, height, width, generator=generator)
    if audio == 'log_mel':
        audio_tensor = torch.randn(
            batch_size, num_frames, 1, 96, 64, generator=generator)
    elif audio == 'features':
        audio_tensor = torch.rand(
            batch_size, num_frames, 128, generator=generator)
    else:
        raise ValueError(f'audio must be log_mel or features, got {audio}')
    labelled = list(range(num_frames)) if labelled is None else labelled
    samples = []
    for clip in range(batch_size):
        for frame in range(num_frames):
            is_labelled = frame in labelled
            sample = SegDataSample(
                metainfo=dict(
                    img_shape=image_size,
                    ori_shape=image_size,
                    pad_shape=image_size,
                    padding_size=[0, 0, 0, 0],
                    sample_idx=clip,
                    clip_name=f'clip{clip}',
                    frame_index=frame,
                    num_frames=num_frames,
                    label_flag=is_labelled,
                    frame_valid=True))
            if is_labelled:
                label = torch.randint(
                    0, num_classes, (1, height, width), generator=generator)
            else:
                label = torch.full((1, height, width), 255)
            sample.gt_sem_seg = PixelData(data=label)
            samples.append(sample)
    return dict(frames=frames, audio=audio_tensor), samples


def _set_pipeline_scale(pipeline: list, image_size: Tuple[int, int]) -> None:
    """Point every resize inside ``ClipTransform`` at ``image_size``."""
    for transform in pipeline:
        for inner in transform.get('transforms', []):
            if 'scale' in inner:
                inner['scale'] = tuple(image_size)
            if 'crop_size' in inner:
                inner['crop_size'] = tuple(image_size)


def get_tiny_train_config(relative_path: str,
                          data_root: str,
                          work_dir: str,
                          image_size: Tuple[int, int] = (64, 64),
                          max_epochs: int = 1,
                          batch_size: int = 2) -> Config:
    """A shipped config made small enough to train in a test.

    The model is shrunk with :func:`shrink_model_cfg`, the pipelines resize
    to ``image_size``, data come from ``data_root`` (e.g. a synthetic set
    from :func:`mmavs.datasets.make_synthetic_avsbench`), loaders run in the
    main process and training lasts ``max_epochs`` epochs with validation
    and a checkpoint after each.

    Args:
        relative_path (str): Config path below ``configs/``.
        data_root (str): Root of the sub-task's data (e.g.
            ``.../Single-source``).
        work_dir (str): Work directory.
        image_size (tuple[int, int]): Training/test frame size.
        max_epochs (int): Training epochs.
        batch_size (int): Clips per batch.

    Returns:
        Config: A config for :meth:`mmengine.runner.Runner.from_cfg`.
    """
    cfg = get_config(relative_path)
    cfg.model = shrink_model_cfg(cfg.model)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.update(batch_size=batch_size, num_workers=0,
                      persistent_workers=False)
        dataset = loader.dataset
        while 'dataset' in dataset:  # dataset wrappers
            dataset = dataset.dataset
        dataset.data_root = data_root
        _set_pipeline_scale(dataset.pipeline, image_size)
    cfg.train_cfg = dict(
        type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=3)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=0)
    cfg.log_level = 'WARNING'
    return cfg
