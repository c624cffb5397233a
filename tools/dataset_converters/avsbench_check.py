# Copyright (c) mmavs contributors. All rights reserved.
"""Check an AVSBench folder: list every missing, broken or suspicious file.

The checker has no rules of its own: it builds each split's data set and
loads every clip through the data sets' own loading transforms
(``LoadAVSFrames``, ``LoadAVSAnnotations``, ``LoadAVSAudio``, with the
arguments a config gives them), for every audio kind a config may read.
What a data set refuses (an ``AVSDataError``) is a problem, what it warns
about (an ``AVSDataWarning``) a warning, in the data sets' words
(``docs/data_checks.md``). Unlike a data set, it does not stop at the first
problem: a file that fails is reported and then left out, and the rest of
the clip, the split and the folder is still read.

- Audio kinds (default): those the sub-task releases (``log_mel`` and
  ``wav`` for S4/MS3, ``wav`` for AVSS) and any other a data set can read
  (``feature``, ...) that has files in the folder. ``--audio`` names them,
  ``--config`` takes them (and the data set and transform arguments) from
  a config.
- Missing files are reported as the data sets' start-up check
  (``check_files=True``) words them.
- ``--strict``: what a data set built with ``strict=True`` refuses is a
  problem, in the words it raises; without it, a warning.
- Whole-folder facts: clips listed twice or in two splits (the data sets'
  own warnings, one per split that lists the clip), and files under the
  data folders that no metadata row names (listed apart: the data sets
  never read them, so they never change the exit status).

    python tools/dataset_converters/avsbench_check.py \
        data/AVSBench/Single-source --task s4 [--strict]

Exit status: 0 when there is no problem (warnings allowed), 1 otherwise.
"""
import argparse
import os
import os.path as osp
import sys
import warnings
from contextlib import contextmanager
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Set

from tqdm import tqdm

from mmavs.datasets import (AVSBenchMS3Dataset, AVSBenchS4Dataset,
                            AVSBenchSemanticDataset, AVSDataError,
                            avs_dataset_class)
from mmavs.datasets.avsbench import AVSS_SUBSETS, SPLITS
from mmavs.datasets.errors import AVSDataWarning, suspicious_error
from mmavs.datasets.metadata import read_metadata_csv

DATASETS = dict(
    s4=AVSBenchS4Dataset, ms3=AVSBenchMS3Dataset, avss=AVSBenchSemanticDataset)
#: Audio kinds each sub-task releases: always checked by default.
RELEASED_AUDIO = dict(
    s4=('log_mel', 'wav'), ms3=('log_mel', 'wav'), avss=('wav', ))
#: The loading transforms of the data sets' pipelines, as the dataset
#: configs under ``configs/_base_/datasets`` give them.
LOADING_TYPES = ('LoadAVSFrames', 'LoadAVSAnnotations', 'LoadAVSAudio')
DEFAULT_LOADING = tuple(dict(type=name) for name in LOADING_TYPES)
#: Dataset arguments the checker sets itself.
_OWN_ARGUMENTS = ('type', 'pipeline', 'split', 'audio_source', 'strict',
                  'check_files', 'skip_missing', 'lazy_init', 'serialize_data',
                  'indices', 'test_mode', 'max_refetch')


class Plan(NamedTuple):
    """What to check for one split: the data set class and arguments (as
    a config builds it, without ``split``/``audio_source``), the audio
    kinds, the loading transform configs and whether the config is
    strict."""

    split: str
    dataset_class: type
    kwargs: dict
    audio: Optional[Sequence[str]]
    loading: Sequence[dict]
    strict: bool = False


