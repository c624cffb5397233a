# Copyright (c) mmavs contributors. All rights reserved.
"""Own-video inference at scale: memory and time against video length.

Runs ``mmavs-demo`` (as a user would, one process per run) on generated
videos of several lengths and sizes, at several ``--fps``, and on real
videos, and prints a markdown table of:

- peak RSS of the process (GNU time's ``%M``: ``/usr/bin/time`` is
  needed);
- wall time of the whole command, and the time from the command to the
  first segmented frame;
- the stages, each in its own thread (``--timing`` of ``mmavs-demo``):
  reading (decode, sample, resize, audio), model, masks, overlay decode /
  draw / encode;
- per segmented frame, the stream's time with every output written and,
  where asked (``--bare``), with none (``--no-masks --no-overlay
  --no-summary``), in the same invocation.

Usage::

    python tools/analysis_tools/video_benchmark.py CONFIG [--checkpoint CKPT]
        [--minutes 1 4 10] [--heights 360 720] [--fps 1 all]
        [--real VIDEO ...] [--bare] [--work-dir work_dirs/video_benchmark]
        [--out results.json]

Generated videos (H.264 + AAC stereo 48 kHz, 25 fps, a moving square and a
tone that changes every second) are kept in ``WORK_DIR/videos`` for the
next run. Without a checkpoint the model is random (the speed and memory
are the same). Also reported: ``python -c "import mmseg.models"`` (with
mmavs' stand-in for mmcv's compiled ops), the reference of the start-up
target.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time
from typing import List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

STAND_IN = osp.join(REPO_ROOT, 'mmavs', 'ops', 'mmcv_ext.py')
#: GNU time, which reports a child's own peak RSS.
TIME = '/usr/bin/time'
RSS_TAG = 'peak RSS kB: '

IMPORT_MMSEG = (
    'import importlib.util as u\n'
    f's = u.spec_from_file_location("_stand_in", {STAND_IN!r})\n'
    'm = u.module_from_spec(s); s.loader.exec_module(m)\n'
    'm.install_mmcv_ext_stand_in()\n'
    'import mmseg.models\n')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint')
    parser.add_argument('--minutes', type=float, nargs='*', default=[1, 4])
    parser.add_argument('--heights', type=int, nargs='*', default=[360],
                        help='frame heights of generated videos (16:9)')
    parser.add_argument('--fps', nargs='+', default=['1', 'all'])
    parser.add_argument('--real', nargs='*', default=[],
                        help='real videos to run too')
    parser.add_argument('--bare', action='store_true',
                        help='also run each case without writing outputs')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--overlay-preset', nargs='+', default=[None],
                        help='x264 presets to compare (default: the CLI\'s)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--work-dir', default='work_dirs/video_benchmark')
    parser.add_argument('--out', help='write the figures as JSON')
    return parser.parse_args(argv)


def generated_video(folder: str, minutes: float, height: int) -> str:
    """A generated test video, made once and kept."""
    from mmavs.testing.videos import write_long_test_video
    width = (height * 16 // 9) // 2 * 2
    path = osp.join(folder, f'gen_{minutes:g}min_{height}p.mp4')
    if not osp.exists(path):
        os.makedirs(folder, exist_ok=True)
        write_long_test_video(path + '.part.mp4', minutes * 60, 25,
                              (height, width))
        os.replace(path + '.part.mp4', path)
    return path


def run_demo(args, video: str, fps: str, bare: bool, out_dir: str,
             preset: Optional[str] = None) -> dict:
    """One mmavs-demo run on one video."""
    command = [
        sys.executable, '-u', osp.join(REPO_ROOT, 'mmavs_cli.py'), video,
        '--config', args.config, '--fps', fps, '--device', args.device,
        '--batch-size', str(args.batch_size), '--out-dir', out_dir,
        '--no-progress', '--timing'
    ]
    if args.checkpoint:
        command += ['--checkpoint', args.checkpoint]
    if bare:
        command += ['--no-masks', '--no-overlay', '--no-summary']
    elif preset:
        command += ['--overlay-preset', preset]
    # Peak RSS of this child alone, as GNU time reports it: Linux counts
    # the parent's peak in a child's ru_maxrss (it survives fork and exec),
    # and this parent holds mmavs; time's own is a few MB.
    start = time.time()
    done = subprocess.run(
        [TIME, '-f', f'{RSS_TAG}%M'] + command, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, cwd=REPO_ROOT)
    output = done.stdout
    wall = time.time() - start
    if done.returncode != 0:
        raise RuntimeError(f'mmavs-demo failed on {video}:\n{output[-3000:]}')
    peak_kb = int([line for line in output.splitlines()
                   if line.startswith(RSS_TAG)][-1][len(RSS_TAG):])
    timing = json.loads(
        [line for line in output.splitlines()
         if line.startswith('timing: ')][-1][len('timing: '):])
    frames = int([line for line in output.splitlines()
                  if line.startswith(video)][-1].split(': ')[1].split()[0])
    size = 0
    for folder, _, files in os.walk(out_dir):
        size += sum(osp.getsize(osp.join(folder, f)) for f in files
                    if f == 'overlay.mp4')
    return dict(
        video=osp.basename(video), fps=fps, bare=bare, frames=frames,
        preset=None if bare else preset, overlay_mb=round(size / 2**20, 2),
        peak_rss_mb=round(peak_kb / 1024, 1), wall=round(wall, 2),
        first_frame=round(timing['first_frame_at'] - start, 2),
        per_frame=round(timing['wall'] / max(frames, 1), 4),
        stages={k: v for k, v in timing.items()
                if k not in ('first_frame_at', 'first_frame')})


def import_time(repeats: int = 3) -> float:
    """Median seconds of ``python -c "import mmseg.models"``."""
    times = []
    for _ in range(repeats):
        start = time.time()
        subprocess.run([sys.executable, '-c', IMPORT_MMSEG], check=True,
                       capture_output=True)
        times.append(time.time() - start)
    return sorted(times)[len(times) // 2]


def table(rows: List[dict]) -> str:
    lines = [
        '| video | fps | outputs | frames | peak RSS (MB) | wall (s) | '
        'first frame (s) | s / frame | read | model | masks | overlay '
        '(decode / draw / encode) | overlay.mp4 (MB) |', '|' + '---|' * 13
    ]
    for row in rows:
        stage = row['stages']
        overlay = '/'.join(
            f'{stage.get(k, 0):.1f}'
            for k in ('overlay_decode', 'overlay_draw', 'overlay_encode'))
        lines.append(
            f'| {row["video"]} | {row["fps"]} | '
            f'{"none" if row["bare"] else row["preset"] or "all"} | '
            f'{row["frames"]} | '
            f'{row["peak_rss_mb"]:.0f} | {row["wall"]:.1f} | '
            f'{row["first_frame"]:.1f} | {row["per_frame"]:.3f} | '
            f'{stage["read"]:.1f} | {stage["model"]:.1f} | '
            f'{stage.get("masks", 0):.1f} | {overlay} | '
            f'{row["overlay_mb"]:.2f} |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    videos = [
        generated_video(osp.join(args.work_dir, 'videos'), minutes, height)
        for height in args.heights for minutes in args.minutes
    ] + list(args.real)
    reference = import_time()
    print(f'python -c "import mmseg.models": {reference:.2f} s', flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as out_dir:
        for video in videos:
            for fps in args.fps:
                runs = [(False, preset) for preset in args.overlay_preset]
                if args.bare:
                    runs.append((True, None))
                for bare, preset in runs:
                    shutil.rmtree(out_dir)
                    os.makedirs(out_dir)
                    row = run_demo(args, video, fps, bare, out_dir, preset)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print(table(rows))
    if args.out:
        with open(args.out, 'w') as file:
            json.dump(dict(import_mmseg_models=reference, runs=rows), file,
                      indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
