# Copyright (c) mmavs contributors. All rights reserved.
"""Segment the sounding objects of a video: :class:`AVSInferencer`.

The stages follow mmengine's ``BaseInferencer``; each input streams through
all of them before the next one starts:

.. code:: text

    __call__(inputs)
     └─ per input: sources.load_source        (InputSource: frames + sound)
         ├─ preprocess  FrameSampler -> test pipeline per frame
         │              -> ClipBatcher        (ClipBatch: collated clips)
         ├─ forward     model.test_step       (B*T frame predictions)
         ├─ InOrder + outputs.prediction_to_frame   (masks at frame size)
         ├─ postprocess                       (the result dict, summary)
         └─ outputs.write_outputs             (masks/, overlay.mp4, json)

What each input kind accepts and rejects is in :mod:`.sources`, how frames
are sampled and paired with sound in :mod:`.sampling`, how they become
clips in :mod:`.batching`, what is written in :mod:`.outputs`. Frames go
through the config's test pipeline (e.g. a resize to 224x224), so any frame
size works.
"""
import os.path as osp
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, \
    Set, Union

import cv2
import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.infer.infer import BaseInferencer
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from tqdm import tqdm

from mmavs.datasets.metainfo import complete_metainfo
from mmavs.visualization import check_display, overlay_mask
from ..model_init import init_model
from .batching import ClipBatch, InOrder, batch_samples, split_test_pipeline
from .configs import eval_dataset_class, load_config
from .outputs import (WINDOW_NAME, OutputOptions, build_result,
                      prediction_to_frame, unique_name, write_outputs)
from .preflight import check_device, check_out_dir
from .sampling import FrameSampler, Rate, parse_fps
from .sources import (InputSource, InputType, check_min_duration,
                      expand_inputs, folder_videos, load_source)

InputsType = Union[InputType, Sequence[InputType]]


