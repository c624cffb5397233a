# Copyright (c) mmavs contributors. All rights reserved.
"""Turn the JSON figures of the benchmark tools into markdown tables.

Usage::

    python tools/analysis_tools/benchmark_report.py OUT_DIR \
        [--target-speedup 1.5]

Reads every ``infer_*.json`` (``benchmark.py --out``) and ``train_*.json``
(``train_speed.py --out``) in ``OUT_DIR`` (what ``gpu_benchmark.sh``
writes) and prints the tables of ``docs/benchmark.md`` plus the mixed
precision training target: for each config, model-only training
throughput of each mixed-precision dtype over fp32.
"""
import argparse
import glob
import json
import os.path as osp
from typing import Dict, List, Optional


def _load(pattern: str) -> List[dict]:
    reports = []
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            reports.append(json.load(f))
    return reports


def _name(config: str) -> str:
    return osp.splitext(osp.basename(config))[0]


def _cuda_mib(memory: Dict[str, float]) -> str:
    value = memory.get('cuda_max_allocated_mb')
    return f'{value:.0f}' if value is not None else '-'


def _table(columns: List[str], text_columns: int,
           rows: List[List[str]]) -> List[str]:
    """Markdown lines of a table; columns after the first ``text_columns``
    hold numbers and are right-aligned."""
    align = ['---'] * text_columns + ['---:'] * (len(columns) - text_columns)
    return [
        '| ' + ' | '.join(cells) + ' |' for cells in [columns, align] + rows
    ]


def _run_rows(reports: List[dict], cells) -> List[List[str]]:
    """``cells(report, run)`` for every run, after the config and device."""
    return [[
        _name(report['config']),
        report.get('device_name', report['device'])
    ] + cells(report, run) for report in reports for run in report['runs']]


def inference_table(reports: List[dict]) -> List[str]:
    """Markdown rows for ``benchmark.py`` reports.

    Args:
        reports (list[dict]): Parsed ``infer_*.json`` files.

    Returns:
        list[str]: The table's lines (empty without reports).
    """

    def cells(report, run):
        share = run.get('deformable_share_of_head')
        return [
            run['dtype'], f'{run["batch_size"]} x {report["frames"]}',
            f'{run["latency_s"]["median"] * 1e3:.1f}',
            f'{run["clips_per_s"]:.2f}', f'{run["frames_per_s"]:.1f}',
            '-' if share is None else f'{100 * share:.1f}%',
            _cuda_mib(run['memory'])
        ]

    if not reports:
        return []
    return _table([
        'config', 'device', 'dtype', 'clips x frames',
        'median latency (ms)', 'clips/s', 'frames/s', 'deformable / head',
        'CUDA peak (MiB)'
    ], 4, _run_rows(reports, cells))


def training_table(reports: List[dict]) -> List[str]:
    """Markdown rows for ``train_speed.py`` reports.

    Args:
        reports (list[dict]): Parsed ``train_*.json`` files.

    Returns:
        list[str]: The table's lines (empty without reports).
    """

    def cells(report, run):
        return [
            run['dtype'], str(report['batch_size']),
            f'{run["model"]["s_per_iter"]:.3f}',
            f'{run["model"]["clips_per_s"]:.2f}',
            f'{run["end_to_end"]["clips_per_s"]:.2f}',
            f'{report["loader"]["clips_per_s"]:.2f}',
            _cuda_mib(run['memory'])
        ]

    if not reports:
        return []
    return _table([
        'config', 'device', 'dtype', 'batch (clips)', 'model s/iter',
        'model clips/s', 'end-to-end clips/s', 'loader clips/s',
        'CUDA peak (MiB)'
    ], 3, _run_rows(reports, cells))


def mixed_precision_speedups(reports: List[dict],
                             target: float) -> List[str]:
    """One line per config and mixed-precision dtype: its model-only
    training throughput over fp32's, and whether it reaches ``target``.

    Args:
        reports (list[dict]): Parsed ``train_*.json`` files.
        target (float): The speed-up to reach, e.g. 1.5.

    Returns:
        list[str]: Markdown list items.
    """
    lines = []
    for report in reports:
        by_dtype = {run['dtype']: run for run in report['runs']}
        fp32: Optional[dict] = by_dtype.get('fp32')
        if fp32 is None:
            continue
        for dtype, run in by_dtype.items():
            if dtype == 'fp32':
                continue
            speedup = (run['model']['clips_per_s'] /
                       fp32['model']['clips_per_s'])
            verdict = 'met' if speedup >= target else 'NOT met'
            lines.append(
                f'- {_name(report["config"])}, batch '
                f'{report["batch_size"]}: {dtype} AMP trains at '
                f'{speedup:.2f}x the fp32 throughput (target >= '
                f'{target:g}x: {verdict})')
    return lines


def build_report(out_dir: str, target: float = 1.5) -> str:
    """The markdown for the figures in ``out_dir``.

    Args:
        out_dir (str): Folder with ``infer_*.json`` and ``train_*.json``.
        target (float): Mixed-precision training speed-up to check.

    Returns:
        str: Markdown text.

    Raises:
        FileNotFoundError: When the folder holds no figures at all.
    """
    inference = _load(osp.join(out_dir, 'infer_*.json'))
    training = _load(osp.join(out_dir, 'train_*.json'))
    if not inference and not training:
        raise FileNotFoundError(
            f'{out_dir} holds no infer_*.json or train_*.json figures')
    parts = []
    if inference:
        parts += ['### Inference', ''] + inference_table(inference) + ['']
    if training:
        parts += ['### Training', ''] + training_table(training) + ['']
        tf32 = training[0].get('tf32')
        if tf32 is not None:
            matmul = 'on' if tf32['matmul'] else 'off'
            convolution = 'on' if tf32['cudnn'] else 'off'
            parts += [
                f'fp32 runs with TF32 matmuls {matmul} and TF32 '
                f'convolutions {convolution}.', ''
            ]
        speedups = mixed_precision_speedups(training, target)
        if speedups:
            parts += ['### Mixed precision', ''] + speedups + ['']
    return '\n'.join(parts)


def main():
    parser = argparse.ArgumentParser(
        description='Markdown tables from benchmark JSON figures')
    parser.add_argument('out_dir')
    parser.add_argument('--target-speedup', type=float, default=1.5)
    args = parser.parse_args()
    print(build_report(args.out_dir, args.target_speedup))


if __name__ == '__main__':
    main()
