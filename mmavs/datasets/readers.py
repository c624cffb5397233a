# Copyright (c) mmavs contributors. All rights reserved.
"""Read one file of an audio-visual clip: a frame, a mask, its audio.

Each reader raises :class:`~mmavs.datasets.errors.AVSDataError` naming the
file and the problem. The loading transforms use them for a whole clip,
``tools/dataset_converters/avsbench_check.py`` to check every file of a data
set, and the inferencer to read frame folders.
"""
import io
import os.path as osp
from typing import Optional, Sequence, Tuple

import mmcv
import mmengine.fileio as fileio
import numpy as np

from .audio import (EXAMPLE_SECONDS, EXAMPLE_SHAPE, SAMPLE_RATE,
                    SILENCE_PEAK, fit_num_examples, load_pickled_array,
                    load_waveform, waveform_to_log_mel_examples)
from .errors import AVSDataError, report_suspicious
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


def _decode_image(path: str,
                  what: str,
                  flag: str,
                  imdecode_backend: str = 'cv2',
                  backend_args: Optional[dict] = None,
                  **kwargs) -> Tuple[np.ndarray, bytes]:
    """Read and decode an image file; the image and the file's bytes."""
    data = read_file_bytes(path, what, backend_args)
    try:
        image = mmcv.imfrombytes(
            data, flag=flag, backend=imdecode_backend, **kwargs)
    except Exception as error:
        raise AVSDataError(f'{path}: {what} cannot be decoded as an image '
                           f'({type(error).__name__}: {error})') from error
    if image is None:
        raise AVSDataError(f'{path}: {what} cannot be decoded as an image')
    return image, data


