# Copyright (c) mmavs contributors. All rights reserved.
"""The listening report: how much a model's score depends on its audio.

A model that segments the *sounding* object must do worse when it hears the
wrong sound or nothing. :func:`listening_report` evaluates one checkpoint
three ways, each with its own mmengine :class:`~mmengine.runner.Runner` on
the config's test set:

- ``true``: the clips as they are;
- ``swapped``: every clip with the audio of another clip
  (:class:`~mmavs.datasets.AudioSwapDataset`: another sounding category
  for S4, the next clip otherwise);
- ``silent``: every clip with silence
  (:class:`~mmavs.datasets.SilentAudioDataset`),

and reports the metrics (``M_J`` / ``M_F`` for S4 and MS3, ``mIoU`` /
``F-score`` for AVSS) and the drops ``true - swapped`` and ``true -
silent``. A model that only looks has drops near 0.
"""
import copy
import os.path as osp
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.fileio import dump
from mmengine.runner import Runner
from mmengine.utils import mkdir_or_exist

#: Evaluation modes, in report order, and the dataset wrapper of each.
LISTENING_MODES = ('true', 'swapped', 'silent')
_WRAPPERS = dict(swapped='AudioSwapDataset', silent='SilentAudioDataset')
#: File the report is written to (in the work dir and ``out_dir``).
REPORT_FILE = 'listening_report.json'


def listening_keys(cfg: Config) -> Tuple[str, str]:
    """The two metrics a listening report shows for a config.

    Args:
        cfg (Config): A full config with a ``test_dataloader``.

    Returns:
        tuple[str, str]: ``('mIoU', 'F-score')`` for AVSS (semantic) test
        sets, ``('M_J', 'M_F')`` otherwise.
    """
    from .inferencer.configs import eval_dataset_class

    # Not an AVSBench data set: binary keys.
    task = getattr(eval_dataset_class(cfg), 'TASK', None)
    return ('mIoU', 'F-score') if task == 'avss' else ('M_J', 'M_F')


def _mode_config(cfg: Config, mode: str, checkpoint: str,
                 work_dir: str) -> Config:
    """A copy of ``cfg`` that tests ``checkpoint`` in one mode.

    Output folders the config names (metrics' ``output_dir``, the
    visualizer's ``save_dir``) get a subfolder per mode, so the three
    evaluations do not overwrite each other's masks and drawings.
    """
    cfg = copy.deepcopy(cfg)  # Config.copy() is shallow
    cfg.load_from = checkpoint
    cfg.resume = False
    cfg.work_dir = osp.join(work_dir, mode)
    # Runners name their logger and visualizer instances after the
    # experiment (plus a timestamp in seconds): three runners started within
    # a second would otherwise share the first one's log file and drawings.
    stem = cfg.get('experiment_name') or osp.splitext(
        osp.basename(cfg.filename or 'avs'))[0]
    cfg.experiment_name = f'{stem}_listening_{mode}'
    if cfg.get('visualizer'):
        cfg.visualizer['name'] = cfg.experiment_name
    if mode in _WRAPPERS:
        cfg.test_dataloader.dataset = dict(
            type=_WRAPPERS[mode], dataset=cfg.test_dataloader.dataset)
    evaluators = cfg.test_evaluator
    for evaluator in (evaluators if isinstance(evaluators, (list, tuple))
                      else [evaluators]):
        if evaluator.get('output_dir'):
            evaluator['output_dir'] = osp.join(evaluator['output_dir'], mode)
    if (cfg.get('visualizer') or {}).get('save_dir'):
        cfg.visualizer['save_dir'] = osp.join(cfg.visualizer['save_dir'],
                                              mode)
    return cfg


