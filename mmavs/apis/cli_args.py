# Copyright (c) mmavs contributors. All rights reserved.
"""The ``mmavs-demo`` command's arguments: the parser and :func:`parse_fps`.

Importing ``mmavs`` registers every component into mmseg's registries,
which loads torch, mmcv and mmseg (several seconds). So this module
imports nothing but the standard library: the console script
(:mod:`mmavs_cli`, a shim at the top level) loads it by its file path,
without running ``mmavs/__init__``, so that ``--help`` and argument errors
answer at once, and imports :mod:`mmavs.apis.cli` only to run them.
Inside the package it is an ordinary module: the inferencer's
:func:`~mmavs.apis.inferencer.sampling.parse_fps` is this one.
"""
import argparse
import math
import numbers
from typing import List, Optional, Tuple, Union


def parse_fps(value: Union[float, int, str]) -> Union[float, str]:
    """Check a sampling rate: a positive number or ``'all'``.

    Args:
        value (float | int | str): E.g. ``1``, ``'2.5'``, ``'all'``.

    Returns:
        float | str: The rate as a float, or ``'all'``.

    Raises:
        ValueError: Anything else (zero, negative, not a number).
    """
    if isinstance(value, str):
        if value.strip().lower() == 'all':
            return 'all'
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"fps must be a number or 'all', got "
                             f'{value!r}') from None
    if isinstance(value, bool) or \
            not isinstance(value, numbers.Real) or not value > 0 or \
            math.isinf(value):
        raise ValueError(f"fps must be a positive number or 'all', got "
                         f'{value!r}')
    return float(value)


def _fps(value: str):
    try:
        return parse_fps(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive number or 'all', got {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mmavs-demo``.

    Returns:
        argparse.ArgumentParser: The parser.
    """
    parser = argparse.ArgumentParser(
        prog='mmavs-demo',
        description='Segment the objects that make the sound in videos: '
        'writes mask PNGs, an overlay video with the original sound and a '
        'JSON summary per input.')
    parser.add_argument(
        'inputs',
        nargs='+',
        help='video files with a sound track (mp4, mkv, avi, webm, ...) or '
        'folders of frames holding one sound file')
    parser.add_argument(
        '--config',
        help='config file or name of a shipped config (e.g. '
        'avsegformer_r50_1xb4-30e_avsbench-s4-224x224); default: the '
        'config saved in the checkpoint')
    parser.add_argument(
        '--backend',
        default=None,
        choices=('pytorch', 'onnxruntime', 'openvino'),
        help='what runs the model: PyTorch (default for .pth), ONNX Runtime '
        '(default for a .onnx --checkpoint) or OpenVINO (a .onnx '
        'exported by tools/deployment/pytorch2onnx.py)')
    parser.add_argument(
        '--checkpoint',
        help='model weights (loaded with weights_only=True: a file holding '
        'anything but tensors is refused; weights that do not fit the '
        'model are an error), or an exported .onnx graph; without them '
        'the model is random (for testing only)')
    parser.add_argument(
        '--out-dir',
        default='outputs',
        help='output folder (default: '
        '%(default)s)')
    parser.add_argument(
        '--fps',
        type=_fps,
        default=1.0,
        help="frames per second to segment: 1 as AVSBench (default), or "
        "'all' for every frame (smooth overlay, slower)")
    parser.add_argument(
        '--device',
        default=None,
        help='cpu, cuda or cuda:N (default: cuda when available)')
    parser.add_argument(
        '--batch-size', type=int, default=1, help='clips per forward pass')
    parser.add_argument(
        '--num-frames',
        type=int,
        default=None,
        help='frames per clip T (default: the config data set\'s, 5 or 10)')
    parser.add_argument(
        '--opacity',
        type=float,
        default=0.5,
        help='mask opacity in the '
        'overlay (default: %(default)s)')
    parser.add_argument(
        '--frame-rate',
        type=float,
        default=None,
        help='frame rate of frame-folder inputs (default: frames / sound '
        'duration)')
    parser.add_argument(
        '--audio',
        default=None,
        help='sound file for frame-folder inputs (default: the one sound '
        'file in the folder)')
    parser.add_argument(
        '--allow-truncated',
        action='store_true',
        help='segment the decodable part of truncated files instead of '
        'failing')
    parser.add_argument(
        '--no-masks', action='store_true', help='do not write mask PNGs')
    parser.add_argument(
        '--no-overlay', action='store_true', help='do not write overlay.mp4')
    parser.add_argument(
        '--no-summary',
        action='store_true',
        help='do not write '
        'summary.json')
    parser.add_argument(
        '--img-out-dir',
        default='',
        help='also write the overlay of each segmented frame as a PNG to '
        'this sub-folder of each input\'s folder (default: none)')
    parser.add_argument(
        '--show',
        action='store_true',
        help='show each segmented frame with its mask in a window (needs a '
        'display and OpenCV with a GUI)')
    parser.add_argument(
        '--wait-time',
        type=float,
        default=0,
        help='with --show, seconds each frame stays; 0 waits for a key '
        '(default)')
    parser.add_argument(
        '--overlay-preset',
        default=None,
        choices=('ultrafast', 'superfast', 'veryfast', 'faster', 'fast',
                 'medium', 'slow'),
        help='x264 preset of overlay.mp4: faster presets write larger files '
        '(default: superfast; see docs/benchmark.md)')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bars')
    parser.add_argument(
        '--timing',
        action='store_true',
        help='print, per input, the time to the first segmented frame and '
        'what each stage took (decoding, model, masks, overlay)')
    return parser


def parse_args(argv: Optional[List[str]] = None
               ) -> Tuple[argparse.ArgumentParser, argparse.Namespace]:
    """Parse and check ``mmavs-demo``'s arguments (an error exits with 2).

    Args:
        argv (list[str], optional): Arguments without the program name.
            Defaults to ``sys.argv[1:]``.

    Returns:
        tuple: The parser (for later argument errors) and the arguments;
        :func:`mmavs.apis.cli.run` runs them.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.config is None and args.checkpoint is None:
        parser.error('give --config, --checkpoint or both')
    if args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    return parser, args