def read_frame(path: str,
               color_type: str = 'color',
               imdecode_backend: str = 'cv2',
               backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a video frame as a BGR image.

    Any format the backend decodes works, whatever its extension; 16-bit,
    grey and RGBA images become 8-bit BGR (alpha dropped).

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
    return _decode_image(path, 'frame', color_type, imdecode_backend,
                         backend_args)[0]


def is_jpeg(data: bytes) -> bool:
    """Whether file bytes are a JPEG image (whatever the file is called).

    Args:
        data (bytes): The file's content.

    Returns:
        bool: True for the JPEG start-of-image marker.
    """
    return data[:3] == b'\xff\xd8\xff'


def read_binary_mask(path: str,
                     imdecode_backend: str = 'cv2',
                     backend_args: Optional[dict] = None,
                     strict: bool = False) -> np.ndarray:
    """Read an S4/MS3 mask; any non-zero pixel is foreground.

    The release stores 0/255 PNGs; any two-level mask (0/1, 0/65535) and
    RGB masks work too (a pixel is foreground when any colour channel is
    non-zero). Suspicious masks are used with a warning (an error when
    ``strict``), see ``docs/data_checks.md``:

    - more than two grey levels (anti-aliased edges): every non-zero pixel
      is foreground, as in AVSBench;
    - JPEG data (lossy, whatever the extension): compression noise would
      turn into foreground, so the mask is split at half its range;
    - RGBA with black colour channels and the labels in the alpha channel:
      the alpha channel is the mask.

    Args:
        path (str): The PNG.
        imdecode_backend (str): Decoding backend. Defaults to 'cv2'.
        backend_args (dict, optional): mmengine file backend arguments.
        strict (bool): Raise on suspicious masks. Defaults to False.

    Returns:
        np.ndarray: uint8 [H, W] with values 0/1.

    Raises:
        AVSDataError: The file is missing, empty or not decodable, or
            (``strict``) suspicious.
    """
    mask, data = _decode_image(path, 'mask', 'unchanged', imdecode_backend,
                               backend_args)
    if mask.ndim == 3:
        colour = mask[..., :min(3, mask.shape[2])].max(axis=2)
        alpha = mask[..., 3] if mask.shape[2] == 4 else None
        if alpha is not None and not colour.any() and \
                alpha.min() != alpha.max():
            report_suspicious(
                path, 'alpha_mask', 'the colour channels are black and the '
                'labels are in the alpha channel; the alpha channel is used '
                'as the mask', strict)
            colour = alpha
        mask = colour
    full_scale = np.iinfo(mask.dtype).max if mask.dtype.kind in 'ui' else 1
    if is_jpeg(data):
        noise = int(((mask > 0) & (mask < full_scale)).sum())
        report_suspicious(
            path, 'lossy_mask', 'the mask is JPEG-compressed (lossy): '
            f'{noise} pixels ({100 * noise / mask.size:.1f}%) are neither 0 '
            f'nor {full_scale}; pixels above {full_scale // 2} are '
            'foreground', strict)
        return (mask > full_scale // 2).astype(np.uint8)
    # More than two levels <=> some pixel is neither the lowest nor the
    # highest; np.unique (a sort of every mask) only for the message.
    low, high = mask.min(), mask.max()
    if ((mask != low) & (mask != high)).any():
        levels = np.unique(mask)
        grey = int(((mask > 0) & (mask != levels[-1])).sum())
        report_suspicious(
            path, 'grey_mask', f'the mask has {len(levels)} grey levels: '
            f'{grey} pixels ({100 * grey / mask.size:.1f}%) are neither 0 '
            f'nor {int(levels[-1])} (anti-aliased edges?); every non-zero '
            'pixel is foreground, as in AVSBench', strict)
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
    rgb = _decode_image(
        path,
        'mask',
        'color',
        imdecode_backend,
        backend_args,
        channel_order='rgb')[0]
    return decode_palette_mask(rgb, palette, path, unknown_color, ignore_index)


def _check_array_values(array: np.ndarray, path: str) -> np.ndarray:
    """Numbers only: float arrays pass, anything else is refused by name."""
    if array.dtype.kind == 'O':
        raise AVSDataError(f'{path}: audio array holds Python objects '
                           '(dtype object), not numbers')
    if array.dtype.kind != 'f':
        # Log-mel values are logarithms and features are activations: an
        # integer or boolean array is something else, not to be cast.
        raise AVSDataError(
            f'{path}: audio array has dtype {array.dtype}; log-mel '
            'examples and features are floating point')
    finite = np.isfinite(array)
    if not finite.all():
        raise AVSDataError(f'{path}: audio array holds '
                           f'{int((~finite).sum())} NaN or infinite values')
    return array


def _load_precomputed(path: str, data: bytes) -> np.ndarray:
    if osp.splitext(path)[1].lower() == '.pkl':
        return load_pickled_array(data, name=path)
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as error:
        raise AVSDataError(f'{path}: cannot load a .npy array '
                           f'({type(error).__name__}: {error})') from error


def _check_sound_length(path: str, waveform: np.ndarray, num_examples: int,
                        num_valid: int, strict: bool) -> None:
    """Warn when a clip's sound does not cover its frames, or runs on."""
    seconds = waveform.shape[0] / SAMPLE_RATE
    if num_examples < num_valid:
        report_suspicious(
            path, 'sound_length', f'the sound lasts {seconds:.2f} s: '
            f'{num_examples} examples of {EXAMPLE_SECONDS} s for '
            f'{num_valid} frames; the last example is repeated for frames '
            f'{num_examples + 1}-{num_valid}', strict)
    elif num_examples > num_valid:
        report_suspicious(
            path, 'sound_length', f'the sound lasts {seconds:.2f} s: '
            f'{num_examples} examples of {EXAMPLE_SECONDS} s for '
            f'{num_valid} frames; the sound after '
            f'{num_valid * EXAMPLE_SECONDS:.2f} s is not used', strict)
    if np.abs(waveform).max() < SILENCE_PEAK:
        report_suspicious(
            path, 'silent_sound', 'the sound is silent (peak below -80 '
            'dBFS): no object can be heard', strict)


def load_audio_array(path: str,
                     num_frames: int,
                     num_valid: Optional[int] = None,
                     feature_dim: Optional[int] = 128,
                     backend_args: Optional[dict] = None,
                     strict: bool = False) -> np.ndarray:
    """Load the audio of a clip: one log-mel example (or feature) per frame.

    ``.pkl``/``.npy`` files hold precomputed float arrays: log-mel examples
    [n, 1, 96, 64] (the released ``.pkl``, pickled or ``torch.save``-d) or
    features [n, feature_dim]; ``n`` must be ``num_frames`` or
    ``num_valid``. Any other file is read as audio (wav through soundfile,
    videos through PyAV) and turned into VGGish examples. Sound that does
    not cover the clip's real frames (its last example is repeated) or runs
    past them (the rest is cut), and silent sound, are used with a warning
    (an error when ``strict``). Frames beyond ``num_valid`` (padding)
    repeat the last real example.

    Args:
        path (str): The audio file.
        num_frames (int): T, examples wanted.
        num_valid (int, optional): Real (non-padded) frames. Defaults to T.
        feature_dim (int, optional): Accepted width of precomputed features;
            None accepts log-mel arrays only. Defaults to 128.
        backend_args (dict, optional): mmengine file backend arguments (for
            ``.pkl``/``.npy``; audio and video files must be local).
        strict (bool): Raise on suspicious sound. Defaults to False.

    Returns:
        np.ndarray: float32 [T, 1, 96, 64] or [T, feature_dim].

    Raises:
        AVSDataError: The file is missing, unreadable, empty, shorter than
            one 0.96 s example, holds NaN/inf, or holds an array of the
            wrong shape or type; with ``strict`` also suspicious sound.
    """
    num_valid = num_frames if num_valid is None else num_valid
    if osp.splitext(path)[1].lower() in ARRAY_EXTENSIONS:
        array = np.asarray(
            _load_precomputed(path, read_file_bytes(path, 'audio',
                                                    backend_args)))
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
        array = _check_array_values(array, path)[:num_valid]
    else:
        waveform = load_waveform(path, SAMPLE_RATE)
        array = waveform_to_log_mel_examples(waveform, SAMPLE_RATE)
        if array.shape[0] == 0:
            seconds = waveform.shape[0] / SAMPLE_RATE
            raise AVSDataError(f'{path}: audio is too short ({seconds:.3f} '
                               's); one log-mel example needs 0.96 s')
        _check_sound_length(path, waveform, array.shape[0], num_valid,
                            strict)
        array = fit_num_examples(array, num_valid)
    return fit_num_examples(array, num_frames).astype(np.float32)