class AVSInferencer(BaseInferencer):
    """Segment the sounding objects in videos with an mmavs model.

    In the style of mmseg's ``MMSegInferencer``: built from a config (a
    path, the name of a shipped config, or a ``Config``) and a checkpoint;
    calling it with one or more inputs returns the masks. See the module
    docstring for the stages.

    Inputs (one, or a list): video files with a sound track, folders of
    frames with one sound file, or in-memory arrays; see
    :func:`~mmavs.apis.inferencer.sources.load_source`.

    Args:
        model (str | Config | dict, optional): Config file, name of a shipped
            config (e.g. ``'avsegformer_r50_1xb4-30e_avsbench-s4-224x224'``)
            or config. None reads the config saved in ``weights``.
        weights (str, optional): Checkpoint, loaded safely; it must fit the
            model (else ``CheckpointError``, see
            :func:`mmavs.utils.checkpoint.load_weights`). None runs random
            weights (with a warning): fine for tests, meaningless masks.
        device (str, optional): ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ...
            Defaults to CUDA when available.
        num_frames (int, optional): Frames per clip T. Defaults to the
            config's test data set (5 for S4/MS3, 10 for AVSS).
        classes (Sequence[str], optional): Class names. Defaults to the
            checkpoint's ``dataset_meta``, else the config's data set.
        palette (Sequence[Sequence[int]], optional): RGB colour per class.
            Defaults like ``classes``; binary models draw magenta.
        scope (str): Registry scope. Defaults to ``'mmseg'``.
        show_progress (bool): Show a progress bar per input. Defaults to
            False.

    Examples:
        >>> inferencer = AVSInferencer(
        ...     'avsegformer_r50_1xb4-30e_avsbench-s4-224x224',
        ...     weights='avsegformer_r50_s4.pth', device='cpu')
        >>> result = inferencer('my_video.mp4', fps=1)
        >>> result['masks'].shape   # [N, H, W] uint8, N = sampled frames
    """

    def __init__(self,
                 model: Union[str, Config, dict, None] = None,
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 num_frames: Optional[int] = None,
                 classes: Optional[Sequence[str]] = None,
                 palette: Optional[Sequence[Sequence[int]]] = None,
                 scope: str = 'mmseg',
                 show_progress: bool = False) -> None:
        init_default_scope(scope)
        # Argument errors before the model is built and loaded.
        check_device(device)
        if num_frames is not None and num_frames < 1:
            raise ValueError(f'num_frames must be >= 1, got {num_frames}')
        super().__init__(
            model=load_config(model),
            weights=weights,
            device=device,
            scope=scope,
            show_progress=show_progress)
        if str(next(self.model.parameters()).device) == 'cpu':
            # SyncBN configs cannot run outside distributed training.
            self.model = revert_sync_batchnorm(self.model)
        self.num_frames = int(num_frames or self._config_num_frames())
        # Clips of frames one second apart matter only to models that mix
        # the frames of a clip; the others get consecutive samples, which
        # needs the least padding (the masks are the same either way).
        self.interleave_clips = not getattr(
            self.model, 'processes_frames_independently', False)
        meta = dict(getattr(self.model, 'dataset_meta', None) or {})
        if classes is not None:
            meta['classes'] = tuple(classes)
        if palette is not None:
            meta['palette'] = [list(color) for color in palette]
        self.dataset_meta = complete_metainfo(
            meta, self.model.num_classes, self.binary,
            getattr(eval_dataset_class(self.cfg), 'METAINFO', None))
        self.model.dataset_meta = self.dataset_meta

    # ------------------------------------------------------------------
    # Building (BaseInferencer hooks)
    # ------------------------------------------------------------------
    def _config_num_frames(self) -> int:
        return int(getattr(eval_dataset_class(self.cfg), 'NUM_FRAMES', 5))

    @property
    def binary(self) -> bool:
        """Whether the model has one output channel (S4/MS3 models)."""
        return self.model.out_channels == 1

    def _init_model(self, cfg: Union[Config, ConfigDict],
                    weights: Optional[str], device: str) -> torch.nn.Module:
        """Build the model and load ``weights`` safely; see
        :func:`mmavs.apis.init_model`."""
        model = init_model(cfg if cfg else None, weights, device)
        if not cfg:  # read from the checkpoint: the pipeline needs it too
            cfg.update(model.cfg._cfg_dict)
        return model

    def _init_pipeline(self, cfg: Config) -> Callable:
        """The config's test pipeline without its file loaders; see
        :func:`~mmavs.apis.inferencer.batching.split_test_pipeline`."""
        pipeline, self.frame_pipeline, self.pack = split_test_pipeline(cfg)
        return pipeline

    def _init_visualizer(self, cfg: Config) -> None:
        """No mmengine visualizer: overlays are drawn with
        :func:`~mmavs.visualization.overlay_mask`, and building the
        config's visualizer would create a global named instance."""
        return None

    def _init_collate(self, cfg: Config) -> Callable:
        """Clips are collated with mmengine's ``pseudo_collate``, as the
        :class:`~mmavs.models.AVSDataPreProcessor` expects."""
        return pseudo_collate

    # ------------------------------------------------------------------
    # Stages
    # ------------------------------------------------------------------
    def _inputs_to_list(self, inputs: InputsType) -> list:
        """One input (a path, a folder, a dict) or a list of them.

        Args:
            inputs (str | dict | list): See the class docstring. A folder
                of frames is one input; a folder of video files stands for
                its videos.

        Returns:
            list: The inputs.
        """
        return expand_inputs(
            list(inputs) if isinstance(inputs, (list, tuple)) else [inputs])

    def clip_stride(self, source: InputSource, fps: Rate) -> int:
        """Samples per second dealt into separate clips: 1 for models that
        treat frames independently, else the sampling rate (see
        :func:`~mmavs.apis.inferencer.batching.deal_clips`)."""
        if not self.interleave_clips:
            return 1
        per_second = source.frame_rate if fps == 'all' else fps
        return max(1, int(round(per_second or 1)))

    def preprocess(self,
                   source: InputSource,
                   sampler: FrameSampler,
                   batch_size: int = 1,
                   **kwargs) -> Iterator[ClipBatch]:
        """Sample one input's frames and pack them into batches of clips.

        Args:
            source (InputSource): The input.
            sampler (FrameSampler): Chooses the frames (and records them).
            batch_size (int): Clips per batch. Defaults to 1.

        Yields:
            ClipBatch: A collated batch for ``model.test_step`` and the
            sample index of each frame of its clips.
        """
        rate, fps = source.frame_rate, sampler.fps
        if fps != 'all' and rate and fps > rate * 1.001:
            warnings.warn(f'{source.name}: fps={fps:g} is above the frame '
                          f'rate ({rate:.3g}); frames will repeat')
        yield from batch_samples(
            sampler,
            source.audio_example,
            self.frame_pipeline,
            source.name,
            num_frames=self.num_frames,
            stride=self.clip_stride(source, fps),
            batch_size=batch_size,
            pack=self.pack,
            collate=self.collate_fn)

    @torch.no_grad()
    def forward(self, inputs: dict, **kwargs) -> list:
        """Run the model on a collated batch of clips.

        Args:
            inputs (dict): ``ClipBatch.data``.

        Returns:
            list[SegDataSample]: B*T frame predictions (clip major) at the
            model's input size.
        """
        return self.model.test_step(inputs)

    def to_frame(self, pred, size) -> tuple:
        """One prediction at the frame size: (uint8 mask, float16 score).

        See :func:`~mmavs.apis.inferencer.outputs.prediction_to_frame`.
        """
        return prediction_to_frame(
            pred, size, self.model.align_corners,
            getattr(self.model.decode_head, 'threshold', None))

    def visualize(self,
                  inputs: List[np.ndarray],
                  preds: List[np.ndarray],
                  opacity: float = 0.5,
                  **kwargs) -> List[np.ndarray]:
        """Draw masks over frames.

        Args:
            inputs (list[np.ndarray]): uint8 [H, W, 3] BGR frames.
            preds (list[np.ndarray]): uint8 [H, W] masks (class ids).
            opacity (float): Opacity of the mask colour. Defaults to 0.5.

        Returns:
            list[np.ndarray]: uint8 [H, W, 3] RGB overlays.
        """
        palette = self.dataset_meta['palette']
        return [
            overlay_mask(
                cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), mask, palette, opacity)
            for frame, mask in zip(inputs, preds)
        ]

    def postprocess(self,
                    preds: Dict[str, Any],
                    visualization: Optional[List[np.ndarray]] = None,
                    return_datasample: bool = False,
                    **kwargs) -> dict:
        """Stack one input's per-frame outputs into the result dict.

        Args:
            preds (dict): ``masks``, ``scores`` (lists of [H, W] arrays),
                ``samples`` (list of :class:`FrameSample`),
                ``data_samples`` and the input's facts (``name``,
                ``source``, ``duration``, ...).
            visualization (list[np.ndarray], optional): Unused (overlays
                go to the overlay video).
            return_datasample (bool): Keep the model's ``SegDataSample`` s
                (at the model's input size) under ``data_samples``.

        Returns:
            dict: See :func:`~mmavs.apis.inferencer.outputs.build_result`.
        """
        result = build_result(preds, self.num_frames,
                              self.dataset_meta['classes'])
        if return_datasample:
            result['data_samples'] = preds['data_samples']
        return result

    # ------------------------------------------------------------------
    # The call
    # ------------------------------------------------------------------
    def __call__(self,
                 inputs: InputsType,
                 fps: Rate = 1.0,
                 batch_size: int = 1,
                 out_dir: Optional[str] = None,
                 save_masks: bool = True,
                 save_overlay: bool = True,
                 save_summary: bool = True,
                 opacity: float = 0.5,
                 allow_truncated: bool = False,
                 return_datasamples: bool = False,
                 show: bool = False,
                 wait_time: float = 0,
                 return_vis: bool = False,
                 pred_out_dir: str = 'masks',
                 img_out_dir: str = '') -> Union[dict, List[dict]]:
        """Segment the sounding objects of one or more inputs.

        Each input is decoded once, streaming: frames are sampled, resized
        and batched as they are decoded, so memory holds a block of resized
        frames, not the video. The returned masks and scores, at the frame
        size, are held in memory (N * H * W * 3 bytes per input).

        Args:
            inputs (str | dict | list): One input or a list; see the class
                docstring. A folder of video files is a list of them.
            fps (float | str): Frames per second to segment (1 = AVSBench),
                or ``'all'`` for every frame. Defaults to 1.
            batch_size (int): Clips per forward pass. Defaults to 1.
            out_dir (str, optional): Write, per input, to
                ``out_dir/<name>/``: ``masks/<k>.png`` (k = 6-digit sample
                number; 0/255 PNGs for binary models, palette-coloured RGB
                PNGs (AVSS ground-truth format) for class models),
                ``overlay.mp4`` (every frame of the input with the mask of
                its window drawn on it, H.264, with the original sound
                re-encoded as AAC) and ``summary.json`` (see
                :func:`~mmavs.apis.inferencer.outputs.summarize`). Inputs
                with the same name get ``_1``, ``_2``, ... suffixes.
            opacity (float): Mask opacity in the overlay. Defaults to 0.5.
            allow_truncated (bool): Use the decodable part of a truncated
                file (with a warning) instead of raising. Defaults to False.
            return_datasamples (bool): Also return the model's frame
                ``SegDataSample`` s. Defaults to False.
            save_masks, save_overlay, save_summary, show, wait_time,
                return_vis, pred_out_dir, img_out_dir: What to write and
                show, as in mmseg's inferencer; see
                :class:`~mmavs.apis.inferencer.outputs.OutputOptions`
                (``save_masks=False`` is ``pred_out_dir=''``).

        Returns:
            dict | list[dict]: For a single input a dict, for a list a list
            of dicts: ``masks`` (uint8 [N, H, W] at the frame size),
            ``scores``, ``timestamps``, ... as listed in
            :func:`~mmavs.apis.inferencer.outputs.build_result`, plus
            ``out_files`` (with ``out_dir``), ``data_samples`` (with
            ``return_datasamples``) and ``visualization`` (with
            ``return_vis``).

        Raises:
            VideoReadError: An input is missing, unreadable, truncated, too
                short, or lacks its audio or video stream.
            ValueError: Bad arguments (``fps``, array shapes, ...).
            OSError: ``out_dir`` cannot be written (checked first).
        """
        fps = parse_fps(fps)
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        if out_dir is not None:
            check_out_dir(out_dir)  # before, not after, the first video
        options = OutputOptions(
            pred_out_dir=pred_out_dir if save_masks else '',
            img_out_dir=img_out_dir,
            save_overlay=save_overlay,
            save_summary=save_summary,
            show=show,
            wait_time=wait_time,
            return_vis=return_vis,
            progress=self.show_progress)
        if show:
            check_display(window=WINDOW_NAME)
        single = not isinstance(inputs, (list, tuple)) and not folder_videos(
            inputs)
        used_names: Set[str] = set()
        results = []
        for position, item in enumerate(self._inputs_to_list(inputs)):
            source = load_source(item, position, allow_truncated)
            result = self.infer_source(source, fps, batch_size,
                                       return_datasamples)
            if out_dir is not None or options.needs_frames(False):
                folder = None if out_dir is None else osp.join(
                    out_dir, unique_name(source.name, used_names))
                files = write_outputs(
                    folder,
                    source,
                    result,
                    draw=lambda frame, mask: self.visualize([frame], [mask],
                                                            opacity)[0],
                    palette=None if self.binary else
                    self.dataset_meta['palette'],
                    options=options)
                if return_vis:
                    result['visualization'] = files.pop('visualization')
                if out_dir is not None:
                    result['out_files'] = files
            results.append(result)
        return results[0] if single else results

    def infer_source(self,
                     source: InputSource,
                     fps: Rate = 1.0,
                     batch_size: int = 1,
                     return_datasamples: bool = False) -> dict:
        """Run one input through preprocess, forward and postprocess.

        Args:
            source (InputSource): The input.
            fps (float | str): See :meth:`__call__`.
            batch_size (int): Clips per forward pass.
            return_datasamples (bool): See :meth:`__call__`.

        Returns:
            dict: The input's result (see :meth:`__call__`), without
            ``out_files``.
        """
        source.check_declared_lengths()
        sampler = FrameSampler(source.frames(), fps, source.frame_rate,
                               source.label)
        in_order = InOrder()
        masks: List[np.ndarray] = []
        scores: List[np.ndarray] = []
        data_samples: List[Any] = []
        with tqdm(total=source.expected_samples(sampler.fps),
                  desc=source.name, unit='frame',
                  disable=not self.show_progress) as progress:
            for batch in self.preprocess(source, sampler, batch_size):
                for index, pred in in_order.put(batch,
                                                self.forward(batch.data)):
                    mask, score = self.to_frame(pred,
                                                sampler.samples[index].shape)
                    masks.append(mask)
                    scores.append(score)
                    if return_datasamples:
                        data_samples.append(pred.cpu())
                    progress.update(1)
        in_order.check_complete()
        check_min_duration(source.label, 'video', sampler.duration)
        silent = source.check_sound(sampler.duration)
        preds = dict(
            name=source.name,
            source=source.source,
            masks=masks,
            scores=scores,
            data_samples=data_samples,
            frame_rate=source.frame_rate,
            num_padded=in_order.num_padded,
            audio_silent=silent,
            **sampler.facts())
        return self.postprocess(preds, None, return_datasamples)
