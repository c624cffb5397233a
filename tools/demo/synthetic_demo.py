# Copyright (c) mmavs contributors. All rights reserved.
"""The README's main job: train and evaluate AVSegFormer on synthetic data.

On a machine without any download it

1. writes a synthetic AVSBench-S4 set in the released layout (scenes with
   several objects; only the one whose sound plays is labelled),
2. trains a small AVSegFormer on CPU (the Runner's log shows progress),
3. evaluates it on the test split (M_J, M_F) and writes overlay images
   (frames / ground truth / prediction) to ``WORK_DIR/overlays``,
4. evaluates the same model with each clip's audio swapped for the audio of
   a clip with another sounding category: a model that listens drops,
5. prints the figures and the elapsed time.

Usage::

    python tools/demo/synthetic_demo.py [--work-dir work_dirs/demo]
"""
import argparse
import copy
import json
import os.path as osp
import time

from mmengine.config import Config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIG = osp.join(
    REPO_ROOT, 'configs', 'demo',
    'avsegformer-tiny_r18_1xb8-8e_synthetic-s4-64x64.py')


def parse_args():
    parser = argparse.ArgumentParser(description='mmavs synthetic demo')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--num-train', type=int, default=320)
    parser.add_argument('--num-test', type=int, default=40)
    parser.add_argument('--epochs', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def evaluate(cfg: Config, checkpoint: str, work_dir: str, overlay_dir: str,
             swap_audio: bool) -> dict:
    """Test ``checkpoint`` and return the metrics."""
    from mmengine.runner import Runner
    cfg = copy.deepcopy(cfg)  # Config.copy() is shallow
    cfg.work_dir = work_dir
    cfg.load_from = checkpoint
    if swap_audio:
        cfg.test_dataloader.dataset = dict(
            type='AudioSwapDataset', dataset=cfg.test_dataloader.dataset)
    cfg.default_hooks.visualization = dict(
        type='AVSVisualizationHook', draw=True, interval=1, max_clips=1,
        out_dir=overlay_dir)
    return Runner.from_cfg(cfg).test()


def main():
    args = parse_args()
    start = time.time()
    import mmavs  # noqa: F401
    from mmavs.datasets.synthetic import make_synthetic_avsbench

    data_dir = osp.join(args.work_dir, 'data')
    print(f'[1/4] Writing a synthetic AVSBench-S4 set to {data_dir} ...')
    roots = make_synthetic_avsbench(
        data_dir, tasks='s4',
        num_clips=dict(train=args.num_train, val=args.num_test,
                       test=args.num_test),
        image_size=64, num_categories=4, seed=args.seed)
    data_root = roots['s4']
    print(f'      done in {time.time() - start:.0f} s')

    cfg = Config.fromfile(args.config)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    cfg.train_cfg.max_epochs = args.epochs
    cfg.train_cfg.val_interval = args.epochs
    cfg.default_hooks.checkpoint.interval = args.epochs
    cfg.randomness = dict(seed=args.seed)
    cfg.work_dir = osp.join(args.work_dir, 'train')

    from mmengine.runner import Runner
    print(f'[2/4] Training {osp.basename(args.config)} for {args.epochs} '
          'epochs on CPU ...')
    runner = Runner.from_cfg(cfg)
    runner.train()
    checkpoint = osp.join(cfg.work_dir, f'epoch_{args.epochs}.pth')
    train_done = time.time()

    print('[3/4] Testing with the true audio ...')
    true_audio = evaluate(cfg, checkpoint, osp.join(args.work_dir, 'test'),
                          '../overlays', swap_audio=False)
    print('[4/4] Testing with every clip given another clip\'s audio ...')
    swapped = evaluate(cfg, checkpoint,
                       osp.join(args.work_dir, 'test_swapped'),
                       '../overlays_swapped', swap_audio=True)
    elapsed = time.time() - start
    summary = dict(
        M_J=true_audio['M_J'], M_F=true_audio['M_F'],
        M_J_swapped_audio=swapped['M_J'], M_F_swapped_audio=swapped['M_F'],
        train_seconds=round(train_done - start, 1),
        total_seconds=round(elapsed, 1))
    with open(osp.join(args.work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print('\n================ mmavs demo (synthetic AVSBench-S4) ==========')
    print(f'{"":24s}{"M_J":>8s}{"M_F":>8s}')
    print(f'{"true audio":24s}{true_audio["M_J"]:8.2f}'
          f'{true_audio["M_F"]:8.2f}')
    print(f'{"swapped audio":24s}{swapped["M_J"]:8.2f}{swapped["M_F"]:8.2f}')
    print(f'overlays: {osp.join(args.work_dir, "overlays")} '
          '(rows: frames, ground truth, prediction)')
    print(f'elapsed: {elapsed / 60:.1f} min')


if __name__ == '__main__':
    main()
