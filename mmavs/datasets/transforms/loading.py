# Copyright (c) mmavs contributors. All rights reserved.
"""Transforms that load the frames, masks and audio of an AVSBench clip.

The files are read by :mod:`mmavs.datasets.readers`.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ..errors import AVSDataError
from ..metainfo import AVSS_PALETTE
from ..readers import (check_unknown_color, load_audio_array, palette_lookup,
                       read_binary_mask, read_frame, read_palette_mask)


@TRANSFORMS.register_module()
class LoadAVSFrames(BaseTransform):
    """Load the T frames of a clip.

    Padded frames (path None or ``frame_valid`` 0, AVSS v1 clips) become
    black images of the real frames' size.

    Required Keys:

    - frame_paths (list[str | None])
    - frame_valid (list[int], optional)

    Added Keys:

    - imgs (list[np.ndarray]): T uint8 [H, W, 3] BGR images (float32 with
      ``to_float32``).
    - img_shape (tuple[int, int])
    - ori_shape (tuple[int, int])

    Args:
        to_float32 (bool): Convert the frames to float32. Defaults to False.
        color_type (str): ``mmcv.imfrombytes`` flag. Defaults to 'color'.
        imdecode_backend (str): Decoding backend. Defaults to 'cv2'.
        backend_args (dict, optional): mmengine file backend arguments.

    Raises:
        AVSDataError: A frame is missing or undecodable, the clip has no real
            frame, or its frames differ in size.
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        self.to_float32 = to_float32
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        """Load the frames; see the class docstring for the keys."""
        paths = results['frame_paths']
        valid = results.get('frame_valid', [1] * len(paths))
        imgs: List[Optional[np.ndarray]] = []
        shape: Optional[Tuple[int, ...]] = None
        first_path = None
        for path, is_valid in zip(paths, valid):
            if path is None or not is_valid:
                imgs.append(None)
                continue
            img = read_frame(path, self.color_type, self.imdecode_backend,
                             self.backend_args)
            if shape is None:
                shape, first_path = img.shape, path
            elif img.shape != shape:
                raise AVSDataError(
                    f'{path}: frame is {img.shape[1]}x{img.shape[0]} but '
                    f'{first_path} of the same clip is {shape[1]}x{shape[0]}')
            imgs.append(img)
        if shape is None:
            raise AVSDataError(
                f'clip "{results.get("clip_name")}" has no real frame to load')
        imgs = [
            np.zeros(shape, dtype=np.uint8) if img is None else img
            for img in imgs
        ]
        if self.to_float32:
            imgs = [img.astype(np.float32) for img in imgs]
        results['imgs'] = imgs
        results['img_shape'] = shape[:2]
        results['ori_shape'] = shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32}, '
                f"color_type='{self.color_type}', "
                f"imdecode_backend='{self.imdecode_backend}')")


