# Copyright (c) mmavs contributors. All rights reserved.
"""Evaluate an mmavs checkpoint: ``python tools/test.py CONFIG CHECKPOINT``.

The metrics (M_J / M_F for S4 and MS3, in both the per-frame and the
release reductions; mIoU / F for AVSS) are printed as tables. ``--out DIR``
writes per-clip scores (``per_clip_scores.json`` / ``.csv``) and the
predicted masks (``DIR/{clip}/{frame}.png``); ``--show-dir DIR`` draws
every test clip as a grid (rows: frames, ground truth, prediction) and
``--show`` shows each grid in a window (``--wait-time`` seconds, 0 = until
a key). Test-time augmentation (mmseg's ``--tta``) does not apply: no
mmavs model has a TTA pipeline.

``--listening`` evaluates the checkpoint three times, with the true audio,
with every clip given another clip's audio and with silence, and prints the
scores and their drops (the listening report, :mod:`mmavs.apis.listening`);
it is written to ``WORK_DIR/listening/listening_report.json`` (and to
``--out``, whose per-clip scores and masks go to one subfolder per audio).
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def parse_args():
    parser = argparse.ArgumentParser(description='Test an mmavs segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs and metrics go')
    parser.add_argument(
        '--out', help='directory for per-clip scores and predicted masks')
    parser.add_argument(
        '--show-dir',
        help='directory for drawn clips: one grid per clip, rows of frames, '
        'ground truth and prediction')
    parser.add_argument(
        '--show',
        action='store_true',
        help='show each drawn clip in a window (needs a display)')
    parser.add_argument(
        '--wait-time',
        type=float,
        default=0,
        help='with --show, seconds each clip stays; 0 waits for a key')
    parser.add_argument(
        '--listening',
        action='store_true',
        help='listening report: test with the true, swapped and silent '
        'audio and print the drops')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. '
        'test_evaluator.mode=release test_evaluator.release_batch_frames=20')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def set_evaluator_output(cfg: Config, out_dir: str) -> None:
    """Point every test metric's ``output_dir`` to ``out_dir`` and keep the
    predicted masks there (as mmseg's ``tools/test.py --out`` does)."""
    evaluators = cfg.test_evaluator
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
    for evaluator in evaluators:
        evaluator['output_dir'] = out_dir
        evaluator['keep_results'] = True


def main():
    args = parse_args()
    import mmavs  # noqa: F401  (compatibility layer first)
    from mmavs.utils.runtime import setup_cpu_distributed

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.out:
        set_evaluator_output(cfg, args.out)
    if args.show_dir or args.show:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise ValueError('--show-dir / --show need '
                             'default_hooks.visualization in the config')
        hook.update(draw=True, max_clips=None)
        if args.show:
            from mmavs.visualization import check_display
            check_display(opencv=False)
            hook.update(show=True, wait_time=args.wait_time)
        if args.show_dir:
            cfg.visualizer['save_dir'] = args.show_dir
    setup_cpu_distributed(cfg, args.launcher)

    if args.listening:
        from mmengine.dist import is_main_process

        from mmavs.apis.listening import (format_listening_report,
                                          listening_report)
        report = listening_report(
            cfg, args.checkpoint, work_dir=osp.join(cfg.work_dir,
                                                    'listening'),
            out_dir=args.out)
        if is_main_process():
            print('listening report (test set, '
                  f'{report["num_clips"]} clips):')
            print(format_listening_report(report))
        return

    runner = Runner.from_cfg(cfg)
    runner.test()


if __name__ == '__main__':
    main()