class SplitReport:
    """The findings of one split, each once, in the order found."""

    def __init__(self, split: str, audio: Sequence[str] = ()) -> None:
        self.split = split
        self.audio = list(audio)
        self.problems: List[str] = []
        self.warnings: List[str] = []
        self.clips = 0
        self.files = 0
        self.loaded = False

    def problem(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)

    def warning(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    @contextmanager
    def recording(self, strict_suspicious: bool = False):
        """Collect the data warnings raised inside. With
        ``strict_suspicious``, a warning of ``report_suspicious`` is
        recorded as the error a strict data set raises instead."""
        caught: list = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always')
                yield
        finally:
            for record in caught:
                if not issubclass(record.category, AVSDataWarning):
                    continue
                kind = getattr(record.message, 'kind', '')
                if strict_suspicious and kind:
                    self.problem(
                        str(suspicious_error(str(record.message), kind)))
                else:
                    self.warning(str(record.message))

    def summary(self) -> str:
        if not self.loaded:
            return (f'{self.split}: 0 clips (not loaded: see the problems), '
                    f'{len(self.problems)} problems, '
                    f'{len(self.warnings)} warnings')
        return (f'{self.split}: {self.clips} clips, {self.files} files, '
                f'{len(self.problems)} problems, '
                f'{len(self.warnings)} warnings (audio: '
                f'{", ".join(self.audio) or "none"})')


class CheckReport(NamedTuple):
    """Everything a check found: problems and warnings once each (over all
    splits), the files no metadata row names (None: could not tell), and
    the report of each split."""

    problems: List[str]
    warnings: List[str]
    unread: Optional[List[str]]
    splits: List[SplitReport]


def _unique(items: Iterable[str]) -> List[str]:
    return list(dict.fromkeys(items))


# ---------------------------------------------------------------------- #
# The layout: the files the metadata names, without loading anything
# ---------------------------------------------------------------------- #
def layout_infos(dataset_class: type, kwargs: dict, split: str, audio: str,
                 **extra) -> List[dict]:
    """The clip infos (paths only) of one split as the data set's own
    ``parse_clip`` names them; nothing is checked or warned about.

    Raises:
        AVSDataError: The metadata csv cannot be read.
    """
    dataset = dataset_class(
        split=split,
        audio_source=audio,
        lazy_init=True,
        check_files=False,
        **dict(kwargs, **extra))
    fieldnames, rows = read_metadata_csv(dataset.ann_file, SPLITS,
                                         dataset.backend_args)
    name_column = dataset.name_column(fieldnames)
    return [
        dataset.parse_clip(row, name_column) for row in rows
        if row['split'] == split and row.get(name_column)
        and dataset.keep_row(row)
    ]


def _clip_files(info: dict) -> List[str]:
    return [
        path for path in list(info['frame_paths']) +
        list(info['seg_map_paths']) + [info['audio_path']] if path
    ]


def _quiet_layout(dataset_class, kwargs, split, audio, **extra):
    """:func:`layout_infos`, or None where the csv cannot tell."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return layout_infos(dataset_class, kwargs, split, audio, **extra)
    except Exception:  # the data set build reports it as a problem
        return None


def audio_kinds_present(dataset_class: type, kwargs: dict) -> List[str]:
    """The audio kinds a data set can read with at least one file in the
    folder (any split)."""
    present = []
    for audio in dataset_class.AUDIO_SOURCES:
        for split in SPLITS:
            infos = _quiet_layout(dataset_class, kwargs, split, audio) or []
            if any(osp.isfile(info['audio_path']) for info in infos):
                present.append(audio)
                break
    return present


def data_folders(dataset_class: type, kwargs: dict) -> List[str]:
    """The folders that hold the clips' files (not the csv)."""
    probe = dataset_class(
        split='train', lazy_init=True, check_files=False, **kwargs)
    prefix = probe.data_prefix
    if isinstance(probe, AVSBenchSemanticDataset):
        return [osp.join(prefix['clips'], subset) for subset in AVSS_SUBSETS]
    return list(prefix.values())


def unread_files(dataset_class: type, kwargs: dict) -> Optional[List[str]]:
    """Files under the data folders that no metadata row names, for any
    split or audio kind: a clip missing from the csv, a stray file. A
    folder none of whose files is named is listed once, as ``folder/``.

    Returns:
        list[str] | None: One message each; None when the csv cannot be
        read (then the data set builds report why).
    """
    named: Set[str] = set()
    for split in SPLITS:
        for audio in dataset_class.AUDIO_SOURCES:
            suffixes = ['.npy', '.pkl'] if audio == 'feature' else [None]
            for suffix in suffixes:
                extra = {} if suffix is None else dict(feature_suffix=suffix)
                infos = _quiet_layout(dataset_class, kwargs, split, audio,
                                      **extra)
                if infos is None:
                    return None
                for info in infos:
                    named.update(osp.abspath(p) for p in _clip_files(info))
    messages: List[str] = []
    reported_dirs: Set[str] = set()
    for folder in _unique(data_folders(dataset_class, kwargs)):
        for current, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
            if any(current.startswith(d + os.sep) for d in reported_dirs):
                continue
            stray = [
                osp.join(current, name) for name in sorted(files)
                if not name.startswith('.')
                and osp.abspath(osp.join(current, name)) not in named
            ]
            if not stray:
                continue
            # A whole folder of files no row names: once, as the folder.
            inside = [
                osp.join(root, name) for root, _, names in os.walk(current)
                for name in names
            ]
            if inside and current != folder and not any(
                    osp.abspath(path) in named for path in inside):
                reported_dirs.add(current)
                messages.append(
                    f'{current}{os.sep}: {len(inside)} file(s), none named '
                    'by a metadata row; the data sets never read them')
                continue
            messages.extend(f'{path}: no metadata row names this file; the '
                            'data sets never read it' for path in stray)
    return messages


# ---------------------------------------------------------------------- #
# Loading, through the data sets' transforms
# ---------------------------------------------------------------------- #
def _named_index(message: str, paths: Sequence[Optional[str]]):
    """The index of the path a reader's message starts with."""
    for index, path in enumerate(paths):
        if path is not None and message.startswith(f'{path}: '):
            return index
    return None


def _unexpected(path: str, transform, error: Exception) -> str:
    return (f'{path}: unexpected {type(error).__name__} while '
            f'{type(transform).__name__} read it: {error} (please report '
            'this)')


def run_loading(transform, results: dict, key: str,
                report: SplitReport) -> dict:
    """Run a loading transform on a clip as the data set's pipeline does;
    a file it refuses is reported and then left out (as a padded frame or
    an unlabelled mask), and the transform runs again on the rest, so
    one broken file does not hide another.

    Args:
        transform: A ``LoadAVSFrames`` or ``LoadAVSAnnotations``.
        results (dict): The clip's data info (and what earlier transforms
            added).
        key (str): The transform's list of files (``frame_paths``,
            ``seg_map_paths``).
        report (SplitReport): Where the findings go.

    Returns:
        dict: The transform's output, or ``results`` when nothing could be
        loaded.
    """
    paths = list(results[key])
    left_out = False
    while True:
        if left_out and all(path is None for path in paths):
            return results
        trial = dict(results, **{key: list(paths)})
        trial['seg_fields'] = list(results.get('seg_fields', []))
        try:
            with report.recording():
                return transform(trial)
        except AVSDataError as error:
            report.problem(str(error))
            index = _named_index(str(error), paths)
        except Exception as error:  # a reader bug: find and name the file
            index = None
            for candidate, path in enumerate(paths):
                if path is None:
                    continue
                alone = [
                    p if i == candidate else None for i, p in enumerate(paths)
                ]
                try:
                    with report.recording():
                        transform(dict(results, **{key: alone}))
                except AVSDataError:
                    continue
                except Exception as alone_error:
                    report.problem(_unexpected(path, transform, alone_error))
                    index = candidate
                    break
            if index is None:
                report.problem(
                    f'clip "{results.get("clip_name")}": unexpected '
                    f'{type(error).__name__} in {type(transform).__name__}: '
                    f'{error} (please report this)')
        if index is None:
            return results
        paths[index] = None
        left_out = True


def _build_transforms(loading: Sequence[dict]) -> Dict[str, object]:
    from mmseg.registry import TRANSFORMS
    return {cfg['type']: TRANSFORMS.build(dict(cfg)) for cfg in loading}


def _build_dataset(plan: Plan, audio: str, report: SplitReport, strict: bool):
    """The split's data set as a config builds it; its complaints about
    the csv are recorded (as a strict data set raises them, when
    ``strict``). Built with ``strict=False`` and ``check_files=False`` so
    that one finding does not stop the check; the files are checked clip
    by clip."""
    kwargs = dict(plan.kwargs)
    try:
        with report.recording(strict_suspicious=strict):
            return plan.dataset_class(
                split=plan.split,
                audio_source=audio,
                check_files=False,
                strict=False,
                serialize_data=False,
                **kwargs)
    except AVSDataError as error:
        report.problem(str(error))
    except Exception as error:
        ann_file = kwargs.get(
            'ann_file') or plan.dataset_class.DEFAULT_ANN_FILE
        if kwargs.get('data_root') and not osp.isabs(ann_file):
            ann_file = osp.join(kwargs['data_root'], ann_file)
        report.problem(f'{ann_file}: unexpected {type(error).__name__} while '
                       f'building {plan.dataset_class.__name__} '
                       f'({plan.split}): {error} (please report this)')
    return None


def check_split(plan: Plan,
                strict: bool = False,
                progress: bool = False) -> SplitReport:
    """Load every clip of one split through the data sets' transforms.

    Args:
        plan (Plan): The split, data set and transforms.
        strict (bool): Check as ``strict=True`` data sets load.
        progress (bool): Show a progress bar on stderr.

    Returns:
        SplitReport: The findings.
    """
    strict = strict or plan.strict
    audio = list(plan.audio) if plan.audio else [
        plan.dataset_class.DEFAULT_AUDIO_SOURCE
    ]
    report = SplitReport(plan.split, audio)
    datasets = [_build_dataset(plan, kind, report, strict) for kind in audio]
    if any(dataset is None for dataset in datasets):
        return report
    report.loaded = True
    transforms = _build_transforms(plan.loading)
    frames = transforms.get('LoadAVSFrames')
    annotations = transforms.get('LoadAVSAnnotations')
    audio_loader = transforms.get('LoadAVSAudio')
    report.clips = len(datasets[0])
    for index in tqdm(
            range(report.clips),
            desc=f'{plan.split}',
            unit='clip',
            file=sys.stderr,
            disable=not progress):
        infos = [dataset.get_data_info(index) for dataset in datasets]
        # The start-up check of the data sets (check_files=True).
        missing: Set[str] = set()
        for dataset, info in zip(datasets, infos):
            for message in dataset.missing_files(info):
                report.problem(message)
                missing.update(
                    p for p in _clip_files(info)
                    if message.startswith(f'{p}: '))
        results = dict(infos[0], strict=strict)
        report.files += len(
            set(
                _clip_files(infos[0]) +
                [info['audio_path'] for info in infos[1:]]))
        for key in ('frame_paths', 'seg_map_paths'):
            results[key] = [
                None if path in missing else path for path in results[key]
            ]
        if frames is not None:
            results = run_loading(frames, results, 'frame_paths', report)
        if annotations is not None:
            run_loading(annotations, results, 'seg_map_paths', report)
        if audio_loader is None:
            continue
        for info in infos:
            if info['audio_path'] in missing:
                continue
            try:
                with report.recording():
                    audio_loader(dict(info, strict=strict))
            except AVSDataError as error:
                report.problem(str(error))
            except Exception as error:
                report.problem(
                    _unexpected(info['audio_path'], audio_loader, error))
    return report


# ---------------------------------------------------------------------- #
# Plans: what a config, or the default configs, read
# ---------------------------------------------------------------------- #
def default_plans(task: str,
                  root: str,
                  splits: Sequence[str],
                  audio: Optional[Sequence[str]] = None,
                  ann_file: Optional[str] = None) -> List[Plan]:
    """The data sets of the sub-task as the dataset configs build them,
    one per split, with the default loading transforms.

    Args:
        task (str): ``'s4'``, ``'ms3'`` or ``'avss'``.
        root (str): The sub-task folder.
        splits (Sequence[str]): The splits to check.
        audio (Sequence[str], optional): Audio kinds; default: the
            released ones and any other with files in the folder.
        ann_file (str, optional): The metadata csv, if not the default.
    """
    dataset_class = DATASETS[task]
    kwargs = dict(data_root=root)
    if ann_file is not None:
        kwargs['ann_file'] = ann_file
    if not audio or 'all' in audio:
        present = audio_kinds_present(dataset_class, kwargs)
        audio = list(RELEASED_AUDIO[task]) + [
            kind for kind in present if kind not in RELEASED_AUDIO[task]
        ]
    return [
        Plan(split, dataset_class, kwargs, list(audio), DEFAULT_LOADING)
        for split in splits
    ]


def config_plans(config: str,
                 root: Optional[str] = None,
                 splits: Sequence[str] = SPLITS,
                 audio: Optional[Sequence[str]] = None) -> List[Plan]:
    """The data sets and loading transforms of a config's train, val and
    test dataloaders (wrappers looked through), one per split.

    Args:
        config (str): The config file.
        root (str, optional): Replaces the data sets' ``data_root``.
        splits (Sequence[str]): Keep these splits.
        audio (Sequence[str], optional): Replaces the config's
            ``audio_source``.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    plans: Dict[str, Plan] = {}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset_cfg = (cfg.get(loader) or {}).get('dataset')
        if not dataset_cfg:
            continue
        dataset_class = avs_dataset_class(dataset_cfg)
        while 'dataset' in dataset_cfg:
            dataset_cfg = dataset_cfg['dataset']
        dataset_cfg = dict(dataset_cfg)
        split = dataset_cfg.get('split', 'train')
        if split not in splits or split in plans:
            continue
        kwargs = {
            key: value
            for key, value in dataset_cfg.items() if key not in _OWN_ARGUMENTS
        }
        if root is not None:
            kwargs['data_root'] = root
        loading = [
            dict(step) for step in dataset_cfg.get('pipeline', [])
            if isinstance(step, dict) and step.get('type') in LOADING_TYPES
        ]
        kinds = list(audio) if audio and 'all' not in audio else [
            dataset_cfg.get('audio_source')
            or dataset_class.DEFAULT_AUDIO_SOURCE
        ]
        plans[split] = Plan(split, dataset_class, kwargs, kinds, loading,
                            bool(dataset_cfg.get('strict', False)))
    return [plans[split] for split in splits if split in plans]


def check(plans: Sequence[Plan],
          strict: bool = False,
          progress: bool = False,
          unread: bool = True) -> CheckReport:
    """Check the splits of ``plans`` and the folder they share.

    Args:
        plans (Sequence[Plan]): From :func:`default_plans` or
            :func:`config_plans`.
        strict (bool): Check as ``strict=True`` data sets load.
        progress (bool): Show progress bars on stderr.
        unread (bool): Also list the files no metadata row names.

    Returns:
        CheckReport: The findings.
    """
    reports = [check_split(plan, strict, progress) for plan in plans]
    stray = None
    if unread and plans:
        stray = unread_files(plans[0].dataset_class, plans[0].kwargs)
    return CheckReport(
        _unique(p for report in reports for p in report.problems),
        _unique(w for report in reports for w in report.warnings), stray,
        reports)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='List every missing, broken or suspicious file of an '
        'AVSBench sub-task folder, as the data sets read it.')
    parser.add_argument(
        'root',
        nargs='?',
        default=None,
        help='the sub-task folder (Single-source, Multi-sources or AVSS); '
        "with --config, replaces the config's data_root")
    parser.add_argument(
        '--task',
        choices=sorted(DATASETS),
        help='sub-task (needed without --config)')
    parser.add_argument(
        '--config',
        default=None,
        help="check what this config's dataloaders read: their data sets' "
        'arguments, audio kind and loading transforms')
    parser.add_argument(
        '--split',
        nargs='+',
        default=list(SPLITS),
        choices=list(SPLITS),
        help='splits to check (default: all)')
    parser.add_argument(
        '--audio',
        nargs='+',
        default=None,
        choices=['log_mel', 'wav', 'feature', 'all'],
        help='audio kinds to check (default, and "all": the released ones '
        '- log_mel and wav for S4/MS3, wav for AVSS - and any other with '
        "files in the folder; with --config, the config's)")
    parser.add_argument(
        '--ann-file', default=None, help='metadata csv, if not the default')
    parser.add_argument(
        '--strict',
        action='store_true',
        help='report what strict=True data sets refuse as problems '
        '(suspicious data is otherwise a warning)')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar')
    args = parser.parse_args(argv)
    if args.config is None and (args.task is None or args.root is None):
        parser.error('give the folder and --task, or --config')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.config is not None:
        plans = config_plans(args.config, args.root, args.split, args.audio)
        if not plans:
            print(f'{args.config}: no dataloader reads the splits '
                  f'{args.split}')
            return 1
        task = plans[0].dataset_class.TASK
        root = plans[0].kwargs.get('data_root')
    else:
        task, root = args.task, args.root
        plans = default_plans(task, root, args.split, args.audio,
                              args.ann_file)
    result = check(plans, args.strict, not args.no_progress)
    print(f'AVSBench {task} check of {root}'
          f'{" (strict)" if args.strict else ""}')
    if result.problems:
        print(f'{len(result.problems)} problem(s):')
        for problem in result.problems:
            print('  ' + problem)
    if result.warnings:
        print(f'{len(result.warnings)} warning(s) (usable data that looks '
              'wrong; --strict makes them problems):')
        for warning in result.warnings:
            print('  ' + warning)
    if result.unread:
        print(f'{len(result.unread)} unread file(s) or folder(s) (no '
              'metadata row names them; not a problem for the data sets):')
        for message in result.unread:
            print('  ' + message)
    for report in result.splits:
        print('  ' + report.summary())
    counts = [f'{len(result.warnings)} warning(s)'] if result.warnings else []
    if result.unread:
        counts.append(f'{len(result.unread)} unread')
    if result.problems:
        print(f'{len(result.problems)} problem(s)'
              f'{"".join(", " + c for c in counts)}: the data sets stop on '
              'the problems listed above')
        return 1
    print('no problems found' +
          (f' ({", ".join(counts)}, listed above)' if counts else ''))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
