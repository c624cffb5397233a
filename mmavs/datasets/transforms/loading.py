# Copyright (c) mmavs contributors. All rights reserved.
"""Load the frames, masks and audio of an AVSBench clip.

The module-level ``read_*`` helpers load one file and raise
:class:`~mmavs.datasets.audio.AVSDataError` naming the file and the problem;
the transforms use them for a whole clip and
``tools/dataset_converters/avsbench_check.py`` uses them to check every file
of a data set.
"""
import io
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ..audio import (EXAMPLE_SHAPE, SAMPLE_RATE, AVSDataError,
                     fit_num_examples, load_pickled_array, load_waveform,
                     waveform_to_log_mel_examples)
from ..avsbench import AVSS_PALETTE

#: Audio files with these extensions hold precomputed arrays.
ARRAY_EXTENSIONS = ('.pkl', '.npy')


def read_file_bytes(path: str,
                    what: str,
                    backend_args: Optional[dict] = None) -> bytes:
    """Read a file, turning "missing" and "empty" into clear errors.

    Args:
        path (str): The file.
        what (str): What it is, for the message (``'frame'``, ``'mask'``).
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        bytes: The content.

    Raises:
        AVSDataError: The file is missing or empty.
    """
    try:
        data = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as error:
        raise AVSDataError(f'{path}: {what} file is missing') from error
    except IsADirectoryError as error:
        raise AVSDataError(f'{path}: {what} path is a directory') from error
    if not data:
        raise AVSDataError(f'{path}: {what} file is empty (zero bytes)')
    return data


