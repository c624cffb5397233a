# Copyright (c) mmavs contributors. All rights reserved.
"""Draw clips: frames, ground truth and prediction, one column per frame."""
from typing import List, Optional, Sequence

import cv2
import numpy as np
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

from mmavs.datasets.metainfo import BINARY_PALETTE


def overlay_mask(image: np.ndarray,
                 label: np.ndarray,
                 palette: Sequence[Sequence[int]],
                 alpha: float = 0.5,
                 ignore_index: int = 255) -> np.ndarray:
    """Blend a label map onto an RGB image and outline every region.

    Args:
        image (np.ndarray): [H, W, 3] uint8 RGB.
        label (np.ndarray): [H, W] ints; 0 (background) and ``ignore_index``
            are left undrawn.
        palette (Sequence): RGB colour per class id.
        alpha (float): Opacity of the colour. Defaults to 0.5.
        ignore_index (int): Label of unlabelled pixels. Defaults to 255.

    Returns:
        np.ndarray: [H, W, 3] uint8 RGB.
    """
    out = image.astype(np.float32).copy()
    # mmseg stores binary predictions as floats.
    label = np.asarray(label).astype(np.int64)
    for class_id in np.unique(label).tolist():
        if class_id in (0, ignore_index):
            continue
        region = label == class_id
        color = np.asarray(
            palette[class_id] if class_id < len(palette) else
            BINARY_PALETTE[1], dtype=np.float32)
        out[region] = (1 - alpha) * out[region] + alpha * color
        contours, _ = cv2.findContours(
            region.astype(np.uint8), cv2.RETR_EXTERNAL,
            cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, tuple(float(c) for c in color), 1)
    return out.clip(0, 255).astype(np.uint8)


@VISUALIZERS.register_module()
class AVSLocalVisualizer(SegLocalVisualizer):
    """mmseg's ``SegLocalVisualizer`` plus :meth:`add_clip` for clips.

    A clip is drawn as a grid: the frames in the first row, the ground truth
    over the frames in the second (unlabelled frames stay plain) and the
    prediction in the third. Frames smaller than ``min_size`` pixels are
    enlarged so that small inputs stay readable. Images go to every
    configured backend (local files, TensorBoard, ...).

    Args:
        name (str): Instance name (mmengine visualizers are named
            singletons). Defaults to ``'visualizer'``.
        min_size (int): Shorter side, in pixels, below which frames are
            enlarged (nearest neighbour). Defaults to 160.
        **kwargs: Arguments of
            :class:`~mmseg.visualization.SegLocalVisualizer`.
    """

    def __init__(self, name: str = 'visualizer', min_size: int = 160,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.min_size = min_size

    def draw_clip(self,
                  frames: List[np.ndarray],
                  samples: List[SegDataSample],
                  draw_gt: bool = True,
                  draw_pred: bool = True) -> np.ndarray:
        """Compose the grid image of one clip.

        Args:
            frames (list[np.ndarray]): T RGB frames [H, W, 3] uint8 at the
                samples' ``ori_shape``.
            samples (list[SegDataSample]): T frame samples with
                ``gt_sem_seg`` and/or ``pred_sem_seg``.
            draw_gt (bool): Draw the ground-truth row. Defaults to True.
            draw_pred (bool): Draw the prediction row. Defaults to True.

        Returns:
            np.ndarray: RGB image [rows * H, T * W, 3].
        """
        palette = (self.dataset_meta or {}).get('palette')
        if not palette:
            palette = BINARY_PALETTE
        scale = max(1, -(-self.min_size // min(frames[0].shape[:2])))
        frames = [
            cv2.resize(frame, None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_NEAREST) if scale > 1 else frame
            for frame in frames
        ]
        rows = [[frame for frame in frames]]
        for key, wanted in (('gt_sem_seg', draw_gt),
                            ('pred_sem_seg', draw_pred)):
            if not wanted or not all(key in s for s in samples):
                continue
            row = []
            for frame, sample in zip(frames, samples):
                label = getattr(sample, key).data[0].cpu().numpy()
                if label.shape != frame.shape[:2]:
                    label = cv2.resize(
                        label.astype(np.uint8),
                        frame.shape[1::-1],
                        interpolation=cv2.INTER_NEAREST)
                row.append(overlay_mask(frame, label, palette, self.alpha))
            rows.append(row)
        return np.concatenate([np.concatenate(row, axis=1) for row in rows],
                              axis=0)

    def add_clip(self,
                 name: str,
                 frames: List[np.ndarray],
                 samples: List[SegDataSample],
                 step: int = 0,
                 out_file: Optional[str] = None) -> np.ndarray:
        """Draw a clip and send it to the backends (and ``out_file``).

        Args:
            name (str): Image name in the backends.
            frames (list[np.ndarray]): T RGB frames.
            samples (list[SegDataSample]): T frame samples.
            step (int): Global step. Defaults to 0.
            out_file (str, optional): Also write the grid to this file.

        Returns:
            np.ndarray: The drawn RGB grid.
        """
        grid = self.draw_clip(frames, samples)
        if out_file is not None:
            cv2.imwrite(out_file, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
        self.add_image(name, grid, step)
        return grid
