# Copyright (c) mmavs contributors. All rights reserved.
"""Read one file of an audio-visual clip: a frame, a mask, its audio.

Each reader raises :class:`~mmavs.datasets.errors.AVSDataError` naming the
file and the problem. The loading transforms use them for a whole clip,
``tools/dataset_converters/avsbench_check.py`` to check every file of a data
set, and the inferencer to read frame folders.
"""
import io
import os.path as osp
from typing import Optional, Sequence

import mmcv
import mmengine.fileio as fileio
import numpy as np

from .audio import (EXAMPLE_SHAPE, SAMPLE_RATE, fit_num_examples,
                    load_pickled_array, load_waveform,
                    waveform_to_log_mel_examples)
from .errors import AVSDataError
from .metainfo import AVSS_PALETTE

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


def check_unknown_color(unknown_color: str) -> None:
    """Validate the ``unknown_color`` policy of the palette-mask readers.

    Args:
        unknown_color (str): ``'error'``, ``'background'`` or ``'ignore'``.

    Raises:
        ValueError: Any other value.
    """
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
    check_unknown_color(unknown_color)
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
