# Copyright (c) mmavs contributors. All rights reserved.
"""Write a small synthetic AVSBench (S4, MS3, AVSS) in the released layout.

Only the objects whose sound plays are labelled, so a model has to use the
audio. Useful to check the whole pipeline without downloading AVSBench:

    python tools/dataset_converters/make_synthetic_avsbench.py data/AVSBench \
        --tasks s4 ms3 avss --num-train 40 --num-val 10 --num-test 10

then train with the dataset configs, whose ``data_root`` is
``data/AVSBench/{Single-source,Multi-sources,AVSS}``.

A member of the scene family (``mmavs.datasets.synthetic_settings``): a
named setting, changed field by field if need be, e.g. a held-out one with
three sources at a time:

    python tools/dataset_converters/make_synthetic_avsbench.py data/held \
        --setting heldout_fm --set sources_per_second=3 objects_per_clip=3,4

``--list-settings`` (or ``--setting list``) prints the named settings, each
as tuning or held-out, with the fields it changes.
"""
import argparse
import time

from mmavs.datasets.synthetic import make_synthetic_avsbench
from mmavs.datasets.synthetic_settings import (SETTINGS, describe_setting,
                                               parse_overrides,
                                               setting_from_overrides,
                                               setting_group)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write a synthetic AVSBench in the released layout.')
    parser.add_argument(
        'out_dir',
        nargs='?',
        help='output folder; sub-tasks go to Single-source/, '
        'Multi-sources/ and AVSS/ inside it')
    parser.add_argument(
        '--tasks',
        nargs='+',
        default=['s4', 'ms3', 'avss'],
        choices=['s4', 'ms3', 'avss'],
        help='sub-tasks to write (default: all)')
    parser.add_argument('--num-train', type=int, default=40)
    parser.add_argument('--num-val', type=int, default=10)
    parser.add_argument('--num-test', type=int, default=10)
    parser.add_argument(
        '--image-size',
        type=int,
        nargs='+',
        default=[64],
        help='frame size: S or H W (default 64)')
    parser.add_argument(
        '--num-categories',
        type=int,
        help='object categories, 1-8 (default 5); not with --setting, '
        'use --set num_categories=N there')
    parser.add_argument(
        '--objects-per-clip',
        type=int,
        nargs=2,
        metavar=('MIN', 'MAX'),
        help='objects in a clip (default 2 3); not with --setting')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--noise',
        type=float,
        help='std of the white noise added to the audio (default 0.01); '
        'not with --setting')
    parser.add_argument(
        '--setting',
        choices=list(SETTINGS) + ['list'],
        help='a named scene setting (default: the original generator); '
        '"list" lists them')
    parser.add_argument(
        '--set',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='change fields of the setting, e.g. sound_kind=fm '
        'sources_per_second=1,3 pitch_spread=0.3')
    parser.add_argument(
        '--list-settings',
        action='store_true',
        help='print the named settings (tuning or held-out) and exit')
    return parser.parse_args(argv)


def list_settings() -> None:
    """Print every named setting: name, group and what it changes."""
    width = max(len(name) for name in SETTINGS)
    for name, setting in SETTINGS.items():
        print(f'{name:<{width}}  {setting_group(name):<8}  '
              f'{describe_setting(setting)}')


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list_settings or args.setting == 'list':
        list_settings()
        return 0
    if args.out_dir is None:
        raise SystemExit('out_dir is needed (or --list-settings)')
    if len(args.image_size) not in (1, 2):
        raise SystemExit('--image-size takes S or H W')
    image_size = (
        args.image_size[0]
        if len(args.image_size) == 1 else tuple(args.image_size))
    legacy = dict(
        num_categories=args.num_categories,
        objects_per_clip=args.objects_per_clip and tuple(
            args.objects_per_clip),
        noise=args.noise)
    start = time.perf_counter()
    try:
        overrides = parse_overrides(args.set)
        if args.setting is None:
            # The old flags change the default setting, like --set.
            legacy_given = {k: v for k, v in legacy.items() if v is not None}
            setting = setting_from_overrides(None, {
                **legacy_given,
                **overrides
            })
            legacy = {}
        else:
            # A named setting is changed by --set only: make_synthetic_avsbench
            # refuses old flags that disagree with it.
            setting = setting_from_overrides(args.setting, overrides)
        roots = make_synthetic_avsbench(
            args.out_dir,
            tasks=args.tasks,
            num_clips=dict(
                train=args.num_train, val=args.num_val, test=args.num_test),
            image_size=image_size,
            seed=args.seed,
            setting=setting,
            **legacy)
    except ValueError as error:
        # Bad settings are the user's input: a message, not a traceback.
        raise SystemExit(f'error: {error}')
    elapsed = time.perf_counter() - start
    for task, root in roots.items():
        print(f'{task}: {root}')
    print(f'wrote {len(roots)} sub-task(s) in {elapsed:.1f} s')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
