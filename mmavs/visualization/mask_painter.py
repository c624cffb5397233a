# Copyright (c) mmavs contributors. All rights reserved.
"""Draw one mask on many frames, fast: the overlay video's painter.

At ``fps=1`` every mask is drawn on about 25 frames of its second, so the
work that depends only on the mask (its colour layer, the region, the
outlines) is done once, and each frame costs one blend of the masked
pixels and the outlines, in uint8 with OpenCV (which releases the GIL, so
painting runs beside the model). The result is what :func:`overlay_mask`
draws, to within one grey level (OpenCV rounds where it truncates).
"""
from typing import Sequence

import cv2
import numpy as np

from mmavs.datasets.metainfo import BINARY_PALETTE


class MaskPainter:
    """A mask, ready to be drawn on frames of its size.

    Args:
        mask (np.ndarray): uint8 [H, W] class ids; 0 (background) and
            ``ignore_index`` are not drawn.
        palette (Sequence[Sequence[int]]): RGB colour per class id (ids
            past its end take the binary foreground colour).
        alpha (float): Opacity of the colour. Defaults to 0.5.
        channel_order (str): Order of the frames' channels, ``'bgr'``
            (OpenCV, the decoder's) or ``'rgb'``. Defaults to ``'bgr'``.
        ignore_index (int): Undrawn label. Defaults to 255.

    Examples:
        >>> painter = MaskPainter(mask, palette)
        >>> overlays = [painter.draw(frame) for frame in frames]
    """

    def __init__(self,
                 mask: np.ndarray,
                 palette: Sequence[Sequence[int]],
                 alpha: float = 0.5,
                 channel_order: str = 'bgr',
                 ignore_index: int = 255) -> None:
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f"channel_order must be 'bgr' or 'rgb', got "
                             f'{channel_order!r}')
        mask = np.asarray(mask)
        self.shape = mask.shape[:2]
        self.alpha = float(alpha)
        ids = np.flatnonzero(np.bincount(mask.ravel(), minlength=1))
        self.region = np.zeros(self.shape, np.uint8)
        self.colours = np.zeros(self.shape + (3, ), np.uint8)
        self.outlines = []
        for class_id in ids.tolist():
            if class_id in (0, ignore_index):
                continue
            colour = palette[class_id] if class_id < len(palette) else \
                BINARY_PALETTE[1]
            colour = tuple(int(c) for c in colour)
            if channel_order == 'bgr':
                colour = colour[::-1]
            region = (mask == class_id).astype(np.uint8)
            self.region |= region
            self.colours[region.astype(bool)] = colour
            contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL,
                                           cv2.CHAIN_APPROX_NONE)
            self.outlines.append((contours, colour))
        self.empty = not self.outlines

    def draw(self, frame: np.ndarray) -> np.ndarray:
        """The frame with the mask drawn on it.

        Args:
            frame (np.ndarray): uint8 [H, W, 3] in the painter's channel
                order, the mask's size.

        Returns:
            np.ndarray: A new uint8 [H, W, 3] image (the frame is not
            changed).

        Raises:
            ValueError: The frame is not the mask's size.
        """
        if frame.shape[:2] != self.shape:
            raise ValueError(f'the frame is {frame.shape[:2]} (H, W), the '
                             f'mask {self.shape}')
        out = frame.copy()
        if self.empty:
            return out
        blended = cv2.addWeighted(frame, 1 - self.alpha, self.colours,
                                  self.alpha, 0)
        cv2.copyTo(blended, self.region, out)
        for contours, colour in self.outlines:
            cv2.drawContours(out, contours, -1, colour, 1)
        return out
