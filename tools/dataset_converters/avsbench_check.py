# Copyright (c) mmavs contributors. All rights reserved.
"""Check an AVSBench folder: list every missing or broken file.

Walks the metadata csv of a sub-task and, for every clip of the chosen
splits, decodes each frame, mask and audio file the mmavs datasets would
read. Reported problems: missing files, undecodable images, masks whose size
differs from their frame, AVSS mask colours outside the palette, log-mel
``.pkl`` files of the wrong shape, unreadable, empty or too short audio, a
split with no samples and a malformed csv or ``label2idx.json``.

    python tools/dataset_converters/avsbench_check.py \
        data/AVSBench/Single-source --task s4

Exit status: 0 when everything is fine, 1 when problems were found.
"""
import argparse
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from tqdm import tqdm

from mmavs.datasets import (AVSBenchMS3Dataset, AVSBenchS4Dataset,
                            AVSBenchSemanticDataset, AVSDataError)
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
        '--no-progress', action='store_true', help='hide the progress bar')
    return parser.parse_args(argv)


def _try(problems: List[str], func, *args):
    """Run a reader; record its AVSDataError and return None instead."""
    try:
        return func(*args)
    except AVSDataError as error:
        problems.append(str(error))
        return None


def check_clip(info: dict,
               audio_paths: Sequence[str]) -> Tuple[List[str], int]:
    """Decode every file of one clip.

    Args:
        info (dict): A data info of an AVSBench dataset.
        audio_paths (Sequence[str]): The clip's audio files to check.

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
            mask = _try(problems, read_binary_mask, path)
        frame_path = info['frame_paths'][index]
        size = frame_sizes.get(frame_path)
        if mask is not None and size is not None and mask.shape != size:
            problems.append(
                f'{path}: mask is {mask.shape[1]}x{mask.shape[0]} but its '
                f'frame {frame_path} is {size[1]}x{size[0]} (width x height)')
    num_valid = int(sum(info['frame_valid']))
    for path in audio_paths:
        checked += 1
        _try(problems, load_audio_array, path, info['num_frames'], num_valid)
    return problems, checked


def check_split(task: str,
                root: str,
                split: str,
                audio_sources: Sequence[str],
                ann_file: Optional[str] = None,
                progress: bool = True) -> Tuple[List[str], int, int]:
    """Check one split of a sub-task.

    Args:
        task (str): ``'s4'``, ``'ms3'`` or ``'avss'``.
        root (str): The sub-task folder.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        audio_sources (Sequence[str]): Audio kinds to check.
        ann_file (str, optional): The metadata csv, if not the default.
        progress (bool): Show a progress bar on stderr.

    Returns:
        tuple[list[str], int, int]: Problems, clips and files checked.
    """
    dataset_cls = DATASETS[task]
    kwargs = dict(
        split=split, data_root=root, check_files=False, serialize_data=False)
    if ann_file is not None:
        kwargs['ann_file'] = ann_file
    try:
        datasets = [
            dataset_cls(audio_source=source, **kwargs)
            for source in audio_sources
        ]
    except AVSDataError as error:
        return [str(error)], 0, 0
    clips = datasets[0].data_list
    problems: List[str] = []
    num_files = 0
    for index, info in enumerate(
            tqdm(
                clips,
                desc=f'{task} {split}',
                unit='clip',
                file=sys.stderr,
                disable=not progress)):
        audio_paths = [ds.data_list[index]['audio_path'] for ds in datasets]
        clip_problems, checked = check_clip(info, audio_paths)
        problems.extend(clip_problems)
        num_files += checked
    return problems, len(clips), num_files


def main(argv=None) -> int:
    args = parse_args(argv)
    audio = args.audio or list(DEFAULT_AUDIO[args.task])
    if 'all' in audio:
        audio = list(RELEASED_AUDIO[args.task])
    all_problems: List[str] = []
    summary = []
    for split in args.split:
        problems, num_clips, num_files = check_split(args.task, args.root,
                                                     split, audio,
                                                     args.ann_file,
                                                     not args.no_progress)
        summary.append(f'{split}: {num_clips} clips, {num_files} files, '
                       f'{len(problems)} problems')
        all_problems.extend(problems)
    print(f'AVSBench {args.task} check of {args.root}')
    for line in summary:
        print('  ' + line)
    if all_problems:
        print(f'{len(all_problems)} problem(s):')
        for problem in all_problems:
            print('  ' + problem)
        return 1
    print('no problems found')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
