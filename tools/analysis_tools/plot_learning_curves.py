# Copyright (c) mmavs contributors. All rights reserved.
"""Plot the learning curves of training runs from their mmengine logs.

Usage::

    python tools/analysis_tools/plot_learning_curves.py \
        "MS3:frozen VGGish=work_dirs/ms3_vggish/train" \
        "MS3:light encoder=work_dirs/ms3_light/train" \
        --key loss M_J --out docs/images/listening_curves.png

Each run is ``[PANEL:]LABEL=WORK_DIR`` (or ``LABEL=path/scalars.json``):
the latest ``WORK_DIR/*/vis_data/scalars.json`` (what mmengine's
LocalVisBackend writes) is read. Each ``--key`` gets a row of panels:
a validation metric (``M_J``, ``M_F``, ``mIoU``, ``F-score``, ...) is drawn
against the epoch (or, with ``--x time``, the minutes of training before
it), a training value (``loss``, ``decode.loss_dice``, ``lr``, ...) against
the iteration (or the minutes); one panel per ``PANEL``, one line per run.
"""
import argparse
import glob
import json
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple, Union


def read_val_curve(work_dir: str,
                   key: str = 'M_J',
                   x: str = 'epoch') -> List[Tuple[float, float]]:
    """``(x, value)`` of ``key`` over a run; see :func:`read_curve`."""
    return read_curve(work_dir, key, x)[0]


def read_curve(work_dir: str,
               key: str = 'M_J',
               x: str = 'epoch') -> Tuple[List[Tuple[float, float]], bool]:
    """``(x, value)`` of ``key`` over a run: each validation of a metric,
    or each logged training value when only training records carry
    ``key`` (loss, lr, grad_norm, ...).

    Args:
        work_dir (str): The run's work dir (holding ``{timestamp}/vis_data``)
            or a ``scalars.json`` file.
        key (str): A validation metric (``'M_J'``, default) or a training
            value (``'loss'``).
        x (str): ``'epoch'`` (the iteration, for training values), or
            ``'time'``: minutes of training before the record, summed from
            the logged iteration times (validation time excluded). Defaults
            to ``'epoch'``.

    Returns:
        tuple[list[tuple[float, float]], bool]: The points in training
        order, and whether they are training values (x = iteration).

    Raises:
        FileNotFoundError: No ``scalars.json`` under ``work_dir``.
    """
    if work_dir.endswith('.json'):
        path = work_dir
    else:
        found = sorted(
            glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
        if not found:
            raise FileNotFoundError(
                f'no */vis_data/scalars.json under {work_dir}')
        path = found[-1]  # timestamps sort in time order
    if x not in ('epoch', 'time'):
        raise ValueError(f"x must be 'epoch' or 'time', got {x!r}")
    points, training, seconds, last_step = [], [], 0.0, 0
    with open(path) as file:
        for line in file:
            record = json.loads(line)
            if 'iter' in record:
                # A training record: 'time' is the mean iteration time since
                # the previous record, 'step' the global iteration.
                seconds += record.get('time', 0.0) * (
                    record['step'] - last_step)
                last_step = record['step']
                if key in record:
                    where = record['step'] if x == 'epoch' else seconds / 60
                    training.append((where, float(record[key])))
            elif key in record:  # validation: 'step' is the epoch
                where = record['step'] if x == 'epoch' else seconds / 60
                points.append((where, float(record[key])))
    # A key only training records carry (loss, lr, ...) is a training curve.
    return (points, False) if points else (training, bool(training))


def parse_run(spec: str) -> Tuple[str, str, str]:
    """``'[PANEL:]LABEL=DIR'`` -> ``(panel, label, dir)``."""
    if '=' not in spec:
        raise ValueError(f'run {spec!r} is not [PANEL:]LABEL=WORK_DIR')
    name, work_dir = spec.split('=', 1)
    panel, _, label = name.rpartition(':')
    return panel, label, work_dir


def plot(runs: Dict[str, Dict[str, List[Tuple[float, float]]]],
         key: Union[str, Sequence[str]],
         out_file: str,
         title: str = '',
         x: str = 'epoch',
         training_keys: Sequence[str] = ()) -> None:
    """Draw a row of panels per key, one panel per entry of ``runs``, and
    save a PNG.

    Args:
        runs (dict): panel -> label -> ``(x, value)`` points, or (several
            keys) key -> panel -> label -> points.
        key (str | Sequence[str]): Metric name(s), one row each.
        out_file (str): PNG path.
        title (str): Figure title.
        x (str): What the x values are: ``'epoch'`` or ``'time'``.
        training_keys (Sequence[str]): Keys whose points are training
            values (x = iteration, any range), as :func:`read_curve`
            says; the others are validation metrics in %.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    keys = [key] if isinstance(key, str) else list(key)
    by_key = {keys[0]: runs} if isinstance(key, str) else runs
    columns = max(len(by_key[k]) for k in keys)
    fig, axes = plt.subplots(
        len(keys), columns, figsize=(4.5 * columns, 3.4 * len(keys)),
        squeeze=False)
    for row, name in zip(axes, keys):
        training = name in training_keys
        for axis, (panel, lines) in zip(row, by_key[name].items()):
            for label, points in lines.items():
                steps, values = zip(*points)
                axis.plot(steps, values, marker=None if training else 'o',
                          markersize=3, label=label)
            axis.set_title(panel)
            axis.set_xlabel('training minutes' if x == 'time' else
                            'iteration' if training else 'epoch')
            axis.set_ylabel(name if training else f'validation {name}')
            if not training and all(0 <= value <= 100
                                    for points in lines.values()
                                    for _, value in points):
                axis.set_ylim(0, 100)  # scores in %
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_file, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(
        description='Plot learning curves (validation metrics, training '
        'loss) of mmengine runs')
    parser.add_argument('runs', nargs='+', help='[PANEL:]LABEL=WORK_DIR')
    parser.add_argument(
        '--key',
        nargs='+',
        default=['M_J'],
        help='validation metrics (M_J, M_F, mIoU, F-score) and/or training '
        'values (loss, decode.loss_dice, lr); one row of panels each')
    parser.add_argument(
        '--x', choices=['epoch', 'time'], default='epoch',
        help='x axis: epoch, or minutes of training (logged iteration '
        'times)')
    parser.add_argument('--out', required=True, help='PNG file')
    parser.add_argument('--title', default='')
    args = parser.parse_args()
    runs: Dict[str, Dict[str, Dict[str, list]]] = OrderedDict()
    training_keys = set()
    for key in args.key:
        for spec in args.runs:
            panel, label, work_dir = parse_run(spec)
            points, training = read_curve(work_dir, key, args.x)
            if not points:
                raise ValueError(f'{work_dir}: no {key} in its logs')
            if training:
                training_keys.add(key)
            runs.setdefault(key, OrderedDict()).setdefault(
                panel, OrderedDict())[label] = points
    plot(runs, args.key, args.out, args.title, args.x, training_keys)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
