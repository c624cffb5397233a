# Copyright (c) mmavs contributors. All rights reserved.
"""Turn the JSON figures of the benchmark tools into markdown tables.

Usage::

    python tools/analysis_tools/benchmark_report.py OUT_DIR \
        [--target-speedup 1.5] [--triton-vs-compiled 1.3] \
        [--triton-vs-pytorch 3]

Reads every ``msda_*.json`` (``ms_deform_attn_benchmark.py --out``),
``infer_*.json`` (``benchmark.py --out``) and ``train_*.json``
(``train_speed.py --out``) in ``OUT_DIR`` (what ``gpu_benchmark.sh``
writes) and prints the tables of ``docs/benchmark.md`` plus the targets:

- deformable attention, forward+backward: the Triton kernel's time at most
  ``--triton-vs-compiled`` times the compiled kernel's, and the PyTorch
  path's at least ``--triton-vs-pytorch`` times Triton's, per size and
  dtype;
- training: for each config (and kernel), model-only throughput of each
  mixed-precision dtype over fp32 at least ``--target-speedup``.
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


def _ms(timing: Dict[str, float]) -> str:
    return f'{timing["median"]:.2f}'


def kernel_table(reports: List[dict]) -> List[str]:
    """Markdown rows for ``ms_deform_attn_benchmark.py`` reports.

    Args:
        reports (list[dict]): Parsed ``msda_*.json`` files.

    Returns:
        list[str]: The table's lines (empty without reports).
    """
    rows = []
    for report in reports:
        for case in report['cases']:
            for run in case['runs']:
                peak = run.get('step_peak_mib')
                worst = max(run['error'].values())
                check = ('ok' if run['error_ok'] else 'FAILED') \
                    if run['error_checked'] else 'reference'
                rows.append([
                    report['device_name'], f'{case["size"]}',
                    f'{report["batch"]} x {case["num_query"]}',
                    run['kernel'], run['dtype'],
                    _ms(run['forward_backward_ms']), _ms(run['forward_ms']),
                    '-' if peak is None else f'{peak:.0f}',
                    f'{worst:.1e}', check
                ])
    if not rows:
        return []
    return _table([
        'device', 'input (px)', 'images x queries', 'kernel', 'dtype',
        'fwd+bwd (ms)', 'fwd (ms)', 'fwd+bwd peak (MiB)',
        'max error vs fp32 PyTorch', 'check'
    ], 5, rows)


def kernel_targets(reports: List[dict], vs_compiled: float,
                   vs_pytorch: float) -> List[str]:
    """One line per device, size and dtype: the Triton kernel's
    forward+backward time against the compiled kernel's and the PyTorch
    path's, and whether the targets are met.

    Args:
        reports (list[dict]): Parsed ``msda_*.json`` files.
        vs_compiled (float): Triton may take at most this times the
            compiled kernel's time, e.g. 1.3.
        vs_pytorch (float): The PyTorch path must take at least this
            times Triton's time, e.g. 3.

    Returns:
        list[str]: Markdown list items; kernels that were skipped and
        failed error checks are listed too.
    """
    lines = []
    for report in reports:
        for kernel, reason in report.get('skipped', {}).items():
            lines.append(f'- {report["device_name"]}: {kernel} kernel not '
                         f'measured ({reason})')
        for case in report['cases']:
            dtypes = []
            for run in case['runs']:
                if run['dtype'] not in dtypes:
                    dtypes.append(run['dtype'])
            for dtype in dtypes:
                times = {
                    run['kernel']: run['forward_backward_ms']['median']
                    for run in case['runs'] if run['dtype'] == dtype
                }
                if 'triton' not in times:
                    continue
                parts = []
                if 'compiled' in times:
                    ratio = times['triton'] / times['compiled']
                    verdict = 'met' if ratio <= vs_compiled else 'NOT met'
                    parts.append(f'{ratio:.2f}x the compiled kernel\'s time '
                                 f'(target <= {vs_compiled:g}x: {verdict})')
                if 'pytorch' in times:
                    speedup = times['pytorch'] / times['triton']
                    verdict = 'met' if speedup >= vs_pytorch else 'NOT met'
                    parts.append(f'{speedup:.2f}x faster than PyTorch '
                                 f'(target >= {vs_pytorch:g}x: {verdict})')
                if parts:
                    lines.append(
                        f'- {report["device_name"]}, {case["size"]} px, '
                        f'{dtype}: Triton forward+backward: ' +
                        ', '.join(parts))
        for failure in report.get('failures', []):
            lines.append(f'- error check FAILED: {failure}')
    return lines


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
        kernel = run.get('kernel', '-')
        if run.get('kernel_used') not in (None, kernel):
            kernel = f'{kernel} ({run["kernel_used"]})'
        if 'skipped' in run:
            return [kernel, run['dtype'], str(report['batch_size'])] + \
                ['skipped'] + ['-'] * 4
        model = run.get('model')
        end_to_end = run.get('end_to_end')
        return [
            kernel, run['dtype'], str(report['batch_size']),
            f'{model["s_per_iter"]:.3f}' if model else '-',
            f'{model["clips_per_s"]:.2f}' if model else '-',
            f'{end_to_end["clips_per_s"]:.2f}' if end_to_end else '-',
            f'{report["loader"]["clips_per_s"]:.2f}',
            _cuda_mib(run['memory'])
        ]

    if not reports:
        return []
    return _table([
        'config', 'device', 'kernel', 'dtype', 'batch (clips)',
        'model s/iter', 'model clips/s', 'end-to-end clips/s',
        'loader clips/s', 'CUDA peak (MiB)'
    ], 4, _run_rows(reports, cells))


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
        by_kernel: Dict[Optional[str], Dict[str, dict]] = {}
        for run in report['runs']:
            if 'model' in run:
                by_kernel.setdefault(run.get('kernel'),
                                     {})[run['dtype']] = run
        for kernel, by_dtype in by_kernel.items():
            fp32: Optional[dict] = by_dtype.get('fp32')
            if fp32 is None:
                continue
            with_kernel = '' if kernel is None else f', {kernel} kernel'
            for dtype, run in by_dtype.items():
                if dtype == 'fp32':
                    continue
                speedup = (run['model']['clips_per_s'] /
                           fp32['model']['clips_per_s'])
                verdict = 'met' if speedup >= target else 'NOT met'
                lines.append(
                    f'- {_name(report["config"])}, batch '
                    f'{report["batch_size"]}{with_kernel}: {dtype} AMP '
                    f'trains at {speedup:.2f}x the fp32 throughput (target '
                    f'>= {target:g}x: {verdict})')
    return lines


def kernel_training_speedups(reports: List[dict]) -> List[str]:
    """One line per config, dtype and kernel: its model-only training
    throughput over the PyTorch path's.

    Args:
        reports (list[dict]): Parsed ``train_*.json`` files.

    Returns:
        list[str]: Markdown list items (none without kernel runs).
    """
    lines = []
    for report in reports:
        runs = [run for run in report['runs']
                if 'model' in run and run.get('kernel')]
        baseline = {
            run['dtype']: run['model']['clips_per_s']
            for run in runs if run['kernel'] == 'pytorch'
        }
        for run in runs:
            if run['kernel'] == 'pytorch' or run['dtype'] not in baseline:
                continue
            lines.append(
                f'- {_name(report["config"])}, {run["dtype"]}: '
                f'{run["kernel"]} kernel trains at '
                f'{run["model"]["clips_per_s"] / baseline[run["dtype"]]:.2f}x '
                'the PyTorch path\'s throughput')
    return lines


def build_report(out_dir: str,
                 target: float = 1.5,
                 triton_vs_compiled: float = 1.3,
                 triton_vs_pytorch: float = 3.0) -> str:
    """The markdown for the figures in ``out_dir``.

    Args:
        out_dir (str): Folder with ``msda_*.json``, ``infer_*.json`` and
            ``train_*.json``.
        target (float): Mixed-precision training speed-up to check.
        triton_vs_compiled (float): Most the Triton kernel may take, in
            times the compiled kernel's forward+backward time.
        triton_vs_pytorch (float): Least speed-up of the Triton kernel over
            the PyTorch path, forward+backward.

    Returns:
        str: Markdown text.

    Raises:
        FileNotFoundError: When the folder holds no figures at all.
    """
    kernels = _load(osp.join(out_dir, 'msda_*.json'))
    inference = _load(osp.join(out_dir, 'infer_*.json'))
    training = _load(osp.join(out_dir, 'train_*.json'))
    if not kernels and not inference and not training:
        raise FileNotFoundError(
            f'{out_dir} holds no msda_*.json, infer_*.json or train_*.json '
            'figures')
    parts = []
    if kernels:
        parts += ['### Deformable attention kernels', ''
                  ] + kernel_table(kernels) + ['']
        targets = kernel_targets(kernels, triton_vs_compiled,
                                 triton_vs_pytorch)
        if targets:
            parts += targets + ['']
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
        speedups = kernel_training_speedups(training)
        if speedups:
            parts += ['### Training per kernel', ''] + speedups + ['']
        speedups = mixed_precision_speedups(training, target)
        if speedups:
            parts += ['### Mixed precision', ''] + speedups + ['']
    return '\n'.join(parts)


def main():
    parser = argparse.ArgumentParser(
        description='Markdown tables from benchmark JSON figures')
    parser.add_argument('out_dir')
    parser.add_argument('--target-speedup', type=float, default=1.5)
    parser.add_argument('--triton-vs-compiled', type=float, default=1.3)
    parser.add_argument('--triton-vs-pytorch', type=float, default=3.0)
    args = parser.parse_args()
    print(
        build_report(args.out_dir, args.target_speedup,
                     args.triton_vs_compiled, args.triton_vs_pytorch))


if __name__ == '__main__':
    main()