def read_frame(path: str,
               color_type: str = 'color',
               imdecode_backend: str = 'cv2',
               backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a video frame as a BGR image.

    Args:
        path (str): The image file.
        color_type (str): ``mmcv.imfrombytes`` flag. Defaults to 'color'.
        imdecode_backend (str): Decoding backend. Defaults to 'cv2'.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        np.ndarray: uint8 [H, W, 3] BGR.

    Raises:
        AVSDataError: The file is missing, empty or not a decodable image.
    """
    data = read_file_bytes(path, 'frame', backend_args)
    try:
        img = mmcv.imfrombytes(data, flag=color_type, backend=imdecode_backend)
    except Exception as error:
        raise AVSDataError(f'{path}: frame cannot be decoded as an image '
                           f'({type(error).__name__}: {error})') from error
    if img is None:
        raise AVSDataError(f'{path}: frame cannot be decoded as an image')
    return img


def _decode_mask(path: str, flag: str, backend_args: Optional[dict],
                 imdecode_backend: str, **kwargs) -> np.ndarray:
    data = read_file_bytes(path, 'mask', backend_args)
    try:
        mask = mmcv.imfrombytes(
            data, flag=flag, backend=imdecode_backend, **kwargs)
    except Exception as error:
        raise AVSDataError(f'{path}: mask cannot be decoded as an image '
                           f'({type(error).__name__}: {error})') from error
    if mask is None:
        raise AVSDataError(f'{path}: mask cannot be decoded as an image')
    return mask


def read_binary_mask(path: str,
                     imdecode_backend: str = 'cv2',
                     backend_args: Optional[dict] = None) -> np.ndarray:
    """Read an S4/MS3 mask; any non-zero pixel is foreground.

    The release stores 0/255 PNGs; grey, RGB(A) and 0/1 masks work too (a
    pixel is foreground when any colour channel is non-zero; alpha is
    ignored).

    Args:
        path (str): The PNG.
        imdecode_backend (str): Decoding backend. Defaults to 'cv2'.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        np.ndarray: uint8 [H, W] with values 0/1.

    Raises:
        AVSDataError: The file is missing, empty or not decodable.
    """
    mask = _decode_mask(path, 'unchanged', backend_args, imdecode_backend)
    if mask.ndim == 3:
        mask = mask[..., :3].max(axis=2)
    return (mask > 0).astype(np.uint8)


def palette_lookup(palette: Sequence[Sequence[int]]):
    """Prepare a palette for :func:`decode_palette_mask`.

    Args:
        palette (Sequence[Sequence[int]]): RGB triplets; entry i = class i.

    Returns:
        tuple[np.ndarray, np.ndarray]: Sorted 24-bit colour codes and the
        class index of each.
    """
    colors = np.asarray(palette, dtype=np.int64).reshape(-1, 3)
    codes = (colors[:, 0] << 16) | (colors[:, 1] << 8) | colors[:, 2]
    if len(np.unique(codes)) != len(codes):
        raise ValueError('The palette has duplicate colours.')
    order = np.argsort(codes)
    return codes[order], order


def _check_unknown_color(unknown_color: str) -> None:
    if unknown_color not in ('error', 'background', 'ignore'):
        raise ValueError("unknown_color must be 'error', 'background' or "
                         f"'ignore', got {unknown_color!r}")


def decode_palette_mask(rgb: np.ndarray,
                        palette: Sequence[Sequence[int]],
                        path: str = '<array>',
                        unknown_color: str = 'error',
                        ignore_index: int = 255) -> np.ndarray:
    """Map each pixel colour of an RGB mask to its palette index.

    Args:
        rgb (np.ndarray): uint8 [H, W, 3] in RGB order.
        palette (Sequence[Sequence[int]]): RGB triplets; entry i = class i.
        path (str): File name for error messages.
        unknown_color (str): What a colour outside the palette becomes:
            ``'error'`` (raise, the default), ``'background'`` (class 0, what
            the AVSBench release does silently) or ``'ignore'``
            (``ignore_index``).
        ignore_index (int): Used by ``unknown_color='ignore'``.

    Returns:
        np.ndarray: uint8 [H, W] class indices.

    Raises:
        AVSDataError: ``unknown_color='error'`` and some pixel's colour is
            not in the palette; the message lists the colours.
    """
    _check_unknown_color(unknown_color)
    codes, classes = palette_lookup(palette)
    rgb = rgb.astype(np.int64)
    pixel_codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    position = np.searchsorted(codes, pixel_codes)
    position = np.minimum(position, len(codes) - 1)
    known = codes[position] == pixel_codes
    labels = classes[position].astype(np.uint8)
    if not known.all():
        if unknown_color == 'error':
            bad, counts = np.unique(pixel_codes[~known], return_counts=True)
            order = np.argsort(-counts)[:5]
            listed = ', '.join(
                f'({bad[i] >> 16}, {(bad[i] >> 8) & 255}, {bad[i] & 255}) x '
                f'{counts[i]}' for i in order)
            raise AVSDataError(
                f'{path}: {int((~known).sum())} pixels have colours that are '
                f'not in the palette ({len(bad)} unknown RGB colours: '
                f'{listed}{", ..." if len(bad) > 5 else ""}); set '
                "unknown_color='background' or 'ignore' to accept them")
        labels[~known] = 0 if unknown_color == 'background' else ignore_index
    return labels


def read_palette_mask(path: str,
                      palette: Sequence[Sequence[int]] = AVSS_PALETTE,
                      unknown_color: str = 'error',
                      ignore_index: int = 255,
                      imdecode_backend: str = 'cv2',
                      backend_args: Optional[dict] = None) -> np.ndarray:
    """Read an AVSS colour mask as class indices.

    Args:
        path (str): The PNG (RGB or palette mode).
        palette (Sequence[Sequence[int]]): RGB triplets. Defaults to the
            71-entry AVSS palette.
        unknown_color (str): See :func:`decode_palette_mask`.
        ignore_index (int): See :func:`decode_palette_mask`.
        imdecode_backend (str): Decoding backend. Defaults to 'cv2'.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        np.ndarray: uint8 [H, W] class indices.

    Raises:
        AVSDataError: Missing/undecodable file or unknown colours.
    """
    rgb = _decode_mask(
        path, 'color', backend_args, imdecode_backend, channel_order='rgb')
    return decode_palette_mask(rgb, palette, path, unknown_color, ignore_index)


def load_audio_array(path: str,
                     num_frames: int,
                     num_valid: Optional[int] = None,
                     feature_dim: Optional[int] = 128,
                     backend_args: Optional[dict] = None) -> np.ndarray:
    """Load the audio of a clip: one log-mel example (or feature) per frame.

    ``.pkl``/``.npy`` files hold precomputed arrays: log-mel examples
    [n, 1, 96, 64] (the released ``.pkl``) or features [n, feature_dim];
    ``n`` must be ``num_frames`` or ``num_valid``. Any other file is read as
    audio (wav through soundfile, videos through PyAV) and turned into VGGish
    examples; short audio repeats its last example, long audio is cut.
    Frames beyond ``num_valid`` (padding) repeat the last real example.

    Args:
        path (str): The audio file.
        num_frames (int): T, examples wanted.
        num_valid (int, optional): Real (non-padded) frames. Defaults to T.
        feature_dim (int, optional): Accepted width of precomputed features;
            None accepts log-mel arrays only. Defaults to 128.
        backend_args (dict, optional): mmengine file backend arguments (for
            ``.pkl``/``.npy``; audio and video files must be local).

    Returns:
        np.ndarray: float32 [T, 1, 96, 64] or [T, feature_dim].

    Raises:
        AVSDataError: The file is missing, unreadable, empty, shorter than
            one 0.96 s example, or holds an array of the wrong shape.
    """
    num_valid = num_frames if num_valid is None else num_valid
    extension = osp.splitext(path)[1].lower()
    if extension in ARRAY_EXTENSIONS:
        data = read_file_bytes(path, 'audio', backend_args)
        if extension == '.pkl':
            array = load_pickled_array(data, name=path)
        else:
            try:
                array = np.load(io.BytesIO(data), allow_pickle=False)
            except Exception as error:
                raise AVSDataError(
                    f'{path}: cannot load a .npy array '
                    f'({type(error).__name__}: {error})') from error
        array = np.asarray(array)
        shape_ok = array.ndim == 4 and tuple(array.shape[1:]) == EXAMPLE_SHAPE
        if feature_dim is not None:
            shape_ok = shape_ok or (array.ndim == 2
                                    and array.shape[1] == feature_dim)
        counts = sorted({num_valid, num_frames})
        if not shape_ok or array.shape[0] not in counts:
            expected = ' or '.join(f'[{n}, 1, 96, 64]' for n in counts)
            if feature_dim is not None:
                expected += ' (or ' + ' or '.join(
                    f'[{n}, {feature_dim}]' for n in counts) + ' features)'
            raise AVSDataError(f'{path}: audio array has the wrong shape: '
                               f'expected {expected}, found '
                               f'{list(array.shape)}')
        if not np.isfinite(array).all():
            raise AVSDataError(f'{path}: audio array holds NaN or inf values')
        array = array[:num_valid]
    else:
        waveform = load_waveform(path, SAMPLE_RATE)
        array = waveform_to_log_mel_examples(waveform, SAMPLE_RATE)
        if array.shape[0] == 0:
            seconds = waveform.shape[0] / SAMPLE_RATE
            raise AVSDataError(f'{path}: audio is too short ({seconds:.3f} '
                               's); one log-mel example needs 0.96 s')
        array = fit_num_examples(array, num_valid)
    return fit_num_examples(array, num_frames).astype(np.float32)


@TRANSFORMS.register_module()
class LoadAVSFrames(BaseTransform):
    """Load the T frames of a clip.

    Padded frames (path None or ``frame_valid`` 0, AVSS v1 clips) become
    black images of the real frames' size.

    Required Keys:

    - frame_paths (list[str | None])
    - frame_valid (list[int], optional)

    Added Keys:

    - imgs (list[np.ndarray]): T uint8 [H, W, 3] BGR images (float32 with
      ``to_float32``).
    - img_shape (tuple[int, int])
    - ori_shape (tuple[int, int])

    Args:
        to_float32 (bool): Convert the frames to float32. Defaults to False.
        color_type (str): ``mmcv.imfrombytes`` flag. Defaults to 'color'.
        imdecode_backend (str): Decoding backend. Defaults to 'cv2'.
        backend_args (dict, optional): mmengine file backend arguments.

    Raises:
        AVSDataError: A frame is missing or undecodable, the clip has no real
            frame, or its frames differ in size.
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        self.to_float32 = to_float32
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        """Load the frames; see the class docstring for the keys."""
        paths = results['frame_paths']
        valid = results.get('frame_valid', [1] * len(paths))
        imgs: List[Optional[np.ndarray]] = []
        shape: Optional[Tuple[int, ...]] = None
        first_path = None
        for path, is_valid in zip(paths, valid):
            if path is None or not is_valid:
                imgs.append(None)
                continue
            img = read_frame(path, self.color_type, self.imdecode_backend,
                             self.backend_args)
            if shape is None:
                shape, first_path = img.shape, path
            elif img.shape != shape:
                raise AVSDataError(
                    f'{path}: frame is {img.shape[1]}x{img.shape[0]} but '
                    f'{first_path} of the same clip is {shape[1]}x{shape[0]}')
            imgs.append(img)
        if shape is None:
            raise AVSDataError(
                f'clip "{results.get("clip_name")}" has no real frame to load')
        imgs = [
            np.zeros(shape, dtype=np.uint8) if img is None else img
            for img in imgs
        ]
        if self.to_float32:
            imgs = [img.astype(np.float32) for img in imgs]
        results['imgs'] = imgs
        results['img_shape'] = shape[:2]
        results['ori_shape'] = shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32}, '
                f"color_type='{self.color_type}', "
                f"imdecode_backend='{self.imdecode_backend}')")


