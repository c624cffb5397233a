# Copyright (c) mmavs contributors. All rights reserved.
"""Check an AVSBench folder: list every missing, broken or suspicious file.

Walks the metadata csv of a sub-task and, for every clip of the chosen
splits, decodes each frame, mask and audio file the mmavs datasets would
read, with the same readers and the same rules (``docs/data_checks.md``).

- Problems (the data sets would stop on them): missing files, undecodable
  images, masks whose size differs from their frame, AVSS mask colours
  outside the palette, log-mel arrays of the wrong shape or type or with
  NaN, unreadable, empty, too short or NaN audio, a split with no samples,
  a malformed csv or ``label2idx.json``.
- Warnings (usable, but probably not what you meant): sound that does not
  match its clip, silent sound, grey or lossy (JPEG) masks, labels in the
  alpha channel, clips listed twice or in two splits. ``--strict`` makes
  them problems, as ``strict=True`` does on the data sets.

Every problem is reported; the checker never stops at the first one.

    python tools/dataset_converters/avsbench_check.py \
        data/AVSBench/Single-source --task s4 [--strict]

Exit status: 0 when there is no problem (warnings allowed), 1 otherwise.
"""
import argparse
import sys
import warnings
from contextlib import contextmanager
from typing import Dict, List, Optional, Sequence, Tuple

from tqdm import tqdm

from mmavs.datasets import (AVSBenchMS3Dataset, AVSBenchS4Dataset,
                            AVSBenchSemanticDataset, AVSDataError)
from mmavs.datasets.errors import AVSDataWarning
from mmavs.datasets.readers import (load_audio_array, read_binary_mask,
                                    read_frame, read_palette_mask)

DATASETS = dict(
    s4=AVSBenchS4Dataset, ms3=AVSBenchMS3Dataset, avss=AVSBenchSemanticDataset)
#: Audio sources each sub-task ships.
RELEASED_AUDIO = dict(
    s4=('log_mel', 'wav'), ms3=('log_mel', 'wav'), avss=('wav', ))
DEFAULT_AUDIO = dict(s4=('log_mel', ), ms3=('log_mel', ), avss=('wav', ))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='List every missing or broken file of an AVSBench '
        'sub-task folder.')
    parser.add_argument(
        'root',
        help='the sub-task folder (Single-source, Multi-sources or AVSS)')
    parser.add_argument(
        '--task', required=True, choices=sorted(DATASETS), help='sub-task')
    parser.add_argument(
        '--split',
        nargs='+',
        default=['train', 'val', 'test'],
        choices=['train', 'val', 'test'],
        help='splits to check (default: all)')
    parser.add_argument(
        '--audio',
        nargs='+',
        default=None,
        choices=['log_mel', 'wav', 'feature', 'all'],
        help='audio files to check (default: log_mel for S4/MS3, wav for '
        'AVSS; "all" = every released kind)')
    parser.add_argument(
        '--ann-file', default=None, help='metadata csv, if not the default')
    parser.add_argument(
        '--strict',
        action='store_true',
        help='count suspicious data (warnings) as problems, as '
        'strict=True does on the data sets')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar')
    return parser.parse_args(argv)


