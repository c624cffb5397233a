# Copyright (c) mmavs contributors. All rights reserved.
"""Apply ordinary image transforms to every frame of a clip alike."""
import random
from contextlib import nullcontext
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_random_params
from mmseg.registry import TRANSFORMS

from ..errors import AVSDataError

#: Per-clip lists that a wrapped image transform must not see.
CLIP_LIST_KEYS = ('imgs', 'gt_seg_maps', 'frame_paths', 'seg_map_paths',
                  'label_flags', 'frame_valid', 'audio')


@TRANSFORMS.register_module()
class ClipTransform(BaseTransform):
    """Run single-image mmseg/mmcv transforms on every frame of a clip.

    Each frame is handed to the wrapped transforms as an ordinary mmseg
    result dict (``img``, ``gt_seg_map`` when the masks are loaded, and the
    clip's scalar keys such as ``img_shape``), so ``Resize``,
    ``RandomResize``, ``RandomCrop``, ``RandomFlip``, ``CenterCrop``,
    ``PhotoMetricDistortion``, ... work unchanged. Unlabelled frames carry a
    mask of 255 that goes through the same geometry and stays 255.

    With ``share_random_params`` (the default) all frames get the same random
    parameters, in two ways: methods marked ``@cache_randomness`` (crop box,
    flip direction, random scale) are cached for the clip by
    :func:`mmcv.transforms.utils.cache_random_params`, and before each
    wrapped transform the global numpy and Python random states are rewound
    to what they were for the first frame, which covers transforms that draw
    numbers inline (``PhotoMetricDistortion``). (A single transform that
    draws from a cached method and then inline is not supported.) After the
    clip the random states continue from where the first frame left them,
    so consecutive clips still differ.

    Masks may be loaded before (train: they follow the frames' geometry) or
    after this transform (mmseg test convention: masks stay at the original
    size).

    Required Keys:

    - imgs (list[np.ndarray])
    - gt_seg_maps (list[np.ndarray], optional)
    - the keys the wrapped transforms require (e.g. ``img_shape``)

    Modified Keys:

    - imgs
    - gt_seg_maps (optional)
    - img_shape
    - the keys the wrapped transforms add or modify (``scale``,
      ``scale_factor``, ``keep_ratio``, ``flip``, ``flip_direction``, ...),
      taken from the first frame

    Args:
        transforms (Sequence[dict | callable]): Image transforms (configs or
            objects) applied in order to each frame.
        share_random_params (bool): Same random parameters for all frames.
            Defaults to True.

    Examples:
        >>> t = ClipTransform(transforms=[
        ...     dict(type='Resize', scale=(224, 224), keep_ratio=False),
        ...     dict(type='RandomFlip', prob=0.5)])
    """

    def __init__(self,
                 transforms: Sequence[Union[dict, Callable]],
                 share_random_params: bool = True) -> None:
        self.transforms: List[Callable] = []
        for transform in transforms:
            if isinstance(transform, dict):
                transform = TRANSFORMS.build(transform)
            if not callable(transform):
                raise TypeError('ClipTransform expects transform configs or '
                                f'callables, got {type(transform)}')
            self.transforms.append(transform)
        self.share_random_params = share_random_params

    @staticmethod
    def _random_states():
        return np.random.get_state(), random.getstate()

    @staticmethod
    def _set_random_states(states) -> None:
        np.random.set_state(states[0])
        random.setstate(states[1])

    def _run(self, frame_results: dict, states: Optional[list], record: bool):
        """Run the wrapped transforms on one frame.

        With ``states``, the random state before each wrapped transform is
        recorded (first frame, ``record``) or restored (later frames). Doing
        it per transform, not once per frame, keeps the inline draws aligned
        when an earlier transform's draws come from the cache and consume
        nothing on later frames.
        """
        for index, transform in enumerate(self.transforms):
            if states is not None:
                if record:
                    states.append(self._random_states())
                else:
                    self._set_random_states(states[index])
            frame_results = transform(frame_results)
            if frame_results is None:
                return None
        return frame_results

    def transform(self, results: dict):
        """Transform every frame; see the class docstring for the keys.

        Returns:
            dict | None: The clip results, or None when a wrapped transform
            drops the frame (mmengine then fetches another sample).
        """
        imgs = results['imgs']
        masks = results.get('gt_seg_maps')
        if masks is not None and len(masks) != len(imgs):
            raise AVSDataError(
                f'clip "{results.get("clip_name")}": {len(imgs)} frames but '
                f'{len(masks)} masks')
        base = {
            key: value
            for key, value in results.items()
            if key not in CLIP_LIST_KEYS and key != 'seg_fields'
        }
        frames_out = []
        share = self.share_random_params
        states: Optional[list] = [] if share else None
        after_first = None
        with cache_random_params(self.transforms) if share else nullcontext():
            for index, img in enumerate(imgs):
                frame_results = dict(base)
                frame_results['img'] = img
                frame_results['seg_fields'] = []
                if masks is not None:
                    frame_results['gt_seg_map'] = masks[index]
                    frame_results['seg_fields'].append('gt_seg_map')
                frame_results = self._run(frame_results, states, index == 0)
                if frame_results is None:
                    return None
                if index == 0 and share:
                    after_first = self._random_states()
                frames_out.append(frame_results)
        if share:
            self._set_random_states(after_first)

        shapes = {frame['img'].shape for frame in frames_out}
        if len(shapes) != 1:
            raise AVSDataError(
                f'clip "{results.get("clip_name")}": frames have different '
                f'shapes after {self.transforms} ({sorted(shapes)}); use '
                'share_random_params=True or a fixed output size')
        results['imgs'] = [frame['img'] for frame in frames_out]
        if masks is not None:
            results['gt_seg_maps'] = [
                frame['gt_seg_map'] for frame in frames_out
            ]
        for key, value in frames_out[0].items():
            if key not in ('img', 'gt_seg_map', 'seg_fields'):
                results[key] = value
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(transforms={self.transforms}, '
                f'share_random_params={self.share_random_params})')
