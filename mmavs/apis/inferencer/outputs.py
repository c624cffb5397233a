# Copyright (c) mmavs contributors. All rights reserved.
"""What the inferencer makes of the model's predictions: masks at the frame
size, mask images and the JSON summary.

The model predicts at its input size; logits are resized bilinearly to the
frame size (as mmseg's ``postprocess_result`` does, one frame at a time so
that memory does not grow with the batch) and thresholded (one output
channel) or arg-maxed (classes). The summary is built as frames come
(:class:`SummaryBuilder`); the files are written by
:mod:`.writers`.
"""
import json
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Set, TextIO, Tuple

import numpy as np
import torch
import torch.nn.functional as F

#: The window ``show=True`` draws in.
WINDOW_NAME = 'mmavs'


def prediction_to_frame(pred,
                        size: Tuple[int, int],
                        align_corners: bool = False,
                        threshold: Optional[float] = None
                        ) -> Tuple[np.ndarray, np.ndarray]:
    """Resize one frame's prediction to the frame size; mask and score.

    For one output channel the model returns sigmoid probabilities; they
    are turned back into logits so that resizing, sigmoid and threshold
    happen in mmseg's order (the clamp only touches saturated pixels, far
    from the threshold).

    Args:
        pred (SegDataSample): A frame prediction with ``seg_logits``
            [C, h, w].
        size (tuple[int, int]): The frame's (H, W).
        align_corners (bool): As the model's decode head. Defaults to
            False.
        threshold (float, optional): Foreground threshold of one-channel
            models. Defaults to 0.5.

    Returns:
        tuple[np.ndarray, np.ndarray]: uint8 [H, W] mask (0/1 or class
        ids) and float16 [H, W] score (foreground or top-class
        probability).
    """
    logits = pred.seg_logits.data.float()
    binary = logits.shape[0] == 1
    if binary:
        eps = 1e-6
        logits = torch.logit(logits.clamp(eps, 1 - eps))
    if tuple(logits.shape[-2:]) != tuple(size):
        logits = F.interpolate(
            logits[None],
            size=tuple(size),
            mode='bilinear',
            align_corners=align_corners)[0]
    if binary:
        probability = logits[0].sigmoid()
        mask = probability > (0.5 if threshold is None else threshold)
        score = probability
    else:
        mask = logits.argmax(dim=0)
        score = logits.softmax(dim=0).max(dim=0).values
    return (mask.to(torch.uint8).cpu().numpy(),
            score.to(torch.float16).cpu().numpy())


def unique_name(name: str, used: Set[str]) -> str:
    """``name``, or ``name_1``, ``name_2``, ... when taken; the result is
    added to ``used``.

    Args:
        name (str): Wanted name (of an output folder).
        used (set[str]): Names given out so far; updated.

    Returns:
        str: A name not in ``used`` before the call.
    """
    unique, count = name, 0
    while unique in used:
        count += 1
        unique = f'{name}_{count}'
    used.add(unique)
    return unique


def mask_image(mask: np.ndarray,
               palette: Optional[Sequence[Sequence[int]]] = None
               ) -> np.ndarray:
    """A mask as AVSBench stores ground truth.

    Args:
        mask (np.ndarray): uint8 [H, W], 0/1 or class ids.
        palette (Sequence[Sequence[int]], optional): RGB colour per class;
            None for binary masks.

    Returns:
        np.ndarray: uint8 [H, W] 0/255 (binary, S4/MS3 format) or
        [H, W, 3] BGR palette colours (AVSS format).
    """
    if palette is None:
        return mask * np.uint8(255)
    colours = np.asarray(palette, np.uint8)
    return colours[np.minimum(mask, len(colours) - 1)][..., ::-1]


#: x264 preset of overlay videos: see docs/benchmark.md for speed and size.
OVERLAY_PRESET = 'superfast'


