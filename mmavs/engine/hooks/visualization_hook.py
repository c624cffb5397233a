# Copyright (c) mmavs contributors. All rights reserved.
"""Draw validation and test clips."""
import os.path as osp
from typing import List, Optional, Sequence

import mmcv
import numpy as np
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.utils import mkdir_or_exist
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample


def group_clips(samples: Sequence[SegDataSample]) -> List[List[SegDataSample]]:
    """Split clip-major frame samples into clips (by ``sample_idx``)."""
    clips: List[List[SegDataSample]] = []
    for sample in samples:
        index = sample.metainfo.get('sample_idx')
        if clips and clips[-1][0].metainfo.get('sample_idx') == index:
            clips[-1].append(sample)
        else:
            clips.append([sample])
    return clips


def read_frames(samples: Sequence[SegDataSample]) -> List[np.ndarray]:
    """The original RGB frames of a clip; black where a frame is padding.

    Padded frames take the size of the clip's real frames (their
    ``ori_shape`` may be the network input size, e.g. in the release
    configs), so that the frames of a clip can be drawn side by side.
    """
    frames: List[Optional[np.ndarray]] = []
    for sample in samples:
        path = sample.metainfo.get('img_path')
        if path and sample.metainfo.get('frame_valid', True):
            frames.append(mmcv.imread(path, channel_order='rgb'))
        else:
            frames.append(None)
    real = [frame for frame in frames if frame is not None]
    shape = real[0].shape if real else (
        *samples[0].metainfo['ori_shape'][:2], 3)
    return [
        frame if frame is not None else np.zeros(shape, np.uint8)
        for frame in frames
    ]


@HOOKS.register_module()
class AVSVisualizationHook(Hook):
    """Draw clips (frames, ground truth, prediction) during val and test.

    Replaces mmseg's ``SegVisualizationHook``, which draws single images and
    fails on padded frames that have no file. Grids go to every backend of
    the runner's visualizer (an
    :class:`~mmavs.visualization.AVSLocalVisualizer`) and, when ``out_dir``
    is set, to ``{work_dir}/{out_dir}`` as PNG files.

    As mmseg's hook: during validation every ``interval``-th batch is
    drawn, during test every batch (``tools/test.py --show-dir`` / ``--show``
    draw the whole test set).

    Args:
        draw (bool): Draw at all. Defaults to False (``tools/test.py
            --show-dir`` and ``--show`` turn it on).
        interval (int): Draw every ``interval``-th validation batch.
            Defaults to 50.
        max_clips (int, optional): Clips drawn per drawn batch; None draws
            all. Defaults to None.
        out_dir (str, optional): Sub-directory of the work dir for PNGs.
        show (bool): Also show each grid in a window. Defaults to False.
        wait_time (float): Seconds a shown grid stays; 0 waits for a key.
            Defaults to 0.
    """

    priority = 'NORMAL'

    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 max_clips: Optional[int] = None,
                 out_dir: Optional[str] = None,
                 show: bool = False,
                 wait_time: float = 0.):
        self.draw = draw
        self.interval = interval
        self.max_clips = max_clips
        self.out_dir = out_dir
        self.show = show
        self.wait_time = wait_time

    def _draw(self, runner: Runner, mode: str, batch_idx: int,
              outputs: Sequence[SegDataSample]) -> None:
        if not self.draw or mode == 'val' and batch_idx % self.interval:
            return
        visualizer = runner.visualizer
        if not hasattr(visualizer, 'add_clip'):
            raise TypeError('AVSVisualizationHook needs an AVSLocalVisualizer '
                            f'(visualizer=dict(type="AVSLocalVisualizer")), '
                            f'got {type(visualizer).__name__}')
        out_dir = None
        if self.out_dir is not None:
            out_dir = osp.join(runner.work_dir, self.out_dir)
            mkdir_or_exist(out_dir)
        for clip in group_clips(outputs)[:self.max_clips]:
            name = f'{mode}_{clip[0].metainfo.get("clip_name", batch_idx)}'
            out_file = osp.join(out_dir, f'{name}.png') if out_dir else None
            grid = visualizer.add_clip(
                name, read_frames(clip), clip,
                step=runner.epoch if mode == 'val' else batch_idx,
                out_file=out_file)
            if self.show:
                visualizer.show(grid, win_name=name,
                                wait_time=self.wait_time)

    def after_val_iter(self, runner: Runner, batch_idx: int, data_batch=None,
                       outputs: Optional[Sequence[SegDataSample]] = None):
        """Draw a validation batch."""
        self._draw(runner, 'val', batch_idx, outputs)

    def after_test_iter(self, runner: Runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence[SegDataSample]] = None):
        """Draw a test batch."""
        self._draw(runner, 'test', batch_idx, outputs)