@TRANSFORMS.register_module()
class LoadAVSAnnotations(BaseTransform):
    """Load the per-frame masks of a clip.

    Frames without a mask (``seg_map_paths[t]`` None) get ``ignore_index``
    everywhere, padded frames (``frame_valid`` 0) get ``padded_label``
    (background) everywhere, both at the frame's original size. Masks may be
    loaded before or after :class:`ClipTransform`: they are checked against
    ``ori_shape``, the size of the frames on disk.

    Required Keys:

    - seg_map_paths (list[str | None])
    - task (str, needed by ``mask_type='auto'``)
    - frame_valid (list[int], optional)
    - ori_shape (tuple, optional; set by :class:`LoadAVSFrames`)
    - label_map (dict, optional)

    Added Keys:

    - gt_seg_maps (list[np.ndarray]): T uint8 [H, W] masks: 0/1 for S4/MS3,
      class ids for AVSS, ``ignore_index`` for unlabelled frames.
    - seg_fields (list[str]): ``'gt_seg_maps'`` appended.

    Args:
        mask_type (str): ``'binary'`` (S4/MS3 PNGs, non-zero = foreground),
            ``'palette'`` (AVSS colour PNGs) or ``'auto'`` (from
            ``results['task']``). Defaults to 'auto'.
        palette (Sequence[Sequence[int]], optional): RGB colour of each
            class for ``'palette'`` masks. Defaults to the AVSS palette.
        unknown_color (str): A colour outside the palette raises
            (``'error'``, default), becomes background (``'background'``, as
            the release does) or is ignored (``'ignore'``).
        ignore_index (int): Label of unlabelled pixels. Defaults to 255.
        padded_label (int): Label of padded frames. Defaults to 0.
        imdecode_backend (str): Decoding backend. Defaults to 'cv2'.
        backend_args (dict, optional): mmengine file backend arguments.

    Raises:
        AVSDataError: A mask is missing or undecodable, differs in size from
            its frame, or (palette masks) has an unknown colour.
    """

    def __init__(self,
                 mask_type: str = 'auto',
                 palette: Optional[Sequence[Sequence[int]]] = None,
                 unknown_color: str = 'error',
                 ignore_index: int = 255,
                 padded_label: int = 0,
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        if mask_type not in ('auto', 'binary', 'palette'):
            raise ValueError("mask_type must be 'auto', 'binary' or "
                             f"'palette', got {mask_type!r}")
        _check_unknown_color(unknown_color)
        self.mask_type = mask_type
        self.palette = AVSS_PALETTE if palette is None else palette
        # A broken palette fails here, not in a loader worker.
        palette_lookup(self.palette)
        self.unknown_color = unknown_color
        self.ignore_index = ignore_index
        self.padded_label = padded_label
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args.copy() if backend_args else None

    def _resolve_type(self, results: dict) -> str:
        if self.mask_type != 'auto':
            return self.mask_type
        task = results.get('task')
        if task in ('s4', 'ms3'):
            return 'binary'
        if task == 'avss':
            return 'palette'
        raise ValueError('LoadAVSAnnotations(mask_type="auto") needs '
                         "results['task'] in ('s4', 'ms3', 'avss'), got "
                         f'{task!r}; set mask_type explicitly')

    def _read(self, path: str, mask_type: str) -> np.ndarray:
        if mask_type == 'binary':
            return read_binary_mask(path, self.imdecode_backend,
                                    self.backend_args)
        return read_palette_mask(path, self.palette, self.unknown_color,
                                 self.ignore_index, self.imdecode_backend,
                                 self.backend_args)

    def transform(self, results: dict) -> dict:
        """Load the masks; see the class docstring for the keys."""
        mask_type = self._resolve_type(results)
        paths = results['seg_map_paths']
        valid = results.get('frame_valid', [1] * len(paths))
        expected = results.get('ori_shape')
        masks: List[Optional[np.ndarray]] = []
        for path, is_valid in zip(paths, valid):
            if path is None or not is_valid:
                masks.append(None)
                continue
            mask = self._read(path, mask_type)
            if expected is None:
                expected = mask.shape[:2]
            elif tuple(mask.shape[:2]) != tuple(expected[:2]):
                raise AVSDataError(
                    f'{path}: mask is {mask.shape[1]}x{mask.shape[0]} but its '
                    f'frame is {expected[1]}x{expected[0]} (width x height)')
            masks.append(mask)
        if expected is None:
            raise AVSDataError(
                f'clip "{results.get("clip_name")}": cannot size the masks, '
                'no frame was loaded and no mask exists')
        shape = tuple(expected[:2])
        label_map = results.get('label_map')
        lookup = None
        if label_map:
            lookup = np.arange(256, dtype=np.uint8)
            for old_id, new_id in label_map.items():
                lookup[old_id] = new_id
        gt_seg_maps = []
        for mask, is_valid in zip(masks, valid):
            if mask is None:
                fill = self.ignore_index if is_valid else self.padded_label
                mask = np.full(shape, fill, dtype=np.uint8)
            elif lookup is not None:
                mask = lookup[mask]
            gt_seg_maps.append(mask)
        results['gt_seg_maps'] = gt_seg_maps
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_maps' not in seg_fields:
            seg_fields.append('gt_seg_maps')
        return results

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(mask_type='{self.mask_type}', "
                f"unknown_color='{self.unknown_color}', "
                f'ignore_index={self.ignore_index}, '
                f'padded_label={self.padded_label})')


@TRANSFORMS.register_module()
class LoadAVSAudio(BaseTransform):
    """Load one audio example (or feature vector) per frame of a clip.

    The source follows the file: a ``.pkl`` (the released log-mel tensor,
    or features) or ``.npy`` array is validated and used as is; a ``.wav``
    (or a video's sound track) goes through the VGGish front end
    (:mod:`mmavs.datasets.audio`). Short audio repeats its last example;
    padded frames repeat the last real one. Silence is valid input.

    Required Keys:

    - audio_path (str)
    - num_frames (int)
    - frame_valid (list[int], optional)

    Added Keys:

    - audio (np.ndarray): float32 [T, 1, 96, 64] log-mel examples, or
      [T, feature_dim] precomputed features.

    Args:
        feature_dim (int, optional): Width of precomputed features that are
            accepted; None accepts log-mel arrays only. Defaults to 128.
        backend_args (dict, optional): mmengine file backend arguments.

    Raises:
        AVSDataError: See :func:`load_audio_array`.
    """

    def __init__(self,
                 feature_dim: Optional[int] = 128,
                 backend_args: Optional[dict] = None) -> None:
        self.feature_dim = feature_dim
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        """Load the audio; see the class docstring for the keys."""
        num_frames = results['num_frames']
        valid = results.get('frame_valid')
        num_valid = num_frames if valid is None else int(sum(valid))
        results['audio'] = load_audio_array(results['audio_path'], num_frames,
                                            num_valid, self.feature_dim,
                                            self.backend_args)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(feature_dim={self.feature_dim})'
