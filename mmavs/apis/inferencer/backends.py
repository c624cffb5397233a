# Copyright (c) mmavs contributors. All rights reserved.
"""Run an exported graph (:mod:`mmavs.apis.deploy`) with ONNX Runtime or
OpenVINO, inside the inferencer.

:class:`OnnxBackend` runs a ``.onnx`` file (and checks it against its
sidecar); :class:`BackendSegmentor` gives it the face of an mmavs
segmentor for :class:`~mmavs.apis.AVSInferencer`, whose decoding,
sampling, batching, masks, overlay and summary are the same code for
every backend.
"""
import json
import os.path as osp
from typing import List, Optional

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import nn

from mmavs.datasets.errors import CheckpointError

#: Input and output names of exported graphs
#: (:func:`mmavs.apis.deploy.export_onnx`).
INPUT_NAMES = ('frames', 'audio')
OUTPUT_NAME = 'seg_logits'
#: The sidecar's suffix: ``model.onnx`` -> ``model.onnx.json``.
META_SUFFIX = '.json'

#: Backends and the extra that installs each.
BACKENDS = dict(onnxruntime='pip install "mmavs[deploy]" (onnxruntime)',
                openvino='pip install openvino')


def meta_path(onnx_path: str) -> str:
    """The sidecar of an exported graph."""
    return onnx_path + META_SUFFIX


def is_onnx_file(path: Optional[str]) -> bool:
    """Whether ``path`` names an exported graph (by its extension)."""
    return isinstance(path, str) and path.lower().endswith('.onnx')


def read_meta(path: str) -> dict:
    """The sidecar of ``path`` (``path + '.json'``).

    Raises:
        CheckpointError: It is missing or not a sidecar; names the file.
    """
    sidecar = meta_path(path)
    if not osp.isfile(sidecar):
        raise CheckpointError(
            f'{path}: its sidecar {sidecar} is missing; export the model '
            'with tools/deployment/pytorch2onnx.py, which writes both')
    try:
        with open(sidecar, encoding='utf-8') as file:
            meta = json.load(file)
        missing = [key for key in ('inputs', 'config', 'size', 'num_frames')
                   if key not in meta]
        if missing:
            raise KeyError(f'no {missing}')
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f'{sidecar}: not an mmavs export sidecar '
                              f'({type(error).__name__}: {error})') from error
    return meta


class OnnxBackend:
    """An exported graph, loaded with ONNX Runtime or OpenVINO.

    Args:
        path (str): The ``.onnx`` file.
        backend (str): ``'onnxruntime'`` (default) or ``'openvino'``.
        meta (dict, optional): The sidecar; read from ``path + '.json'``
            when omitted.
        threads (int, optional): Intra-op threads; defaults to the
            runtime's choice (all cores).

    Raises:
        ImportError: The runtime is not installed (the message says how).
        CheckpointError: The file is missing, truncated or not a graph, or
            its inputs and outputs are not those its sidecar names.
    """

    def __init__(self,
                 path: str,
                 backend: str = 'onnxruntime',
                 meta: Optional[dict] = None,
                 threads: Optional[int] = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f'backend must be one of {sorted(BACKENDS)}, '
                             f'got {backend!r}')
        if not osp.isfile(path):
            raise CheckpointError(f'{path}: the ONNX file is missing')
        if osp.getsize(path) == 0:
            raise CheckpointError(f'{path}: the ONNX file is empty')
        self.path = path
        self.backend = backend
        self.meta = meta if meta is not None else read_meta(path)
        try:
            names = self._load(threads)
        except ImportError as error:
            raise ImportError(f'running {path} with {backend} needs '
                              f'{backend}: {BACKENDS[backend]}') from error
        except Exception as error:  # the runtimes raise many types
            raise CheckpointError(
                f'{path}: {backend} cannot load it: it is truncated, corrupt '
                f'or not an ONNX graph ({type(error).__name__}: '
                f'{str(error)[:300]})') from error
        expected = (list(INPUT_NAMES), [OUTPUT_NAME])
        if names != expected:
            raise CheckpointError(
                f'{path}: the graph takes {names[0]} and gives {names[1]}; '
                f'an mmavs export takes {expected[0]} and gives '
                f'{expected[1]}')

    def _load(self, threads: Optional[int]) -> tuple:
        if self.backend == 'onnxruntime':
            import onnxruntime
            options = onnxruntime.SessionOptions()
            if threads:
                options.intra_op_num_threads = threads
            self._session = onnxruntime.InferenceSession(
                self.path, options, providers=['CPUExecutionProvider'])
            return ([i.name for i in self._session.get_inputs()],
                    [o.name for o in self._session.get_outputs()])
        import openvino
        core = openvino.Core()
        config = {'PERFORMANCE_HINT': 'LATENCY'}
        if threads:
            config['INFERENCE_NUM_THREADS'] = threads
        self._compiled = core.compile_model(self.path, 'CPU', config)
        self._request = self._compiled.create_infer_request()
        return ([i.any_name for i in self._compiled.inputs],
                [o.any_name for o in self._compiled.outputs])

    def input_shape(self, name: str) -> List:
        """An input's shape from the sidecar (``"B"``: dynamic batch)."""
        for spec in self.meta['inputs']:
            if spec['name'] == name:
                return spec['shape']
        raise KeyError(name)

    def run(self, frames: np.ndarray, audio: np.ndarray) -> np.ndarray:
        """Run the graph on a batch of clips.

        Args:
            frames (np.ndarray): float32 [B, T, 3, H, W] BGR 0-255.
            audio (np.ndarray): float32 [B, T, 1, 96, 64] (or [B, T, C]).

        Returns:
            np.ndarray: float32 [B*T, C, H, W] ``seg_logits``.

        Raises:
            ValueError: The inputs do not have the graph's shapes (named,
                with both shapes). A graph of a fixed batch takes any
                number of clips, a group of that size at a time.
        """
        for name, array in zip(INPUT_NAMES, (frames, audio)):
            shape = self.input_shape(name)
            if list(array.shape[1:]) != list(shape[1:]):
                raise ValueError(
                    f'{self.path}: input "{name}" must be {shape}, got '
                    f'{list(array.shape)}')
        step = self.input_shape('frames')[0]
        if step == 'B' or step == len(frames):
            return self._run(frames, audio)
        # A graph of a fixed batch: the clips in groups of that size, the
        # last group filled up with its last clip (whose output is
        # dropped).
        outputs, per_clip = [], frames.shape[1]
        for begin in range(0, len(frames), step):
            group = [array[begin:begin + step] for array in (frames, audio)]
            real = len(group[0])
            group = [
                np.concatenate([part] + [part[-1:]] * (step - real))
                for part in group
            ]
            outputs.append(self._run(*group)[:real * per_clip])
        return np.concatenate(outputs)

    def _run(self, frames: np.ndarray, audio: np.ndarray) -> np.ndarray:
        feed = dict(frames=np.ascontiguousarray(frames, np.float32),
                    audio=np.ascontiguousarray(audio, np.float32))
        if self.backend == 'onnxruntime':
            return self._session.run([OUTPUT_NAME], feed)[0]
        return self._request.infer(feed)[self._compiled.outputs[0]]


