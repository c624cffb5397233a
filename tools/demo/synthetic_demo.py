# Copyright (c) mmavs contributors. All rights reserved.
"""The README's main job: train AVSegFormer on synthetic data and report how
much it listens.

On a machine without any download it

1. writes a synthetic AVSBench set in the released layout: S4 (scenes with
   several objects, only the one whose sound plays is labelled) or, with
   ``--task ms3``, MS3 (2-4 objects, one or two sounding at once, all five
   frames labelled),
2. trains a small AVSegFormer with a light trainable audio encoder on CPU
   (the Runner's log shows progress),
3. evaluates it three times (the listening report,
   :func:`mmavs.apis.listening.listening_report`): with the true audio, with
   every clip given another clip's audio, and with silence; a model that
   listens drops without its sound. Overlay images (frames / ground truth /
   prediction) go to ``WORK_DIR/{true,swapped,silent}/overlays``,
4. prints the table and writes it with the timings to
   ``WORK_DIR/summary.json``; the trained model is ``WORK_DIR/model.pth``
   (for ``mmavs-demo --checkpoint`` with the config it was trained with).

``--setting`` picks the scenes (:mod:`mmavs.datasets.synthetic_settings`;
``make_synthetic_avsbench.py --list-settings`` lists them). Several
settings, or a group (``tuning``, ``held-out``), train one model per
setting, each in ``WORK_DIR/SETTING`` as above, then print one table with
the worst case (:func:`mmavs.apis.listening.format_settings_report`) and
write ``WORK_DIR/settings_summary.json``: a recipe is judged by the
settings it was not tuned on.

Usage::

    python tools/demo/synthetic_demo.py [--task s4|ms3]
        [--work-dir work_dirs/demo] [--config CONFIG] [--val-interval 1]
        [--setting NAME [NAME ...] | --setting held-out]
"""
import argparse
import json
import os
import os.path as osp
import shutil
import time

from mmengine.config import Config, DictAction

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Per task: the default config, the synthetic set it trains on and how
#: many training clips it gets. S4 labels one frame per training clip; its
#: recipe trains on 640 clips for 8 epochs rather than on 320 for 16 (the
#: same iterations on more varied scenes, chosen on the tuning settings:
#: docs/benchmark.md). MS3 labels all five frames of each of its 320 clips.
TASKS = dict(
    s4=dict(
        config='avsegformer-tiny_r18-lightaudio_1xb8-8e_synthetic-s4-64x64'
        '.py',
        dataset='AVSBenchS4Dataset', num_categories=4,
        objects_per_clip=(2, 3), num_train=640),
    ms3=dict(
        config='avsegformer-tiny_r18-lightaudio_1xb8-8e_synthetic-ms3-64x64'
        '.py',
        dataset='AVSBenchMS3Dataset', num_categories=5,
        objects_per_clip=(2, 4), num_train=320))