def listening_report(cfg: Union[str, Config, Runner],
                     checkpoint: Optional[str] = None,
                     work_dir: Optional[str] = None,
                     modes: Sequence[str] = LISTENING_MODES,
                     out_dir: Optional[str] = None) -> dict:
    """Evaluate a checkpoint with the true, swapped and silent audio.

    Args:
        cfg (str | Config | Runner): A config (path or object) whose test
            set is evaluated, or a Runner (its config is used, e.g. right
            after ``runner.train()``).
        checkpoint (str, optional): Checkpoint to test. Defaults to the
            config's ``load_from``; required when that is unset.
        work_dir (str, optional): Each mode runs in ``{work_dir}/{mode}``;
            the report goes to ``{work_dir}/listening_report.json``.
            Defaults to ``{cfg.work_dir}/listening``.
        modes (Sequence[str]): Subset of ``('true', 'swapped', 'silent')``;
            ``'true'`` is needed for the drops. Defaults to all three.
        out_dir (str, optional): Also write the report there.

    Returns:
        dict: ``keys`` (the two metric names), ``metrics`` (mode -> every
        metric the evaluator returned), one entry per mode with the two
        metrics (e.g. ``report['swapped']['M_J']``), ``drop`` (mode ->
        ``true`` minus that mode, per metric; positive = the model uses
        the audio), ``checkpoint`` and ``num_clips``.

    Raises:
        ValueError: Unknown modes, or no checkpoint.
    """
    unknown = set(modes) - set(LISTENING_MODES)
    if unknown or not modes:
        raise ValueError(f'modes must be a non-empty subset of '
                         f'{LISTENING_MODES}, got {list(modes)}')
    if isinstance(cfg, Runner):
        cfg = cfg.cfg
    elif isinstance(cfg, str):
        cfg = Config.fromfile(cfg)
    checkpoint = checkpoint or cfg.get('load_from')
    if not checkpoint:
        raise ValueError('listening_report needs a checkpoint (argument or '
                         'the config\'s load_from)')
    work_dir = work_dir or osp.join(
        cfg.get('work_dir') or './work_dirs', 'listening')
    keys = listening_keys(cfg)
    report = OrderedDict(keys=list(keys), checkpoint=checkpoint)
    metrics: Dict[str, dict] = OrderedDict()
    for mode in LISTENING_MODES:
        if mode not in modes:
            continue
        runner = Runner.from_cfg(
            _mode_config(cfg, mode, checkpoint, work_dir))
        metrics[mode] = {k: float(v) for k, v in runner.test().items()}
        missing = [key for key in keys if key not in metrics[mode]]
        if missing:
            raise KeyError(f'the test evaluator returned no {missing} '
                           f'(got {sorted(metrics[mode])})')
        report[mode] = OrderedDict((key, metrics[mode][key]) for key in keys)
        report.setdefault('num_clips', len(runner.test_dataloader.dataset))
    if 'true' in metrics:
        report['drop'] = OrderedDict(
            (mode, OrderedDict((key, report['true'][key] - report[mode][key])
                               for key in keys))
            for mode in metrics if mode != 'true')
    report['metrics'] = metrics
    for folder in (work_dir, out_dir):
        if folder and is_main_process():
            mkdir_or_exist(folder)
            dump(dict(report), osp.join(folder, REPORT_FILE), indent=2)
    return dict(report)


def format_listening_report(report: dict) -> str:
    """The report as a text table: one row per audio, drops in brackets.

    Args:
        report (dict): What :func:`listening_report` returns.

    Returns:
        str: E.g.::

            audio                              M_J             M_F
            true                              80.1            88.0
            swapped (another clip's)   41.3 (-38.8)    60.2 (-27.8)
            silent                     10.0 (-70.1)    20.5 (-67.5)
    """
    labels = dict(true='true', swapped="swapped (another clip's)",
                  silent='silent')
    keys = report['keys']
    lines = [f'{"audio":26s}' + ''.join(f'{key:>16s}' for key in keys)]
    for mode in LISTENING_MODES:
        if mode not in report:
            continue
        cells = []
        for key in keys:
            cell = f'{report[mode][key]:.1f}'
            if mode != 'true' and 'true' in report:
                # mode - true rather than -drop: no "-0.0" for no change.
                cell += f' ({report[mode][key] - report["true"][key]:+.1f})'
            cells.append(f'{cell:>16s}')
        lines.append(f'{labels[mode]:26s}' + ''.join(cells))
    return '\n'.join(lines)


def format_settings_report(reports: Mapping[str, dict]) -> str:
    """Listening reports of several data settings as one table, with the
    worst case of each column under it.

    A recipe is only as good as its worst setting: the last lines name the
    setting with the lowest true score and the ones with the smallest drops
    (the least listening).

    Args:
        reports (Mapping[str, dict]): Setting name -> what
            :func:`listening_report` returns (all three modes), in the
            order to show.

    Returns:
        str: E.g.::

            setting            true M_J   swapped M_J    silent M_J
            heldout_fm             91.0   40.2 (-50.8)  12.0 (-79.0)
            heldout_chirp          84.3   70.1 (-14.2)  30.5 (-53.8)
            worst true M_J: 84.3 (heldout_chirp)
            smallest drop with swapped audio: 14.2 (heldout_chirp)
            smallest drop with silent audio: 53.8 (heldout_chirp)

    Raises:
        ValueError: No reports, or a report without all three modes.
    """
    if not reports:
        raise ValueError('format_settings_report needs at least one report')
    for name, report in reports.items():
        missing = [m for m in LISTENING_MODES if m not in report]
        if missing:
            raise ValueError(f'the report of {name!r} has no {missing}')
    key = next(iter(reports.values()))['keys'][0]
    width = max(len('setting'), *map(len, reports)) + 2
    lines = [f'{"setting":{width}s}' + ''.join(
        f'{f"{mode} {key}":>16s}' for mode in LISTENING_MODES)]
    for name, report in reports.items():
        true = report['true'][key]
        cells = [f'{true:.1f}'] + [
            f'{report[mode][key]:.1f} ({report[mode][key] - true:+.1f})'
            for mode in LISTENING_MODES[1:]
        ]
        lines.append(f'{name:{width}s}' + ''.join(f'{c:>16s}' for c in cells))
    worst = min(reports, key=lambda n: reports[n]['true'][key])
    lines.append(f'worst true {key}: {reports[worst]["true"][key]:.1f} '
                 f'({worst})')
    for mode, words in (('swapped', 'swapped audio'),
                        ('silent', 'silent audio')):
        drops = {n: r['true'][key] - r[mode][key] for n, r in reports.items()}
        least = min(drops, key=drops.get)
        lines.append(f'smallest drop with {words}: {drops[least]:.1f} '
                     f'({least})')
    return '\n'.join(lines)