@dataclass
class OutputOptions:
    """What the inferencer writes and shows for each input.

    Attributes:
        pred_out_dir (str): Sub-folder of the input's folder for the mask
            PNGs; ``''`` writes none. Defaults to ``'masks'``.
        img_out_dir (str): Sub-folder for the overlay of each segmented
            frame as a PNG (``mmseg``'s visualisations); ``''`` (default)
            writes none: the overlay video shows them all.
        save_overlay (bool): Write ``overlay.mp4``. Defaults to True.
        save_summary (bool): Write ``summary.json``. Defaults to True.
        show (bool): Show each segmented frame's overlay in a window as it
            is drawn. Defaults to False.
        wait_time (float): Seconds each shown frame stays; 0 waits for a
            key. Defaults to 0.
        return_vis (bool): Return the overlays of the segmented frames
            (``visualization``, uint8 [N, H, W, 3] RGB). Defaults to False.
        progress (bool): A progress bar over the segmented frames. Defaults
            to False.
        overlay_preset (str): x264 preset of the overlay video (speed
            against size: see
            :class:`~mmavs.datasets.video_writer.VideoWriter`). Defaults
            to :data:`OVERLAY_PRESET`.
    """

    pred_out_dir: str = 'masks'
    img_out_dir: str = ''
    save_overlay: bool = True
    save_summary: bool = True
    show: bool = False
    wait_time: float = 0.0
    return_vis: bool = False
    progress: bool = False
    overlay_preset: str = OVERLAY_PRESET

    def needs_own_overlays(self, writes_files: bool) -> bool:
        """Whether each segmented frame's own overlay is drawn (to show,
        return or save it)."""
        return bool(self.show or self.return_vis
                    or writes_files and self.img_out_dir)


@dataclass
class SegmentedFrame:
    """One segmented frame, as :meth:`AVSInferencer.iter_frames` yields it.

    Attributes:
        index (int): Its position among the input's segmented frames.
        frame_index (int): The frame's position in the input.
        time (float): Its presentation time (s).
        audio_centre (float): Centre (s) of its 0.96 s audio window.
        mask (np.ndarray): uint8 [H, W] at the frame size: 0/1, or class
            ids.
        score (np.ndarray): float16 [H, W]: the foreground probability (one
            output channel) or the top class probability.
        data_sample (SegDataSample, optional): The model's prediction (at
            its input size), when asked for.
        visualization (np.ndarray, optional): uint8 [H, W, 3] RGB, the
            frame with its mask drawn on it, when asked for (``show``,
            ``return_vis``, ``img_out_dir``).
    """

    index: int
    frame_index: int
    time: float
    audio_centre: float
    mask: np.ndarray
    score: np.ndarray
    data_sample: object = None
    visualization: Optional[np.ndarray] = None


def area_fractions(mask: np.ndarray, num_classes: int) -> np.ndarray:
    """The fraction of the frame each class covers.

    Args:
        mask (np.ndarray): uint8 [H, W] class ids.
        num_classes (int): Classes to count (at least).

    Returns:
        np.ndarray: float64 [max(num_classes, mask.max() + 1)].
    """
    counts = np.bincount(mask.ravel(), minlength=num_classes)
    return counts / float(max(mask.size, 1))


def _areas(fractions: np.ndarray, names: List[str]) -> Dict[str, float]:
    # Every sounding class, zeros included: a frame where nothing sounds
    # reads {"foreground": 0.0}, not {}.
    return {
        names[c]: round(float(fractions[c]) if c < len(fractions) else 0.0,
                        6)
        for c in range(1, len(names))
    }


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(float(value), 6)


