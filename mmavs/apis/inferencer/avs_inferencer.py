# Copyright (c) mmavs contributors. All rights reserved.
"""Segment the sounding objects of a video: :class:`AVSInferencer`.

The stages follow mmengine's ``BaseInferencer``; each input streams
through all of them, frame by frame (:class:`~.stream.FrameStream`):

.. code:: text

    iter_frames(input) / __call__(inputs)
     └─ per input: sources.load_source        (InputSource: frames + sound)
         ├─ preprocess  FrameSampler -> test pipeline per frame
         │              -> ClipBatcher        (ClipBatch)   [reader thread]
         ├─ forward     model.test_step       (B*T frame predictions)
         ├─ InOrder + to_frame                (masks at frame size)
         └─ writers.InputWriter               (masks/, overlay.mp4, json)
                                              [writer threads]

What each input kind accepts and rejects is in :mod:`.sources`, how frames
are sampled and paired with sound in :mod:`.sampling`, how they become
clips in :mod:`.batching`, what is written in :mod:`.writers`. Frames go
through the config's test pipeline (e.g. a resize to 224x224), so any frame
size works.
"""
import os.path as osp
import warnings
from typing import (Any, Callable, Dict, Iterator, List, Optional, Sequence,
                    Set, Union)

import cv2
import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.infer.infer import BaseInferencer
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope

from mmavs.datasets.metainfo import complete_metainfo
from mmavs.visualization import MaskPainter, check_display
from ..model_init import init_model
from .backends import BackendSegmentor, is_onnx_file, read_meta
from .batching import (ClipBatch, batch_samples, pipeline_size,
                       split_test_pipeline)
from .configs import eval_dataset_class, load_config
from .outputs import (OVERLAY_PRESET, OutputOptions, SegmentedFrame,
                      prediction_to_frame, unique_name)
from .preflight import check_device, check_out_dir
from .sampling import FrameSample, FrameSampler, Rate, parse_fps
from .sources import (InputSource, InputType, expand_inputs, folder_videos,
                      load_source)
