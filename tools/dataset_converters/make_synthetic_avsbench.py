# Copyright (c) mmavs contributors. All rights reserved.
"""Write a small synthetic AVSBench (S4, MS3, AVSS) in the released layout.

Only the objects whose sound plays are labelled, so a model has to use the
audio. Useful to check the whole pipeline without downloading AVSBench:

    python tools/dataset_converters/make_synthetic_avsbench.py data/AVSBench \
        --tasks s4 ms3 avss --num-train 40 --num-val 10 --num-test 10

then train with the dataset configs, whose ``data_root`` is
``data/AVSBench/{Single-source,Multi-sources,AVSS}``.
"""
import argparse
import time

from mmavs.datasets.synthetic import make_synthetic_avsbench


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write a synthetic AVSBench in the released layout.')
    parser.add_argument(
        'out_dir',
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
        default=5,
        help='object categories, 1-8 (default 5)')
    parser.add_argument(
        '--objects-per-clip',
        type=int,
        nargs=2,
        default=[2, 3],
        metavar=('MIN', 'MAX'),
        help='objects in a clip (default 2 3)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--noise',
        type=float,
        default=0.01,
        help='std of the white noise added to the audio (default 0.01)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if len(args.image_size) not in (1, 2):
        raise SystemExit('--image-size takes S or H W')
    image_size = (
        args.image_size[0]
        if len(args.image_size) == 1 else tuple(args.image_size))
    start = time.perf_counter()
    roots = make_synthetic_avsbench(
        args.out_dir,
        tasks=args.tasks,
        num_clips=dict(
            train=args.num_train, val=args.num_val, test=args.num_test),
        image_size=image_size,
        num_categories=args.num_categories,
        objects_per_clip=tuple(args.objects_per_clip),
        seed=args.seed,
        noise=args.noise)
    elapsed = time.perf_counter() - start
    for task, root in roots.items():
        print(f'{task}: {root}')
    print(f'wrote {len(roots)} sub-task(s) in {elapsed:.1f} s')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