class SummaryBuilder:
    """The JSON summary of an input, built as its frames are segmented.

    The summary tells how much of the picture sounds, when: ``name``,
    ``source``, ``duration``, ``frame_size``, ``frame_rate``, ``fps``,
    ``num_frames``, ``classes``, ``audio_silent``, ``complete`` (False for a
    run that stopped early, with ``error`` saying why); ``per_second``: one
    entry per second that has segmented frames, ``{"second": k,
    "num_frames": n, "area": {class: fraction}}`` with the mean fraction of
    the frame covered by each sounding (non-background) class over the
    frames of ``[k, k + 1)`` s (zeros included); ``frames``: per segmented
    frame its ``frame_index``, ``time``, ``area`` (and ``mask_file`` when
    masks are written).

    The per-second sums are kept (a few numbers per second); the per-frame
    entries go to ``frames_file`` as they come (or are kept, for a result
    that holds them anyway), so memory does not grow with the frames.

    Args:
        classes (Sequence[str]): Class names (the first is the background).
        frames_file (str, optional): Where per-frame entries wait, one JSON
            line each, until :meth:`write`.
        keep_frames (bool): Keep the per-frame entries for :meth:`summary`.
            Defaults to False.
    """

    def __init__(self,
                 classes: Sequence[str],
                 frames_file: Optional[str] = None,
                 keep_frames: bool = False) -> None:
        self.names = list(classes)
        self.num_frames = 0
        self.frames: Optional[List[dict]] = [] if keep_frames else None
        self._seconds: Dict[int, List] = {}
        self._frames_file = frames_file
        self._lines: Optional[TextIO] = None
        if frames_file is not None:
            self._lines = open(frames_file, 'w', encoding='utf-8')

    def add(self,
            mask: np.ndarray,
            time: float,
            frame_index: int,
            mask_file: Optional[str] = None) -> dict:
        """Count one segmented frame.

        Args:
            mask (np.ndarray): uint8 [H, W] class ids.
            time (float): Its time (s).
            frame_index (int): Its position in the input.
            mask_file (str, optional): Its mask image, relative to the
                summary.

        Returns:
            dict: Its entry in ``frames``.
        """
        fractions = area_fractions(mask, len(self.names))
        while len(self.names) < len(fractions):
            self.names.append(f'class_{len(self.names)}')
        entry = dict(frame_index=int(frame_index), time=_round(time),
                     area=_areas(fractions, self.names))
        if mask_file is not None:
            entry['mask_file'] = mask_file
        second = int(np.floor(time))
        count, total = self._seconds.get(second, (0, 0.0))
        self._seconds[second] = (count + 1, total + fractions)
        self.num_frames += 1
        if self.frames is not None:
            self.frames.append(entry)
        if self._lines is not None:
            self._lines.write(json.dumps(entry) + '\n')
        return entry

    def summary(self, facts: dict, complete: bool = True,
                error: Optional[str] = None) -> dict:
        """The summary, without the per-frame entries unless kept.

        Args:
            facts (dict): ``name``, ``source``, ``duration``,
                ``frame_size``, ``frame_rate``, ``fps``, ``audio_silent``.
            complete (bool): Whether every frame was segmented.
            error (str, optional): Why the run stopped early.

        Returns:
            dict: See the class docstring.
        """
        summary = dict(
            name=facts['name'],
            source=facts['source'],
            duration=_round(facts.get('duration')),
            frame_size=list(facts.get('frame_size') or (0, 0)),
            frame_rate=_round(facts.get('frame_rate')),
            fps=facts.get('fps'),
            num_frames=self.num_frames,
            classes=list(self.names),
            audio_silent=bool(facts.get('audio_silent')),
            complete=bool(complete))
        if error is not None:
            summary['error'] = error
        summary['per_second'] = [
            dict(second=second, num_frames=count,
                 area=_areas(total / count, self.names))
            for second, (count, total) in sorted(self._seconds.items())
        ]
        if self.frames is not None:
            summary['frames'] = list(self.frames)
        return summary

    def write(self, path: str, summary: dict) -> str:
        """Write ``summary`` with the per-frame entries to ``path``.

        Args:
            path (str): The JSON file.
            summary (dict): What :meth:`summary` returned.

        Returns:
            str: ``path``.

        Raises:
            OSError: The file cannot be written; the message names it.
        """
        head = {k: v for k, v in summary.items() if k != 'frames'}
        try:
            if self._lines is not None:
                self._lines.close()
            with open(path, 'w', encoding='utf-8') as out:
                # The per-frame entries are copied line by line from their
                # file: a summary of any length is written in constant
                # memory.
                out.write(json.dumps(head, indent=1)[:-2] + ',\n "frames": [')
                first = True
                lines = open(self._frames_file, encoding='utf-8') \
                    if self._frames_file else (
                        json.dumps(entry) for entry in self.frames or [])
                for line in lines:
                    out.write(('\n  ' if first else ',\n  ') +
                              line.rstrip('\n'))
                    first = False
                if self._frames_file:
                    lines.close()
                out.write('\n ]\n}\n')
        except OSError as error:
            raise OSError(f'{path}: cannot write the summary '
                          f'({error})') from error
        finally:
            self.discard()
        return path

    def discard(self) -> None:
        """Close and remove the per-frame entries' file."""
        if self._lines is not None and not self._lines.closed:
            self._lines.close()
        if self._frames_file and os.path.exists(self._frames_file):
            os.remove(self._frames_file)