def positive_int(text):
    """An argparse type: a count of at least 1 (``0`` is not "default")."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be at least 1, got {value}')
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmavs synthetic demo')
    parser.add_argument('--task', choices=sorted(TASKS), default='s4')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument(
        '--config', help='model config (default: configs/demo/ light audio '
        'encoder config of the task); an S4 or MS3 config is pointed at the '
        'synthetic set of --task')
    parser.add_argument(
        '--num-train', type=positive_int, help='training clips (default: '
        + ', '.join(f'{task["num_train"]} for {name}'
                    for name, task in TASKS.items())
        + ': the recipe the configs were chosen with)')
    parser.add_argument('--num-test', type=positive_int, default=40)
    parser.add_argument(
        '--epochs', type=positive_int, help='training epochs (default: '
        "the config's max_epochs, the schedule the config ships)")
    parser.add_argument(
        '--val-interval', type=positive_int, help='validate every N epochs '
        '(learning curves); default: once, after the last epoch')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
        help='override config settings, as tools/train.py does (e.g. '
        'model.decode_head.mixer=None for an ablation)')
    parser.add_argument(
        '--setting', nargs='+', metavar='NAME', help='synthetic scene '
        'settings (names, or the groups "tuning" / "held-out"); several: '
        'one model per setting and a table with the worst case. Default: '
        "the demo's own scenes")
    return parser.parse_args(argv)


def training_clips(args):
    """``--num-train``, or the number of clips the task's recipe trains on.

    Args:
        args (argparse.Namespace): The command line.

    Returns:
        int: Training clips to write.
    """
    if args.num_train is None:
        return TASKS[args.task]['num_train']
    return args.num_train


def expand_settings(names):
    """Setting names with the groups ``tuning`` and ``held-out`` spelled
    out, in order, each once; unknown names end the run before any work."""
    from mmavs.datasets.synthetic_settings import (SETTINGS,
                                                   held_out_settings,
                                                   tuning_settings)
    groups = {'tuning': tuning_settings(), 'held-out': held_out_settings()}
    expanded = []
    for name in names:
        if name not in groups and name not in SETTINGS:
            raise SystemExit(
                f'error: unknown setting {name!r}; choose from '
                f'{", ".join(list(groups) + list(SETTINGS))}')
        for one in groups.get(name, [name]):
            if one not in expanded:
                expanded.append(one)
    return expanded


def main(argv=None):
    args = parse_args(argv)
    if not args.setting:
        run_one(args, args.work_dir, None)
        return
    names = expand_settings(args.setting)
    if len(names) == 1:
        run_one(args, args.work_dir, names[0])
        return
    from mmavs.apis.listening import format_settings_report
    summaries = {}
    for index, name in enumerate(names, start=1):
        print(f'\n#### setting {index}/{len(names)}: {name}')
        summaries[name] = run_one(args, osp.join(args.work_dir, name), name)
    reports = {name: summary['listening']
               for name, summary in summaries.items()}
    table = format_settings_report(reports)
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'settings_summary.json'), 'w') as f:
        json.dump(dict(task=args.task, settings=summaries, table=table), f,
                  indent=2)
    print(f'\n============ mmavs demo: {len(names)} settings '
          f'(synthetic AVSBench-{args.task.upper()}, test sets) ============')
    print(table)
    train_minutes = [s['train_seconds'] / 60 for s in summaries.values()]
    print(f'training per setting: {min(train_minutes):.1f}-'
          f'{max(train_minutes):.1f} min')


def run_one(args, work_dir, setting):
    """Write one synthetic set, train on it, run the listening report.

    Args:
        args (argparse.Namespace): The command line.
        work_dir (str): Where the data, the training and the report go.
        setting (str | None): A synthetic setting name; ``None`` for the
            demo's own scenes (the task's categories and object counts).

    Returns:
        dict: What ``WORK_DIR/summary.json`` holds.
    """
    task = TASKS[args.task]
    num_train = training_clips(args)
    config = args.config or osp.join(REPO_ROOT, 'configs', 'demo',
                                     task['config'])
    start = time.time()
    load_start = os.getloadavg()
    import mmavs  # noqa: F401
    from mmavs.apis.listening import (format_listening_report,
                                      listening_report)
    from mmavs.datasets.synthetic import make_synthetic_avsbench

    data_dir = osp.join(work_dir, 'data')
    name = f'AVSBench-{args.task.upper()}'
    print(f'[1/3] Writing a synthetic {name} set to {data_dir} ...')
    scenes = dict(setting=setting) if setting else dict(
        num_categories=task['num_categories'],
        objects_per_clip=task['objects_per_clip'])
    data_root = make_synthetic_avsbench(
        data_dir, tasks=args.task,
        num_clips=dict(train=num_train, val=args.num_test,
                       test=args.num_test),
        image_size=64, seed=args.seed, **scenes)[args.task]
    data_done = time.time()
    print(f'      done in {data_done - start:.0f} s')

    cfg = Config.fromfile(config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
        cfg[loader].dataset.type = task['dataset']
    epochs = args.epochs or cfg.train_cfg.max_epochs
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = args.val_interval or epochs
    cfg.default_hooks.checkpoint.interval = epochs
    cfg.randomness = dict(seed=args.seed)
    cfg.work_dir = osp.join(work_dir, 'train')

    from mmengine.runner import Runner
    print(f'[2/3] Training {osp.basename(config)} for {epochs} '
          'epochs on CPU ...')
    cpu_start = time.process_time()
    runner = Runner.from_cfg(cfg)
    runner.train()
    train_cpu = time.process_time() - cpu_start
    # A stable name for the README's own-video commands.
    checkpoint = osp.join(work_dir, 'model.pth')
    shutil.copyfile(
        osp.join(cfg.work_dir, f'epoch_{epochs}.pth'), checkpoint)
    train_done = time.time()
    load_train = os.getloadavg()

    print('[3/3] Listening report: testing with the true audio, with every '
          "clip given another clip's audio, and with silence ...")
    cfg.default_hooks.visualization = dict(
        type='AVSVisualizationHook', draw=True, interval=1, max_clips=1,
        out_dir='overlays')
    report = listening_report(cfg, checkpoint, work_dir=work_dir)
    elapsed = time.time() - start
    summary = dict(
        task=args.task,
        setting=setting,
        config=osp.basename(config),
        cfg_options=args.cfg_options or {},
        num_train=num_train,
        num_test=args.num_test,
        epochs=epochs,
        M_J=report['true']['M_J'],
        M_F=report['true']['M_F'],
        listening={mode: report[mode]
                   for mode in ('keys', 'true', 'swapped', 'silent', 'drop')},
        data_seconds=round(data_done - start, 1),
        train_seconds=round(train_done - data_done, 1),
        train_cpu_seconds=round(train_cpu, 1),
        test_seconds=round(time.time() - train_done, 1),
        total_seconds=round(elapsed, 1),
        # The machine may be shared: the load next to the times.
        load_average=dict(start=load_start, after_training=load_train),
        cpu_count=os.cpu_count())
    with open(osp.join(work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print(f'\n============ mmavs demo (synthetic {name}, test set, '
          f'{report["num_clips"]} clips) ============')
    print(format_listening_report(report))
    print('overlays (rows: frames, ground truth, prediction): '
          f'{osp.join(work_dir, "{true,swapped,silent}", "overlays")}')
    print(f'model: {checkpoint} (config: {config})')
    print(f'training: {summary["train_seconds"] / 60:.1f} min, '
          f'elapsed: {elapsed / 60:.1f} min')
    return summary


if __name__ == '__main__':
    main()
