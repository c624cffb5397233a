# Copyright (c) mmavs contributors. All rights reserved.
"""Plot validation curves of training runs from their mmengine scalars.

Usage::

    python tools/analysis_tools/plot_learning_curves.py \
        "MS3:frozen VGGish=work_dirs/ms3_vggish/train" \
        "MS3:light encoder=work_dirs/ms3_light/train" \
        --key M_J --out docs/images/listening_curves.png

Each run is ``[PANEL:]LABEL=WORK_DIR``: the latest
``WORK_DIR/*/vis_data/scalars.json`` (what mmengine's LocalVisBackend
writes) is read, and ``--key`` of every validation is drawn against the
epoch (or, with ``--x time``, the minutes of training before it), one
panel per ``PANEL``, one line per run.
"""
import argparse
import glob
import json
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Tuple


def read_val_curve(work_dir: str,
                   key: str = 'M_J',
                   x: str = 'epoch') -> List[Tuple[float, float]]:
    """``(epoch or training minutes, value)`` of every validation of a run.

    Args:
        work_dir (str): The run's work dir (holding ``{timestamp}/vis_data``)
            or a ``scalars.json`` file.
        key (str): Metric name. Defaults to ``'M_J'``.
        x (str): ``'epoch'``, or ``'time'``: minutes of training before the
            validation, summed from the logged iteration times (validation
            time excluded). Defaults to ``'epoch'``.

    Returns:
        list[tuple[float, float]]: In training order.

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
    points, seconds, last_step = [], 0.0, 0
    with open(path) as file:
        for line in file:
            record = json.loads(line)
            if 'iter' in record:
                # A training record: 'time' is the mean iteration time since
                # the previous record, 'step' the global iteration.
                seconds += record.get('time', 0.0) * (
                    record['step'] - last_step)
                last_step = record['step']
            elif key in record:  # validation: 'step' is the epoch
                where = record['step'] if x == 'epoch' else seconds / 60
                points.append((where, float(record[key])))
    return points


def parse_run(spec: str) -> Tuple[str, str, str]:
    """``'[PANEL:]LABEL=DIR'`` -> ``(panel, label, dir)``."""
    if '=' not in spec:
        raise ValueError(f'run {spec!r} is not [PANEL:]LABEL=WORK_DIR')
    name, work_dir = spec.split('=', 1)
    panel, _, label = name.rpartition(':')
    return panel, label, work_dir


def plot(runs: Dict[str, Dict[str, List[Tuple[float, float]]]],
         key: str,
         out_file: str,
         title: str = '',
         x: str = 'epoch') -> None:
    """Draw one panel per entry of ``runs`` and save a PNG.

    Args:
        runs (dict): panel -> label -> ``(x, value)`` points.
        key (str): Metric name (y axis label).
        out_file (str): PNG path.
        title (str): Figure title.
        x (str): What the x values are: ``'epoch'`` or ``'time'``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(
        1, len(runs), figsize=(4.5 * len(runs), 3.4), squeeze=False)
    for axis, (panel, lines) in zip(axes[0], runs.items()):
        for label, points in lines.items():
            epochs, values = zip(*points)
            axis.plot(epochs, values, marker='o', markersize=3, label=label)
        axis.set_title(panel)
        axis.set_xlabel('epoch' if x == 'epoch' else 'training minutes')
        axis.set_ylabel(f'validation {key}')
        axis.set_ylim(0, 100)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_file, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(
        description='Plot validation curves of mmengine runs')
    parser.add_argument('runs', nargs='+', help='[PANEL:]LABEL=WORK_DIR')
    parser.add_argument('--key', default='M_J')
    parser.add_argument(
        '--x', choices=['epoch', 'time'], default='epoch',
        help='x axis: epoch, or minutes of training (logged iteration '
        'times)')
    parser.add_argument('--out', required=True, help='PNG file')
    parser.add_argument('--title', default='')
    args = parser.parse_args()
    runs: Dict[str, Dict[str, list]] = OrderedDict()
    for spec in args.runs:
        panel, label, work_dir = parse_run(spec)
        points = read_val_curve(work_dir, args.key, args.x)
        if not points:
            raise ValueError(f'{work_dir}: no validation {args.key}')
        runs.setdefault(panel, OrderedDict())[label] = points
    plot(runs, args.key, args.out, args.title, args.x)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