class _HeadFacts:
    """What the inferencer reads of a decode head."""

    def __init__(self, threshold: Optional[float]) -> None:
        self.threshold = threshold


class BackendSegmentor(nn.Module):
    """An exported graph in the place of the segmentor, for
    :class:`~mmavs.apis.AVSInferencer`: ``test_step`` takes the collated
    clips the inferencer makes and returns their frames' predictions, as
    the PyTorch model does.

    Args:
        path (str): The ``.onnx`` file (its sidecar beside it).
        backend (str): ``'onnxruntime'`` or ``'openvino'``.
        meta (dict, optional): The sidecar, when read already.
    """

    def __init__(self, path: str, backend: str = 'onnxruntime',
                 meta: Optional[dict] = None) -> None:
        super().__init__()
        self.runner = OnnxBackend(path, backend, meta)
        meta = self.runner.meta
        self.out_channels = int(meta['out_channels'])
        self.num_classes = int(meta['num_classes'])
        self.align_corners = bool(meta['align_corners'])
        self.processes_frames_independently = bool(
            meta['processes_frames_independently'])
        self.decode_head = _HeadFacts(meta.get('threshold'))
        self.num_frames = int(meta['num_frames'])
        self.size = tuple(meta['size'])
        if meta.get('dataset_meta'):
            self.dataset_meta = meta['dataset_meta']

    def check_input_size(self, size, num_frames: int) -> None:
        """Fail before the first frame when the inferencer's frames or
        clips do not fit the graph.

        Raises:
            CheckpointError: Names the graph and both sizes.
        """
        if tuple(size) != self.size or num_frames != self.num_frames:
            raise CheckpointError(
                f'{self.runner.path}: the graph takes clips of '
                f'{self.num_frames} frames of {self.size[0]}x{self.size[1]}'
                f' (H x W), but the config makes clips of {num_frames} '
                f'frames of {size[0]}x{size[1]}; export the model from this '
                'config (tools/deployment/pytorch2onnx.py) or use the config '
                'in its sidecar')

    @torch.no_grad()
    def test_step(self, data: dict) -> List[SegDataSample]:
        """Predict the frames of a collated batch of clips.

        Args:
            data (dict): ``inputs``: ``frames`` (list of B uint8 [T, 3, H,
                W] tensors) and ``audio`` (list of B [T, ...] tensors).

        Returns:
            list[SegDataSample]: B*T frame predictions (clip major) with
            ``seg_logits`` at the input size.
        """
        inputs = data['inputs']
        frames = torch.stack(list(inputs['frames'])).float().numpy()
        audio = torch.stack(list(inputs['audio'])).float().numpy()
        batch, clip = frames.shape[:2]
        if clip != self.num_frames or batch == 0:
            raise ValueError(f'{self.runner.path}: the graph takes clips of '
                             f'{self.num_frames} frames, got {clip}')
        logits = torch.from_numpy(self.runner.run(frames, audio))
        samples = []
        for frame_logits in logits:
            sample = SegDataSample()
            sample.seg_logits = PixelData(data=frame_logits)
            samples.append(sample)
        return samples

    def forward(self, *args, **kwargs):
        """Not used: the inferencer calls :meth:`test_step`."""
        raise NotImplementedError('a BackendSegmentor runs test_step only')
