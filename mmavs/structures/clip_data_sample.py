# Copyright (c) mmavs contributors. All rights reserved.
"""The data sample of one clip, as the data pipeline hands it to the model."""
from typing import List

from mmengine.structures import BaseDataElement
from mmseg.structures import SegDataSample


class ClipDataSample(BaseDataElement):
    """The annotations and meta information of one clip of T frames.

    A clip is one dataset sample, but mmseg's heads, metrics and visualizers
    work on single images. ``ClipDataSample`` therefore carries one
    :class:`~mmseg.structures.SegDataSample` per frame in ``frames``; the data
    preprocessor flattens a batch of B clips into B*T frame samples (clip
    major) and the model returns one prediction per frame.

    It is deliberately neither a ``Sequence`` nor a ``Mapping``: mmengine's
    ``pseudo_collate`` would transpose a list of per-frame samples into
    [T][B], while it keeps other objects as they are.

    Data fields:
        - ``frames`` (list[SegDataSample]): T frame samples in time order.
          Each carries ``gt_sem_seg`` (``PixelData`` [1, H, W], 255 where the
          frame is unlabelled) and the frame meta information listed in
          :class:`~mmavs.datasets.transforms.PackAVSInputs`.

    Meta fields:
        - ``clip_name`` (str), ``num_frames`` (int), ``sample_idx`` (int).

    Examples:
        >>> from mmseg.structures import SegDataSample
        >>> clip = ClipDataSample(metainfo=dict(clip_name='a', num_frames=2))
        >>> clip.frames = [SegDataSample(), SegDataSample()]
        >>> len(clip)
        2
    """

    @property
    def frames(self) -> List[SegDataSample]:
        return self._frames

    @frames.setter
    def frames(self, value: List[SegDataSample]) -> None:
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(frame, SegDataSample) for frame in value):
            raise TypeError('ClipDataSample.frames must be a list of '
                            f'SegDataSample, got {type(value)}')
        self.set_field(list(value), '_frames', dtype=list)

    @frames.deleter
    def frames(self) -> None:
        del self._frames

    def __len__(self) -> int:
        return len(self._frames) if 'frames' in self else 0

    def to(self, *args, **kwargs) -> 'ClipDataSample':
        """Move every frame sample (and other fields) to a device/dtype."""
        new_clip = super().to(*args, **kwargs)
        if 'frames' in self:
            new_clip.frames = [
                frame.to(*args, **kwargs) for frame in self.frames
            ]
        return new_clip
