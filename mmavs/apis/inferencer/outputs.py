# Copyright (c) mmavs contributors. All rights reserved.
"""What the inferencer makes of the model's predictions: masks at the frame
size, mask PNGs, the overlay video and the JSON summary.

The model predicts at its input size; logits are resized bilinearly to the
frame size (as mmseg's ``postprocess_result`` does, one frame at a time so
that memory does not grow with the batch) and thresholded (one output
channel) or arg-maxed (classes). The overlay video has every frame of the
input, at its times, with the mask of the window the frame falls in
(``fps='all'``: its own mask), and the input's sound re-encoded as AAC.
"""
import os.path as osp
from dataclasses import dataclass
from typing import (Any, Callable, Dict, Iterator, List, Optional, Sequence,
                    Set, Tuple)

import cv2
import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.fileio import dump
from mmengine.utils import mkdir_or_exist

from mmavs.datasets.errors import VideoReadError
from mmavs.datasets.video_io import VideoFrame
from mmavs.datasets.video_writer import write_video
from mmavs.visualization import check_display
from .sampling import window_of
from .sources import InputSource

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
        progress (bool): A progress bar over the frames drawn. Defaults to
            False.
    """

    pred_out_dir: str = 'masks'
    img_out_dir: str = ''
    save_overlay: bool = True
    save_summary: bool = True
    show: bool = False
    wait_time: float = 0.0
    return_vis: bool = False
    progress: bool = False

    def needs_frames(self, writes_files: bool) -> bool:
        """Whether the input must be decoded again to draw overlays."""
        return bool(self.show or self.return_vis or writes_files and (
            self.save_overlay or self.img_out_dir))


def overlay_frames(
        source: InputSource, masks: np.ndarray, frame_indices: np.ndarray,
        fps, draw: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> Iterator[Tuple[VideoFrame, np.ndarray, Optional[np.ndarray], int]]:
    """Decode the input again and draw each frame's mask on it.

    Frames that were not sampled (``fps`` below the frame rate) show the
    mask of the window they fall in, so an overlay video built from them
    has the input's frames, timing and duration.

    Args:
        source (InputSource): The input.
        masks (np.ndarray): uint8 [N, H, W], one per sample.
        frame_indices (np.ndarray): [N] the frame each sample was taken
            from.
        fps (float | str): The sampling rate the masks were made at.
        draw (Callable): ``draw(bgr_frame, mask) -> rgb_overlay``.

    Yields:
        tuple: The frame, its overlay (RGB), and, when it is the frame a
        sample was taken from, that sample's overlay (with the sample's own
        mask) and index; else None and -1.
    """
    last = len(masks) - 1
    own: Dict[int, int] = {}
    for k, index in enumerate(frame_indices):
        own.setdefault(int(index), k)
    for frame in source.frames():
        if frame.image.shape[:2] != masks.shape[1:]:
            # Past the last sampled frame, nothing else has looked.
            raise VideoReadError(
                f'{source.label}: the frame size changes from '
                f'{masks.shape[1:]} to {frame.image.shape[:2]} (H, W) at '
                f'frame {frame.index}; a video must keep one size')
        if fps == 'all':
            k = min(frame.index, last)
        else:
            k = min(window_of(frame.time, fps), last)
        overlay = draw(frame.image, masks[k])
        sample = own.get(frame.index, -1)
        if sample < 0:
            yield frame, overlay, None, -1
        else:
            yield frame, overlay, overlay if sample == k else draw(
                frame.image, masks[sample]), sample


def write_outputs(folder: Optional[str],
                  source: InputSource,
                  result: dict,
                  draw: Callable[[np.ndarray, np.ndarray], np.ndarray],
                  palette: Optional[Sequence[Sequence[int]]] = None,
                  options: OutputOptions = OutputOptions()) -> Dict[str, Any]:
    """Write (and show) one input's outputs.

    Mask PNGs go to ``folder/<pred_out_dir>/<k>.png``, the overlay video to
    ``folder/overlay.mp4``, the overlays of the segmented frames to
    ``folder/<img_out_dir>/<k>.png`` and the summary to
    ``folder/summary.json``; the overlays are drawn in one more decoding
    pass, which also feeds ``show`` and ``return_vis``.

    Args:
        folder (str, optional): The input's output folder; None writes no
            file (for ``show`` / ``return_vis`` alone).
        source (InputSource): The input.
        result (dict): Its result (``masks``, ``frame_indices``, ``fps``,
            ``frame_rate``, ``summary``, ``name``).
        draw (Callable): ``draw(bgr_frame, mask) -> rgb_overlay``.
        palette (Sequence[Sequence[int]], optional): Colours of class masks;
            None writes 0/255 binary masks.
        options (OutputOptions): What to write and show.

    Returns:
        dict: ``dir`` and, as written, ``masks`` (list of paths),
        ``overlay``, ``images`` (list of paths) and ``summary``; with
        ``return_vis`` also ``visualization`` (the overlays, not a file).

    Raises:
        OSError: A file cannot be written.
    """
    files: Dict[str, Any] = dict(dir=folder)
    masks = result['masks']
    if folder is not None:
        mkdir_or_exist(folder)
        if options.pred_out_dir:
            files['masks'] = [
                _write_image(
                    osp.join(folder, options.pred_out_dir, f'{k:06d}.png'),
                    mask_image(mask, palette), 'mask')
                for k, mask in enumerate(masks)
            ]
    writes_files = folder is not None
    if len(masks) and options.needs_frames(writes_files):
        if options.show:
            check_display(window=WINDOW_NAME)
        images, shown = [], []
        frames = overlay_frames(source, masks, result['frame_indices'],
                                result['fps'], draw)
        if options.progress:
            from tqdm import tqdm
            frames = tqdm(frames, total=source.declared_frames,
                          desc=f'{result["name"]}: drawing', unit='frame')

        def drawn():
            for frame, overlay, own, k in frames:
                if own is not None:
                    if writes_files and options.img_out_dir:
                        images.append(_write_image(
                            osp.join(folder, options.img_out_dir,
                                     f'{k:06d}.png'), own[..., ::-1],
                            'overlay image'))
                    if options.show:
                        cv2.imshow(WINDOW_NAME, own[..., ::-1])
                        cv2.waitKey(int(options.wait_time * 1000))
                    if options.return_vis:
                        shown.append(own)
                yield overlay, frame.time

        if writes_files and options.save_overlay:
            files['overlay'] = write_video(
                osp.join(folder, 'overlay.mp4'), drawn(),
                result['frame_rate'] or 25.0, source.audio)
        else:
            for _ in drawn():
                pass
        if images:
            files['images'] = images
        if options.return_vis:
            files['visualization'] = np.stack(shown)
    if writes_files and options.save_summary:
        files['summary'] = osp.join(folder, 'summary.json')
        summary = dict(result['summary'])
        if 'masks' in files:
            # New frame entries: the caller's result stays as it was.
            summary['frames'] = [
                dict(entry, mask_file=osp.relpath(path, folder))
                for entry, path in zip(summary['frames'], files['masks'])
            ]
        dump(summary, files['summary'], indent=1)
    return files


def _write_image(path: str, image: np.ndarray, what: str) -> str:
    # mmcv's file backends create the folder.
    if not mmcv.imwrite(image, path):
        raise OSError(f'{path}: cannot write the {what}')
    return path


def build_result(preds: Dict[str, Any], num_frames_per_clip: int,
                 classes: Sequence[str]) -> dict:
    """One input's result: its per-frame outputs stacked, and its facts.

    Args:
        preds (dict): ``masks``, ``scores`` (lists of [H, W] arrays),
            ``samples`` (list of :class:`~.sampling.FrameSample`),
            ``frame_size`` and the input's facts (``name``, ``source``,
            ``duration``, ``frame_rate``, ``num_video_frames``, ``fps``,
            ``num_padded``, ``audio_silent``).
        num_frames_per_clip (int): T of the model's clips.
        classes (Sequence[str]): Class names.

    Returns:
        dict: With

        - ``masks`` (np.ndarray): uint8 [N, H, W], 0/1 or class ids, at
          the frame size (N = sampled frames).
        - ``scores`` (np.ndarray): float16 [N, H, W], the foreground
          probability (one output channel) or the top class probability.
        - ``timestamps`` (np.ndarray): float64 [N], presentation time (s)
          of each frame.
        - ``frame_indices`` (np.ndarray): int64 [N], the frames' positions
          in the input.
        - ``audio_centres`` (np.ndarray): float64 [N], centre (s) of each
          frame's 0.96 s audio window.
        - ``name``, ``source``, ``frame_size`` (H, W), ``duration`` (s),
          ``frame_rate``, ``num_video_frames``, ``fps``,
          ``num_frames_per_clip``, ``num_padded`` (padding frames the
          model saw), ``audio_silent``, ``classes`` and ``summary`` (see
          :func:`summarize`).
    """
    samples = preds['samples']
    height, width = preds['frame_size']
    masks = np.stack(preds['masks']) if preds['masks'] else np.zeros(
        (0, height, width), np.uint8)
    scores = np.stack(preds['scores']) if preds['scores'] else np.zeros(
        (0, height, width), np.float16)
    result = dict(
        name=preds['name'],
        source=preds['source'],
        masks=masks,
        scores=scores,
        timestamps=np.array([s.time for s in samples], dtype=np.float64),
        frame_indices=np.array([s.frame_index for s in samples],
                               dtype=np.int64),
        audio_centres=np.array([s.centre for s in samples],
                               dtype=np.float64),
        frame_size=(height, width),
        duration=preds['duration'],
        frame_rate=preds['frame_rate'],
        num_video_frames=preds['num_video_frames'],
        fps=preds['fps'],
        num_frames_per_clip=num_frames_per_clip,
        num_padded=preds['num_padded'],
        audio_silent=preds['audio_silent'],
        classes=tuple(classes))
    result['summary'] = summarize(result)
    return result


def _areas(fractions: np.ndarray, names: List[str]) -> Dict[str, float]:
    # Every sounding class, zeros included: a frame where nothing sounds
    # reads {"foreground": 0.0}, not {}.
    return {
        names[c]: round(float(fractions[c]), 6)
        for c in range(1, len(names))
    }


def summarize(result: dict) -> dict:
    """A JSON-ready summary: how much of the picture sounds, when.

    Args:
        result (dict): A result of :class:`~mmavs.apis.AVSInferencer`
            (``masks`` [N, H, W], ``timestamps``, ``frame_indices``,
            ``classes``, ...).

    Returns:
        dict: ``name``, ``source``, ``duration``, ``frame_size``,
        ``frame_rate``, ``fps``, ``num_frames``, ``classes``,
        ``audio_silent``; ``per_second``: one entry per second that has
        sampled frames, ``{"second": k, "num_frames": n, "area": {class:
        fraction}}`` with the mean fraction of the frame covered by each
        sounding (non-background) class over the frames of
        ``[k, k + 1)`` s (every class but the background, zeros
        included); ``frames``: per
        sampled frame its ``frame_index``, ``time`` and ``area``.
    """
    classes = list(result['classes'])
    masks = result['masks']
    num_classes = max(len(classes), int(masks.max()) + 1 if masks.size else 0)
    names = classes + [f'class_{i}' for i in range(len(classes), num_classes)]
    frames, per_second = [], {}
    for mask, time, index in zip(masks, result['timestamps'],
                                 result['frame_indices']):
        counts = np.bincount(mask.ravel(), minlength=num_classes)
        fractions = counts / float(max(mask.size, 1))
        frames.append(
            dict(
                frame_index=int(index),
                time=round(float(time), 6),
                area=_areas(fractions, names)))
        per_second.setdefault(int(np.floor(time)), []).append(fractions)
    seconds = [
        dict(
            second=second,
            num_frames=len(per_second[second]),
            area=_areas(np.mean(per_second[second], axis=0), names))
        for second in sorted(per_second)
    ]
    return dict(
        name=result['name'],
        source=result['source'],
        duration=None if result['duration'] is None else round(
            float(result['duration']), 6),
        frame_size=list(result['frame_size']),
        frame_rate=None if result['frame_rate'] is None else round(
            float(result['frame_rate']), 6),
        fps=result['fps'],
        num_frames=int(len(masks)),
        classes=classes,
        audio_silent=bool(result['audio_silent']),
        per_second=seconds,
        frames=frames)
