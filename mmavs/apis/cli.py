# Copyright (c) mmavs contributors. All rights reserved.
"""``mmavs-demo``: segment the sounding objects of videos from a shell.

Usage::

    mmavs-demo VIDEO [VIDEO ...] --config CONFIG --checkpoint CKPT \\
        [--out-dir OUT] [--fps 1|all] [--device cpu|cuda] [--batch-size N]

Each input (a video file with sound, or a folder of frames with one sound
file) gets ``OUT/<name>/`` with ``masks/*.png``, ``overlay.mp4`` (the
video with the masks drawn on it and its sound) and ``summary.json`` (the
area of each sounding class per second). An input that fails is reported
and skipped; the exit status is 1 when any input failed, 2 for bad
arguments (an unusable checkpoint or output folder included).
"""
import argparse
import os.path as osp
import sys
import time
from typing import List, Optional

from mmavs.datasets.errors import CheckpointError, VideoReadError


def _fps(value: str):
    from .inferencer.sampling import parse_fps
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
        '--checkpoint',
        help='model weights (loaded with weights_only=True: a file holding '
        'anything but tensors is refused; weights that do not fit the '
        'model are an error); without them the model is random (for '
        'testing only)')
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
        '--no-progress', action='store_true', help='hide the progress bars')
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``mmavs-demo``.

    Args:
        argv (list[str], optional): Arguments without the program name.
            Defaults to ``sys.argv[1:]``.

    Returns:
        int: 0 when every input was processed, 1 when some failed (each is
        reported on stderr), 2 for bad arguments: among them a
        ``--checkpoint`` that cannot be loaded safely or does not fit the
        model, and an ``--out-dir`` that cannot be written (both checked
        before any input is segmented).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.config is None and args.checkpoint is None:
        parser.error('give --config, --checkpoint or both')
    if args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    import torch
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device.startswith('cuda') and not torch.cuda.is_available():
        parser.error(f'--device {device}: CUDA is not available here; use '
                     '--device cpu')
    from .inferencer import AVSInferencer
    from .inferencer.preflight import check_out_dir
    try:
        # Before the model is built and any video decoded.
        check_out_dir(args.out_dir)
    except OSError as error:
        parser.error(f'--out-dir {error}')
    start = time.time()
    try:
        inferencer = AVSInferencer(
            args.config,
            weights=args.checkpoint,
            device=device,
            num_frames=args.num_frames,
            show_progress=not args.no_progress)
    except CheckpointError as error:
        # Unusable, refused (code in the file) or not this model's weights.
        parser.error(f'--checkpoint: {error}')
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    failed = []
    used = set()
    for path in args.inputs:
        try:
            result = _run_one(inferencer, path, args, used)
        except (VideoReadError, ValueError, OSError) as error:
            failed.append(path)
            print(f'error: {error}', file=sys.stderr)
            continue
        files = result.get('out_files', {})
        print(f'{path}: {len(result["masks"])} frames '
              f'({result["duration"]:.2f} s, {result["frame_size"][1]}x'
              f'{result["frame_size"][0]}) -> {files.get("dir")}')
    done = len(args.inputs) - len(failed)
    print(f'{done} of {len(args.inputs)} inputs done in '
          f'{time.time() - start:.1f} s; outputs in {args.out_dir}')
    if failed:
        print(f'failed: {", ".join(failed)}', file=sys.stderr)
        return 1
    return 0


def _run_one(inferencer, path: str, args, used: set) -> dict:
    """Segment one input; its outputs go to a folder named after it."""
    from .inferencer.outputs import unique_name
    unique = unique_name(
        osp.splitext(osp.basename(osp.normpath(path)))[0], used)
    if osp.isdir(path):
        item = dict(
            frames=path,
            audio=args.audio,
            frame_rate=args.frame_rate,
            name=unique)
    else:
        item = dict(video=path, name=unique)
    return inferencer(
        item,
        fps=args.fps,
        batch_size=args.batch_size,
        out_dir=args.out_dir,
        save_masks=not args.no_masks,
        save_overlay=not args.no_overlay,
        save_summary=not args.no_summary,
        opacity=args.opacity,
        allow_truncated=args.allow_truncated)


if __name__ == '__main__':
    sys.exit(main())
