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
import json
import os.path as osp
import sys
import time
from typing import List, Optional

from mmavs.datasets.errors import CheckpointError, VideoReadError
from .cli_args import parse_args


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``mmavs-demo`` (the console script starts in :mod:`mmavs_cli`,
    which parses the arguments without importing mmavs).

    Args:
        argv (list[str], optional): Arguments without the program name.
            Defaults to ``sys.argv[1:]``.

    Returns:
        int: See :func:`run`.
    """
    return run(*parse_args(argv))


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Segment the inputs of parsed ``mmavs-demo`` arguments.

    Each input streams through :meth:`AVSInferencer.iter_frames`: its masks,
    overlay and summary are written as its frames are segmented, and
    memory does not grow with its length. Ctrl-C stops after the current
    frames, leaving their files (the summary marked incomplete).

    Args:
        parser (argparse.ArgumentParser): For argument errors.
        args (argparse.Namespace): The parsed arguments.

    Returns:
        int: 0 when every input was processed, 1 when some failed (each is
        reported on stderr), 2 for bad arguments: among them a
        ``--checkpoint`` that cannot be loaded safely or does not fit the
        model, and an ``--out-dir`` that cannot be written (both checked
        before any input is segmented), 130 after Ctrl-C.
    """
    from .inferencer import AVSInferencer
    from .inferencer.preflight import check_device, check_out_dir

    # Before the model is built and any video decoded.
    try:
        check_device(args.device)
    except ValueError as error:
        parser.error(f'--device: {error}')
    try:
        check_out_dir(args.out_dir)
    except OSError as error:
        parser.error(f'--out-dir {error}')
    start = time.time()
    try:
        inferencer = AVSInferencer(
            args.config,
            weights=args.checkpoint,
            device=args.device,
            num_frames=args.num_frames,
            show_progress=not args.no_progress,
            backend=args.backend)
    except CheckpointError as error:
        # Unusable, refused (code in the file) or not this model's weights.
        parser.error(f'--checkpoint: {error}')
    except (ValueError, FileNotFoundError, ImportError) as error:
        parser.error(str(error))
    from .inferencer.sources import expand_inputs
    inputs = expand_inputs(args.inputs)  # a folder of videos: its videos
    failed = []
    used = set()
    for path in inputs:
        try:
            result = _run_one(inferencer, path, args, used)
        except (VideoReadError, ValueError, OSError) as error:
            failed.append(path)
            print(f'error: {error}', file=sys.stderr)
            continue
        except KeyboardInterrupt:
            print(f'interrupted: the files of {path} hold the frames '
                  'segmented so far (summary.json says "complete": false)',
                  file=sys.stderr)
            return 130
        files = result.get('out_files', {})
        print(f'{path}: {result["num_frames"]} frames '
              f'({result["duration"]:.2f} s, {result["frame_size"][1]}x'
              f'{result["frame_size"][0]}) -> {files.get("dir")}')
        if args.timing:
            timing = {
                key: round(value, 3)
                for key, value in result['timing'].items()
            }
            print('timing: ' + json.dumps(timing))
    done = len(inputs) - len(failed)
    where = f'outputs in {args.out_dir}' if done else 'nothing written'
    print(f'{done} of {len(inputs)} inputs done in '
          f'{time.time() - start:.1f} s; {where}')
    if failed:
        print(f'failed: {", ".join(failed)}', file=sys.stderr)
        return 1
    return 0


def _run_one(inferencer, path: str, args, used: set) -> dict:
    """Segment one input, streaming; its outputs go to a folder named
    after it. Returns the stream's result."""
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
    stream = inferencer.iter_frames(
        item,
        fps=args.fps,
        batch_size=args.batch_size,
        out_dir=args.out_dir,
        save_masks=not args.no_masks,
        save_overlay=not args.no_overlay,
        save_summary=not args.no_summary,
        opacity=args.opacity,
        allow_truncated=args.allow_truncated,
        show=args.show,
        wait_time=args.wait_time,
        img_out_dir=args.img_out_dir,
        **({} if args.overlay_preset is None else dict(
            overlay_preset=args.overlay_preset)))
    for _ in stream:
        pass
    return stream.result


if __name__ == '__main__':
    sys.exit(main())