from .stream import WINDOW_NAME, FrameStream, stack

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
        backend (str, optional): ``'pytorch'``, or ``'onnxruntime'`` /
            ``'openvino'`` to run ``weights``, a graph exported by
            ``tools/deployment/pytorch2onnx.py`` (its sidecar gives the
            config when ``model`` is None). Defaults to ONNX Runtime for a
            ``.onnx`` file, else PyTorch. Decoding, sampling, batching,
            masks, overlay and summary are the same for every backend.

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
                 show_progress: bool = False,
                 backend: Optional[str] = None) -> None:
        init_default_scope(scope)
        # Argument errors before the model is built and loaded.
        check_device(device)
        if num_frames is not None and num_frames < 1:
            raise ValueError(f'num_frames must be >= 1, got {num_frames}')
        self.backend = backend or ('onnxruntime'
                                   if is_onnx_file(weights) else 'pytorch')
        if self.backend != 'pytorch':
            model, self._graph_meta = self._graph_config(model, weights)
        super().__init__(
            model=load_config(model),
            weights=weights,
            device=device,
            scope=scope,
            show_progress=show_progress)
        exported = self.backend != 'pytorch'
        if not exported and str(next(
                self.model.parameters()).device) == 'cpu':
            # SyncBN configs cannot run outside distributed training.
            self.model = revert_sync_batchnorm(self.model)
        self.num_frames = int(num_frames or self._config_num_frames())
        # Clips of frames one second apart matter only to models that mix
        # the frames of a clip; the others get consecutive samples, which
        # needs the least padding (the masks are the same either way).
        self.interleave_clips = not getattr(
            self.model, 'processes_frames_independently', False)
        # Such models may also take the first frames alone, for a first
        # mask after one frame's forward pass (see ClipBatcher); an
        # exported graph takes clips of its own length only.
        self.quick_start = not self.interleave_clips and not exported
        if exported:
            self.model.check_input_size(self._pipeline_size(),
                                        self.num_frames)
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

    def _graph_config(self, model, weights: Optional[str]) -> tuple:
        """The config to use with an exported graph (the given one, else
        its sidecar's), and the sidecar.

        Raises:
            ValueError: No ``.onnx`` file with a non-PyTorch backend.
        """
        if not is_onnx_file(weights):
            raise ValueError(f'backend={self.backend!r} runs an exported '
                             f'graph: weights must be a .onnx file, got '
                             f'{weights!r}')
        meta = read_meta(weights)
        if model is None:
            model = Config.fromstring(meta['config'], '.py')
        return model, meta

    def _pipeline_size(self) -> tuple:
        """(H, W) of the frames the test pipeline makes."""
        return pipeline_size(self.cfg)

    def _init_model(self, cfg: Union[Config, ConfigDict],
                    weights: Optional[str], device: str) -> torch.nn.Module:
        """Build the model and load ``weights`` safely (see
        :func:`mmavs.apis.init_model`), or load an exported graph."""
        if self.backend != 'pytorch':
            if device not in (None, 'cpu'):
                raise ValueError(f'the {self.backend} backend runs on the '
                                 f'CPU here; got device={device!r}')
            return BackendSegmentor(weights, self.backend, self._graph_meta)
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
                   audio_of: Optional[Callable[[FrameSample],
                                               np.ndarray]] = None,
                   keep_images: bool = False,
                   on_batcher: Optional[Callable] = None,
                   adaptive: bool = False,
                   **kwargs) -> Iterator[ClipBatch]:
        """Sample one input's frames and pack them into batches of clips.

        Args:
            source (InputSource): The input.
            sampler (FrameSampler): Chooses the frames.
            batch_size (int): Clips per batch. Defaults to 1.
            audio_of (Callable, optional): A sample's log-mel example;
                defaults to a fresh :meth:`InputSource.audio_reader`.
            keep_images (bool): Hand each sample's decoded frame to its
                batch (to draw its own overlay). Defaults to False.
            on_batcher (Callable, optional): Gets the
                :class:`~.batching.ClipBatcher` once it is made.
            adaptive (bool): After the quick start, wait for the
                batcher's :meth:`~.batching.ClipBatcher.decide`. Defaults
                to False.

        Yields:
            ClipBatch: A collated batch for ``model.test_step`` and the
            samples of its clips.
        """
        rate, fps = source.frame_rate, sampler.fps
        if fps != 'all' and rate and fps > rate * 1.001:
            warnings.warn(f'{source.name}: fps={fps:g} is above the frame '
                          f'rate ({rate:.3g}); frames will repeat')
        stride = self.clip_stride(source, fps)
        yield from batch_samples(
            sampler,
            audio_of or source.audio_reader(),
            self.frame_pipeline,
            source.name,
            keep_images=keep_images,
            on_batcher=on_batcher,
            quick_start=self.quick_start and stride == 1,
            adaptive=adaptive,
            num_frames=self.num_frames,
            stride=stride,
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
        """Draw masks over frames (as the overlay video does).

        Args:
            inputs (list[np.ndarray]): uint8 [H, W, 3] BGR frames.
            preds (list[np.ndarray]): uint8 [H, W] masks (class ids).
            opacity (float): Opacity of the mask colour. Defaults to 0.5.

        Returns:
            list[np.ndarray]: uint8 [H, W, 3] RGB overlays.
        """
        palette = self.dataset_meta['palette']
        return [
            cv2.cvtColor(
                MaskPainter(mask, palette, opacity, 'bgr').draw(frame),
                cv2.COLOR_BGR2RGB) for frame, mask in zip(inputs, preds)
        ]

    def postprocess(self,
                    preds: List[SegmentedFrame],
                    visualization: Optional[List[np.ndarray]] = None,
                    return_datasample: bool = False,
                    stream_result: Optional[dict] = None,
                    **kwargs) -> dict:
        """Stack one input's segmented frames into the result dict.

        Args:
            preds (list[SegmentedFrame]): The input's frames, in order.
            visualization (list[np.ndarray], optional): Unused (overlays
                come with the frames).
            return_datasample (bool): Add the model's ``SegDataSample`` s
                (at the model's input size) as ``data_samples``.
            stream_result (dict, optional): :attr:`FrameStream.result`.

        Returns:
            dict: ``stream_result`` plus ``masks`` (uint8 [N, H, W]) and
            ``scores`` (float16 [N, H, W]) unless the frames dropped theirs,
            ``timestamps``, ``frame_indices`` and ``audio_centres`` ([N]
            each).
        """
        result = dict(stream_result or {})
        size = result.get('frame_size', (0, 0))
        if not preds or preds[0].mask is not None:
            result.update(
                masks=stack(preds, 'mask', size, np.uint8),
                scores=stack(preds, 'score', size, np.float16))
        result.update(
            timestamps=np.array([f.time for f in preds], np.float64),
            frame_indices=np.array([f.frame_index for f in preds], np.int64),
            audio_centres=np.array([f.audio_centre for f in preds],
                                   np.float64))
        if return_datasample:
            result['data_samples'] = [f.data_sample for f in preds]
        return result

    # ------------------------------------------------------------------
    # The call
    # ------------------------------------------------------------------
    @staticmethod
    def _check_call(fps: Rate, batch_size: int, out_dir: Optional[str],
                    show: bool) -> Rate:
        """Argument errors of a call, before any input is decoded: the
        rate (returned parsed), the batch, the output folder, a display."""
        fps = parse_fps(fps)
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        if out_dir is not None:
            check_out_dir(out_dir)  # before, not after, the first video
        if show:
            check_display(window=WINDOW_NAME)
        return fps

    def _options(self, save_masks: bool, pred_out_dir: str, **kwargs
                 ) -> OutputOptions:
        return OutputOptions(
            pred_out_dir=pred_out_dir if save_masks else '',
            progress=self.show_progress,
            **kwargs)

    def iter_frames(self,
                    input: InputType,
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
                    img_out_dir: str = '',
                    name: Optional[str] = None,
                    overlay_preset: str = OVERLAY_PRESET) -> FrameStream:
        """Segment one input frame by frame, writing its files as it goes.

        Memory does not grow with the video: frames are decoded, segmented
        and written as they come, and each segmented frame is handed to the
        caller and then forgotten. This is the form for long videos (what
        ``mmavs-demo`` uses); :meth:`__call__` collects the frames.

        Args:
            input (str | dict): One input (see the class docstring).
            name (str, optional): Name of its output folder
                (``out_dir/<name>``); defaults to the input's name.
            fps, batch_size, out_dir, save_masks, save_overlay,
                save_summary, opacity, allow_truncated, return_datasamples,
                show, wait_time, return_vis, pred_out_dir, img_out_dir,
                overlay_preset: As in :meth:`__call__`;
                ``return_datasamples`` and
                ``return_vis`` fill each frame's ``data_sample`` and
                ``visualization``.

        Returns:
            FrameStream: Iterate it for the
            :class:`~mmavs.apis.inferencer.outputs.SegmentedFrame` s, in
            order; then ``stream.result`` holds the input's facts, summary
            and files. Breaking off (or an error, or Ctrl-C) leaves the files
            of the frames so far, with the summary marked incomplete.

        Raises:
            VideoReadError: The input is missing, unreadable, too short, or
                lacks its audio or video stream (before any frame).
            ValueError: Bad arguments.
            OSError: ``out_dir`` cannot be written (checked first).

        Examples:
            >>> stream = inferencer.iter_frames('long_video.mp4',
            ...                                 out_dir='outputs')
            >>> for frame in stream:
            ...     print(frame.time, frame.mask.mean())
            >>> stream.result['out_files']['overlay']
        """
        fps = self._check_call(fps, batch_size, out_dir, show)
        source = load_source(input, 0, allow_truncated)
        return self._stream(
            source, fps, batch_size,
            None if out_dir is None else osp.join(out_dir, name
                                                  or source.name),
            self._options(save_masks, pred_out_dir, img_out_dir=img_out_dir,
                          save_overlay=save_overlay,
                          save_summary=save_summary, show=show,
                          wait_time=wait_time, return_vis=return_vis,
                          overlay_preset=overlay_preset),
            opacity, return_datasamples)

    def _stream(self, source: InputSource, fps: Rate, batch_size: int,
                folder: Optional[str], options: OutputOptions,
                opacity: float, return_datasamples: bool,
                keep_summary_frames: bool = False) -> FrameStream:
        return FrameStream(self, source, fps, batch_size, folder, options,
                           opacity, return_datasamples, keep_summary_frames)

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
                 img_out_dir: str = '',
                 return_masks: bool = True,
                 overlay_preset: str = OVERLAY_PRESET
                 ) -> Union[dict, List[dict]]:
        """Segment the sounding objects of one or more inputs.

        Each input streams through :meth:`iter_frames` (decoded once for
        the model, once more for the overlay video, written as it goes);
        this collects its frames into arrays. What that costs: the masks
        and scores at the frame size, N * H * W * 3 bytes per input (a
        minute of 1080p at ``fps='all'``: 9 GB), plus the data samples and
        overlays when asked for. For long videos pass
        ``return_masks=False`` (the files are written all the same) or
        iterate :meth:`iter_frames`.

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
                its window drawn on it, H.264 in fragmented mp4, with the
                original sound re-encoded as AAC) and ``summary.json`` (see
                :class:`~mmavs.apis.inferencer.outputs.SummaryBuilder`).
                Inputs with the same name get ``_1``, ``_2``, ... suffixes.
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
            return_masks (bool): Return ``masks`` and ``scores`` (and the
                summary's per-frame entries). Defaults to True.
            overlay_preset (str): x264 preset of ``overlay.mp4``: faster
                presets write larger files (figures in docs/benchmark.md).
                Defaults to :data:`~.outputs.OVERLAY_PRESET`.

        Returns:
            dict | list[dict]: For a single input a dict, for a list a list
            of dicts: ``masks`` (uint8 [N, H, W] at the frame size),
            ``scores`` (float16 [N, H, W]), ``timestamps``,
            ``frame_indices``, ``audio_centres`` ([N] each) and what
            :attr:`FrameStream.result` holds (``summary``, ``duration``,
            ``frame_size``, ``timing``, ...), with ``out_files`` (``dir``,
            ``masks`` (a list of files), ``overlay``, ``summary``,
            ``images``) when ``out_dir`` is given, ``data_samples`` with
            ``return_datasamples`` and ``visualization`` (uint8 [N, H, W,
            3] RGB) with ``return_vis``.

        Raises:
            VideoReadError: An input is missing, unreadable, truncated, too
                short, or lacks its audio or video stream.
            ValueError: Bad arguments (``fps``, array shapes, ...).
            OSError: ``out_dir`` cannot be written (checked first), or a
                file cannot be written (named in the message).
        """
        fps = self._check_call(fps, batch_size, out_dir, show)
        options = self._options(
            save_masks, pred_out_dir, img_out_dir=img_out_dir,
            save_overlay=save_overlay, save_summary=save_summary, show=show,
            wait_time=wait_time, return_vis=return_vis,
            overlay_preset=overlay_preset)
        single = not isinstance(inputs, (list, tuple)) and not folder_videos(
            inputs)
        used_names: Set[str] = set()
        results = []
        for position, item in enumerate(self._inputs_to_list(inputs)):
            source = load_source(item, position, allow_truncated)
            folder = None if out_dir is None else osp.join(
                out_dir, unique_name(source.name, used_names))
            stream = self._stream(source, fps, batch_size, folder, options,
                                  opacity, return_datasamples,
                                  keep_summary_frames=return_masks)
            frames = []
            for frame in stream:
                if not return_masks:  # the files have them
                    frame.mask = frame.score = None
                frames.append(frame)
            result = self.postprocess(frames, None, return_datasamples,
                                      stream.result)
            if return_vis:
                result['visualization'] = stack(
                    frames, 'visualization',
                    tuple(result['frame_size']) + (3, ), np.uint8)
            if 'out_files' in result:
                result['out_files'] = self._file_lists(result['out_files'])
            results.append(result)
        return results[0] if single else results

    @staticmethod
    def _file_lists(files: Dict[str, Any]) -> Dict[str, Any]:
        """Out files with the mask and image folders as lists of files."""
        files = dict(files)
        for key in ('masks', 'images'):
            if key in files:
                count = files.pop(f'num_{key}')
                files[key] = [
                    osp.join(files[key], f'{k:06d}.png') for k in range(count)
                ]
        return files