@TRANSFORMS.register_module()
class LoadAVSAnnotations(BaseTransform):
    """Load the per-frame masks of a clip.

    Frames without a mask (``seg_map_paths[t]`` None) get ``ignore_index``
    everywhere, padded frames (``frame_valid`` 0) get ``padded_label``
    (background) everywhere, both at the frame's original size. Masks may be
    loaded before or after :class:`ClipTransform`: they are checked against
    ``ori_shape``, the size of the frames on disk.

    Required Keys:

    - seg_map_paths (list[str | None])
    - task (str, needed by ``mask_type='auto'``)
    - strict (bool, optional): suspicious masks raise instead of warning
    - frame_valid (list[int], optional)
    - ori_shape (tuple, optional; set by :class:`LoadAVSFrames`)
    - label_map (dict, optional)

    Added Keys:

    - gt_seg_maps (list[np.ndarray]): T uint8 [H, W] masks: 0/1 for S4/MS3,
      class ids for AVSS, ``ignore_index`` for unlabelled frames.
    - seg_fields (list[str]): ``'gt_seg_maps'`` appended.

    Args:
        mask_type (str): ``'binary'`` (S4/MS3 PNGs, non-zero = foreground),
            ``'palette'`` (AVSS colour PNGs) or ``'auto'`` (from
            ``results['task']``). Defaults to 'auto'.
        palette (Sequence[Sequence[int]], optional): RGB colour of each
            class for ``'palette'`` masks. Defaults to the AVSS palette.
        unknown_color (str): A colour outside the palette raises
            (``'error'``, default), becomes background (``'background'``, as
            the release does) or is ignored (``'ignore'``).
        ignore_index (int): Label of unlabelled pixels. Defaults to 255.
        padded_label (int): Label of padded frames. Defaults to 0.
        imdecode_backend (str): Decoding backend. Defaults to 'cv2'.
        backend_args (dict, optional): mmengine file backend arguments.

    Raises:
        AVSDataError: A mask is missing or undecodable, differs in size from
            its frame, or (palette masks) has an unknown colour.
    """

    def __init__(self,
                 mask_type: str = 'auto',
                 palette: Optional[Sequence[Sequence[int]]] = None,
                 unknown_color: str = 'error',
                 ignore_index: int = 255,
                 padded_label: int = 0,
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        if mask_type not in ('auto', 'binary', 'palette'):
            raise ValueError("mask_type must be 'auto', 'binary' or "
                             f"'palette', got {mask_type!r}")
        check_unknown_color(unknown_color)
        self.mask_type = mask_type
        self.palette = AVSS_PALETTE if palette is None else palette
        # A broken palette fails here, not in a loader worker.
        palette_lookup(self.palette)
        self.unknown_color = unknown_color
        self.ignore_index = ignore_index
        self.padded_label = padded_label
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args.copy() if backend_args else None

    def _resolve_type(self, results: dict) -> str:
        if self.mask_type != 'auto':
            return self.mask_type
        task = results.get('task')
        if task in ('s4', 'ms3'):
            return 'binary'
        if task == 'avss':
            return 'palette'
        raise ValueError('LoadAVSAnnotations(mask_type="auto") needs '
                         "results['task'] in ('s4', 'ms3', 'avss'), got "
                         f'{task!r}; set mask_type explicitly')

    def _read(self, path: str, mask_type: str, strict: bool) -> np.ndarray:
        if mask_type == 'binary':
            return read_binary_mask(path, self.imdecode_backend,
                                    self.backend_args, strict)
        return read_palette_mask(path, self.palette, self.unknown_color,
                                 self.ignore_index, self.imdecode_backend,
                                 self.backend_args)

    def transform(self, results: dict) -> dict:
        """Load the masks; see the class docstring for the keys."""
        mask_type = self._resolve_type(results)
        paths = results['seg_map_paths']
        valid = results.get('frame_valid', [1] * len(paths))
        expected = results.get('ori_shape')
        masks: List[Optional[np.ndarray]] = []
        for path, is_valid in zip(paths, valid):
            if path is None or not is_valid:
                masks.append(None)
                continue
            mask = self._read(path, mask_type, results.get('strict', False))
            if expected is None:
                expected = mask.shape[:2]
            elif tuple(mask.shape[:2]) != tuple(expected[:2]):
                raise AVSDataError(
                    f'{path}: mask is {mask.shape[1]}x{mask.shape[0]} but its '
                    f'frame is {expected[1]}x{expected[0]} (width x height)')
            masks.append(mask)
        if expected is None:
            raise AVSDataError(
                f'clip "{results.get("clip_name")}": cannot size the masks, '
                'no frame was loaded and no mask exists')
        shape = tuple(expected[:2])
        label_map = results.get('label_map')
        lookup = None
        if label_map:
            lookup = np.arange(256, dtype=np.uint8)
            for old_id, new_id in label_map.items():
                lookup[old_id] = new_id
        gt_seg_maps = []
        for mask, is_valid in zip(masks, valid):
            if mask is None:
                fill = self.ignore_index if is_valid else self.padded_label
                mask = np.full(shape, fill, dtype=np.uint8)
            elif lookup is not None:
                mask = lookup[mask]
            gt_seg_maps.append(mask)
        results['gt_seg_maps'] = gt_seg_maps
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_maps' not in seg_fields:
            seg_fields.append('gt_seg_maps')
        return results

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(mask_type='{self.mask_type}', "
                f"unknown_color='{self.unknown_color}', "
                f'ignore_index={self.ignore_index}, '
                f'padded_label={self.padded_label})')


@TRANSFORMS.register_module()
class LoadAVSAudio(BaseTransform):
    """Load one audio example (or feature vector) per frame of a clip.

    The source follows the file: a ``.pkl`` (the released log-mel tensor,
    or features) or ``.npy`` array is validated and used as is; a ``.wav``
    (or a video's sound track) goes through the VGGish front end
    (:mod:`mmavs.datasets.audio`). Short audio repeats its last example;
    padded frames repeat the last real one. Silent sound is used, with an
    ``AVSDataWarning`` (an error under ``strict``); see
    ``docs/data_checks.md``.

    Required Keys:

    - audio_path (str)
    - num_frames (int)
    - strict (bool, optional): suspicious sound raises instead of warning
    - frame_valid (list[int], optional)

    Added Keys:

    - audio (np.ndarray): float32 [T, 1, 96, 64] log-mel examples, or
      [T, feature_dim] precomputed features.

    Args:
        feature_dim (int, optional): Width of precomputed features that are
            accepted; None accepts log-mel arrays only. Defaults to 128.
        backend_args (dict, optional): mmengine file backend arguments.

    Raises:
        AVSDataError: See :func:`load_audio_array`.
    """

    def __init__(self,
                 feature_dim: Optional[int] = 128,
                 backend_args: Optional[dict] = None) -> None:
        self.feature_dim = feature_dim
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        """Load the audio; see the class docstring for the keys."""
        num_frames = results['num_frames']
        valid = results.get('frame_valid')
        num_valid = num_frames if valid is None else int(sum(valid))
        results['audio'] = load_audio_array(results['audio_path'], num_frames,
                                            num_valid, self.feature_dim,
                                            self.backend_args,
                                            results.get('strict', False))
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(feature_dim={self.feature_dim})'