@contextmanager
def recording_warnings(notes: List[str]):
    """Collect the data warnings raised inside, as text, into ``notes``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', AVSDataWarning)
        yield
    notes.extend(
        str(w.message) for w in caught
        if issubclass(w.category, AVSDataWarning))


def _try(problems: List[str], func, *args, **kwargs):
    """Run a reader; record its error and return None instead.

    Anything but an :class:`AVSDataError` is a reader bug, reported with
    the file rather than as a traceback, so one file never hides the rest.
    """
    try:
        return func(*args, **kwargs)
    except AVSDataError as error:
        problems.append(str(error))
    except Exception as error:  # a reader bug: still name the file
        target = args[0] if args else kwargs.get('data_root')
        problems.append(f'{target}: unexpected {type(error).__name__} while '
                        f'reading it: {error} (please report this)')
    return None


def check_clip(info: dict,
               audio_paths: Sequence[str],
               strict: bool = False) -> Tuple[List[str], int]:
    """Decode every file of one clip.

    Args:
        info (dict): A data info of an AVSBench dataset.
        audio_paths (Sequence[str]): The clip's audio files to check.
        strict (bool): Suspicious data is a problem. Defaults to False.

    Returns:
        tuple[list[str], int]: The problems found and the number of files
        checked.
    """
    problems: List[str] = []
    checked = 0
    frame_shape: Optional[Tuple[int, int]] = None
    frame_sizes: Dict[str, Tuple[int, int]] = {}
    for path in info['frame_paths']:
        if path is None:
            continue
        checked += 1
        img = _try(problems, read_frame, path)
        if img is None:
            continue
        frame_sizes[path] = img.shape[:2]
        if frame_shape is None:
            frame_shape = img.shape[:2]
        elif img.shape[:2] != frame_shape:
            problems.append(f'{path}: frame is {img.shape[1]}x{img.shape[0]}'
                            f' but other frames of clip "{info["clip_name"]}"'
                            f' are {frame_shape[1]}x{frame_shape[0]}')
    for index, path in enumerate(info['seg_map_paths']):
        if path is None:
            continue
        checked += 1
        if info['task'] == 'avss':
            mask = _try(problems, read_palette_mask, path)
        else:
            mask = _try(problems, read_binary_mask, path, strict=strict)
        frame_path = info['frame_paths'][index]
        size = frame_sizes.get(frame_path)
        if mask is not None and size is not None and mask.shape != size:
            problems.append(
                f'{path}: mask is {mask.shape[1]}x{mask.shape[0]} but its '
                f'frame {frame_path} is {size[1]}x{size[0]} (width x height)')
    num_valid = int(sum(info['frame_valid']))
    for path in audio_paths:
        checked += 1
        _try(problems, load_audio_array, path, info['num_frames'], num_valid,
             strict=strict)
    return problems, checked


def check_split(
        task: str,
        root: str,
        split: str,
        audio_sources: Sequence[str],
        ann_file: Optional[str] = None,
        progress: bool = True,
        strict: bool = False) -> Tuple[List[str], List[str], int, int]:
    """Check one split of a sub-task.

    Args:
        task (str): ``'s4'``, ``'ms3'`` or ``'avss'``.
        root (str): The sub-task folder.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        audio_sources (Sequence[str]): Audio kinds to check.
        ann_file (str, optional): The metadata csv, if not the default.
        progress (bool): Show a progress bar on stderr.
        strict (bool): Suspicious data is a problem. Defaults to False.

    Returns:
        tuple[list[str], list[str], int, int]: Problems, warnings, clips
        and files checked.
    """
    dataset_cls = DATASETS[task]
    kwargs = dict(
        split=split,
        data_root=root,
        check_files=False,
        serialize_data=False,
        strict=strict)
    if ann_file is not None:
        kwargs['ann_file'] = ann_file
    problems: List[str] = []
    notes: List[str] = []
    with recording_warnings(notes):
        datasets = []
        for source in audio_sources:
            dataset = _try(problems, dataset_cls, audio_source=source,
                           **kwargs)
            if dataset is None:
                return problems, notes, 0, 0
            datasets.append(dataset)
    clips = datasets[0].data_list
    num_files = 0
    for index, info in enumerate(
            tqdm(
                clips,
                desc=f'{task} {split}',
                unit='clip',
                file=sys.stderr,
                disable=not progress)):
        audio_paths = [ds.data_list[index]['audio_path'] for ds in datasets]
        with recording_warnings(notes):
            clip_problems, checked = check_clip(info, audio_paths, strict)
        problems.extend(clip_problems)
        num_files += checked
    return problems, notes, len(clips), num_files


def main(argv=None) -> int:
    args = parse_args(argv)
    audio = args.audio or list(DEFAULT_AUDIO[args.task])
    if 'all' in audio:
        audio = list(RELEASED_AUDIO[args.task])
    all_problems: List[str] = []
    all_notes: List[str] = []
    summary = []
    for split in args.split:
        problems, notes, num_clips, num_files = check_split(
            args.task, args.root, split, audio, args.ann_file,
            not args.no_progress, args.strict)
        summary.append(f'{split}: {num_clips} clips, {num_files} files, '
                       f'{len(problems)} problems, {len(notes)} warnings')
        all_problems.extend(problems)
        all_notes.extend(note for note in notes if note not in all_notes)
    print(f'AVSBench {args.task} check of {args.root}')
    for line in summary:
        print('  ' + line)
    if all_notes:
        print(f'{len(all_notes)} warning(s) (usable data that looks wrong; '
              '--strict makes them problems):')
        for note in all_notes:
            print('  ' + note)
    if all_problems:
        print(f'{len(all_problems)} problem(s):')
        for problem in all_problems:
            print('  ' + problem)
        return 1
    print('no problems found')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
