# Copyright (c) mmavs contributors. All rights reserved.
"""AVSBench datasets (S4, MS3, AVSS) read in their released layout.

One dataset sample is one clip of T frames; see ``docs/design.md`` for the
keys of the returned data infos. The released layouts are:

.. code-block:: none

    Single-source/                                   (S4, T = 5)
    ├── s4_meta_data.csv               name,start_time,category,split
    └── s4_data
        ├── visual_frames/{split}/{category}/{name}/{name}_{1..5}.png
        ├── gt_masks/{split}/{category}/{name}/{name}_{k}.png
        │       (train: k = 1 only; val/test: k = 1..5)
        ├── audio_log_mel/{split}/{category}/{name}.pkl   [5, 1, 96, 64]
        └── audio_wav/{split}/{category}/{name}.wav       16 kHz

    Multi-sources/                                   (MS3, T = 5)
    ├── ms3_meta_data.csv              first column = name, a split column
    └── ms3_data
        ├── visual_frames/{name}/{name}.mp4_{1..5}.png    (no split folder)
        ├── gt_masks/{split}/{name}/{name}_{1..5}.png
        ├── audio_log_mel/{split}/{name}.pkl
        └── audio_wav/{split}/{name}.wav

    AVSS/                                            (AVSS, T = 10)
    ├── metadata.csv                   uid,label,split (label: v1s|v1m|v2)
    ├── label2idx.json                 71 class names -> 0..70
    └── {label}/{uid}
        ├── frames/{i}.jpg             i = 0 .. n-1 (n = 5 for v1s/v1m, 10)
        ├── labels_rgb/{i}.png         colour masks, same index as frames
        └── audio.wav
"""
import json
import logging
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

import mmengine.fileio as fileio
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .errors import AVSDataError
from .metadata import read_metadata_csv, report_repeated_clips
from .metainfo import (AVSS_CLASSES, AVSS_PALETTE, BINARY_CLASSES,
                       BINARY_PALETTE)

SPLITS = ('train', 'val', 'test')
AVSS_SUBSETS = ('v1s', 'v1m', 'v2')


class AVSBenchBaseDataset(BaseSegDataset):
    """Common base of the AVSBench datasets: one sample = one clip.

    Subclasses describe their layout by implementing :meth:`parse_clip`; this
    class reads the metadata csv, keeps the rows of one split, optionally
    checks that every file a clip needs exists, and fills the keys shared by
    every task.

    Args:
        split (str): ``'train'``, ``'val'`` or ``'test'`` (the ``split``
            column of the metadata csv).
        ann_file (str, optional): The metadata csv, relative to
            ``data_root``. Defaults to the released name of the task.
        data_root (str, optional): The task's folder (e.g.
            ``data/AVSBench/Single-source``).
        data_prefix (dict, optional): Sub-folders relative to ``data_root``;
            given keys replace the task defaults (``DEFAULT_DATA_PREFIX``).
        audio_source (str): Which audio file each clip points to:
            ``'log_mel'`` (released ``.pkl`` [T, 1, 96, 64]), ``'wav'``
            (through the VGGish front end) or ``'feature'`` (precomputed
            [T, 128] features, ``feature_suffix`` files). Defaults to the
            task's ``DEFAULT_AUDIO_SOURCE``.
        feature_suffix (str): Suffix of precomputed feature files
            (``.npy`` or ``.pkl``). Defaults to ``'.npy'``.
        check_files (bool): Check at start-up that every frame, mask and
            audio file of the split exists. Defaults to True.
        skip_missing (bool): With ``check_files``, drop clips that miss a
            file (with a logged count) instead of raising. Defaults to False.
        strict (bool): Raise on suspicious but usable data (a clip listed
            twice or in two splits, sound that does not match its clip,
            grey or lossy masks; see ``docs/data_checks.md``) instead of
            warning once per file. Defaults to False.
        metainfo (dict, optional): Overrides of ``METAINFO``.
        pipeline (list[dict | callable]): Processing pipeline.
        test_mode (bool): Test phase flag. Defaults to False.
        lazy_init (bool): Defer loading the metadata. Defaults to False.
        indices (int | Sequence[int], optional): Keep only these clips.
        serialize_data (bool): Serialise the data list. Defaults to True.
        max_refetch (int): See :class:`mmengine.dataset.BaseDataset`.
        ignore_index (int): Label of ignored pixels. Defaults to 255.
        backend_args (dict, optional): mmengine file backend arguments.

    Raises:
        AVSDataError: The metadata csv is missing or malformed, the split has
            no samples, or (``check_files`` without ``skip_missing``) files
            are missing; the message names the files.
    """

    TASK = ''
    NUM_FRAMES = 5
    DEFAULT_ANN_FILE = ''
    DEFAULT_DATA_PREFIX: Dict[str, str] = {}
    DEFAULT_AUDIO_SOURCE = 'log_mel'
    AUDIO_SOURCES = ('log_mel', 'wav', 'feature')
    METAINFO = dict(classes=BINARY_CLASSES, palette=BINARY_PALETTE)

    def __init__(self,
                 split: str = 'train',
                 ann_file: Optional[str] = None,
                 data_root: Optional[str] = None,
                 data_prefix: Optional[dict] = None,
                 audio_source: Optional[str] = None,
                 feature_suffix: str = '.npy',
                 check_files: bool = True,
                 skip_missing: bool = False,
                 strict: bool = False,
                 metainfo: Optional[dict] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 max_refetch: int = 1000,
                 ignore_index: int = 255,
                 backend_args: Optional[dict] = None) -> None:
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        audio_source = audio_source or self.DEFAULT_AUDIO_SOURCE
        if audio_source not in self.AUDIO_SOURCES:
            raise ValueError(f'{type(self).__name__} audio_source must be one '
                             f'of {self.AUDIO_SOURCES}, got {audio_source!r}')
        self.split = split
        self.audio_source = audio_source
        self.feature_suffix = feature_suffix
        self.check_files = check_files
        self.skip_missing = skip_missing
        self.strict = strict
        prefix = dict(self.DEFAULT_DATA_PREFIX)
        prefix.update(data_prefix or {})
        super().__init__(
            ann_file=self.DEFAULT_ANN_FILE if ann_file is None else ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=prefix,
            indices=indices,
            serialize_data=serialize_data,
            pipeline=list(pipeline),
            test_mode=test_mode,
            lazy_init=lazy_init,
            max_refetch=max_refetch,
            ignore_index=ignore_index,
            reduce_zero_label=False,
            backend_args=backend_args)

    # ------------------------------------------------------------------ #
    # Layout hooks
    # ------------------------------------------------------------------ #
    def parse_clip(self, row: Dict[str, str], name_column: str) -> dict:
        """Build the task-specific part of a clip's data info.

        Args:
            row (dict[str, str]): One csv row (column -> stripped value).
            name_column (str): The column that holds the clip name.

        Returns:
            dict: At least ``clip_name``, ``category``, ``frame_paths``,
            ``seg_map_paths``, ``label_flags``, ``frame_valid`` and
            ``audio_path``.
        """
        raise NotImplementedError

    def name_column(self, fieldnames: List[str]) -> str:
        """The csv column holding the clip name (the first by default)."""
        return fieldnames[0]

    def keep_row(self, row: Dict[str, str]) -> bool:
        """Whether a row of the selected split belongs to this dataset."""
        return True

    # ------------------------------------------------------------------ #
    def _prefix(self, key: str) -> str:
        return self.data_prefix.get(key, '')

    def _read_metadata(self) -> List[Dict[str, str]]:
        """The csv rows of the selected split, with a name column."""
        if not self.ann_file:
            raise AVSDataError(f'{type(self).__name__}: no metadata csv '
                               '(ann_file) given')
        fieldnames, all_rows = read_metadata_csv(
            self.ann_file, SPLITS, self.backend_args)
        name_column = self.name_column(fieldnames)
        report_repeated_clips(self.ann_file, all_rows, name_column,
                              self.split, self.strict)
        rows, split_counts, kept = [], {}, set()
        for row in all_rows:
            split_counts[row['split']] = split_counts.get(row['split'], 0) + 1
            if row['split'] != self.split or not self.keep_row(row):
                continue
            if not row.get(name_column):
                raise AVSDataError(f'{self.ann_file}: line {row["_line"]} has '
                                   f'no clip name in column "{name_column}"')
            if row[name_column] not in kept:  # a repeated row loads once
                kept.add(row[name_column])
                rows.append(row)
        if not rows:
            raise AVSDataError(
                f'{self.ann_file}: split "{self.split}" has no samples'
                f'{self._selection_note()} (rows per split in the csv: '
                f'{split_counts or "none"})')
        self._name_column = name_column
        return rows

    def _selection_note(self) -> str:
        return ''

    def load_data_list(self) -> List[dict]:
        """Read the clips of the split from the metadata csv.

        Returns:
            list[dict]: One data info per clip (see ``docs/design.md``).
        """
        data_list = []
        for row in self._read_metadata():
            info = self.parse_clip(row, self._name_column)
            info.update(
                split=self.split,
                task=self.TASK,
                strict=self.strict,
                num_frames=len(info['frame_paths']),
                reduce_zero_label=False,
                label_map=self.label_map,
                seg_fields=[])
            data_list.append(info)
        if self.check_files:
            data_list = self._drop_or_raise_missing(data_list)
        return data_list

    def _exists(self, path: str) -> bool:
        if self.backend_args is None:
            return osp.isfile(path)
        return fileio.exists(path, backend_args=self.backend_args)

    def missing_files(self, info: dict) -> List[str]:
        """The start-up check (``check_files``) of one clip, which the
        checker (``tools/dataset_converters/avsbench_check.py``) runs too.

        Args:
            info (dict): A data info of this data set.

        Returns:
            list[str]: One message per missing file, starting with it.
        """
        problems = []
        for index, path in enumerate(info['frame_paths']):
            if path is not None and not self._exists(path):
                problems.append(
                    f'{path}: frame {index + 1}/{info["num_frames"]} of '
                    f'clip "{info["clip_name"]}" is missing')
        for index, path in enumerate(info['seg_map_paths']):
            if path is not None and not self._exists(path):
                problems.append(
                    f'{path}: mask of frame {index + 1}/'
                    f'{info["num_frames"]} of clip '
                    f'"{info["clip_name"]}" is missing (the '
                    f'{self.split} split labels this frame)')
        if not self._exists(info['audio_path']):
            problems.append(
                f'{info["audio_path"]}: audio ({self.audio_source}) of '
                f'clip "{info["clip_name"]}" is missing')
        return problems

    def _drop_or_raise_missing(self, data_list: List[dict]) -> List[dict]:
        problems, kept = [], []
        for info in data_list:
            clip_problems = self.missing_files(info)
            problems.extend(clip_problems)
            kept.extend([] if clip_problems else [info])
        if not problems:
            return kept
        if self.skip_missing:
            print_log(
                f'{type(self).__name__} ({self.split}): skipped '
                f'{len(data_list) - len(kept)} of {len(data_list)} clips '
                f'with missing files ({len(problems)} files), e.g. '
                f'{problems[0]}',
                logger='current',
                level=logging.WARNING)
            if not kept:
                raise AVSDataError(
                    f'{self.ann_file}: split "{self.split}" has no samples '
                    'left after skipping clips with missing files, e.g. '
                    f'{problems[0]}')
            return kept
        shown = problems[:20]
        more = len(problems) - len(shown)
        raise AVSDataError(
            f'{len(problems)} file(s) of {type(self).__name__} '
            f'({self.split}) are missing:\n  ' + '\n  '.join(shown) +
            (f'\n  ... and {more} more' if more else '') +
            '\n(use tools/dataset_converters/avsbench_check.py for a full '
            'report, or skip_missing=True to drop these clips)')

    @staticmethod
    def clip_info(name: str, category: Optional[str],
                  frame_paths: List[Optional[str]],
                  seg_map_paths: List[Optional[str]], audio_path: str,
                  **extra) -> dict:
        """A clip's data info; its flags follow from its paths.

        Args:
            name (str): The clip name.
            category (str, optional): The S4 category.
            frame_paths (list[str | None]): T frames; None = padding.
            seg_map_paths (list[str | None]): T masks; None = unlabelled.
            audio_path (str): The audio file.
            **extra: More keys (e.g. ``subset``).

        Returns:
            dict: With ``label_flags`` (1 where a mask exists) and
            ``frame_valid`` (1 where a frame exists).
        """
        return dict(
            clip_name=name,
            category=category,
            frame_paths=frame_paths,
            seg_map_paths=seg_map_paths,
            label_flags=[int(path is not None) for path in seg_map_paths],
            frame_valid=[int(path is not None) for path in frame_paths],
            audio_path=audio_path,
            **extra)

    def _audio_path(self, *parts: str) -> str:
        """Audio file of a clip; ``parts`` end with the clip name."""
        extension = dict(
            log_mel='.pkl', wav='.wav',
            feature=self.feature_suffix)[self.audio_source]
        return osp.join(self._prefix(self.audio_source), *parts) + extension


@DATASETS.register_module()
class AVSBenchS4Dataset(AVSBenchBaseDataset):
    """AVSBench single-source (S4) clips: 5 frames, binary masks.

    Train clips have a mask for frame 1 only (``label_flags`` [1,0,0,0,0],
    the other four frames get masks of ``ignore_index``); val/test clips have
    all five. See :class:`AVSBenchBaseDataset` for the arguments; the
    ``data_prefix`` keys are ``frames``, ``masks``, ``log_mel``, ``wav`` and
    ``feature`` (default ``s4_data/visual_frames``, ``s4_data/gt_masks``,
    ``s4_data/audio_log_mel``, ``s4_data/audio_wav`` and
    ``s4_data/audio_vggish``).

    Examples:
        >>> ds = AVSBenchS4Dataset(split='train',
        ...                        data_root='data/AVSBench/Single-source')
        >>> ds[0]['clip_name'], ds[0]['label_flags']  # doctest: +SKIP
    """

    TASK = 's4'
    NUM_FRAMES = 5
    DEFAULT_ANN_FILE = 's4_meta_data.csv'
    DEFAULT_DATA_PREFIX = dict(
        frames='s4_data/visual_frames',
        masks='s4_data/gt_masks',
        log_mel='s4_data/audio_log_mel',
        wav='s4_data/audio_wav',
        feature='s4_data/audio_vggish')

    def name_column(self, fieldnames: List[str]) -> str:
        for column in ('name', 'category'):
            if column not in fieldnames:
                raise AVSDataError(f'{self.ann_file}: S4 metadata csv has no '
                                   f'"{column}" column (columns: '
                                   f'{fieldnames})')
        return 'name'

    def parse_clip(self, row: Dict[str, str], name_column: str) -> dict:
        name, category = row[name_column], row['category']
        frame_dir = osp.join(
            self._prefix('frames'), self.split, category, name)
        mask_dir = osp.join(self._prefix('masks'), self.split, category, name)
        # Train clips are labelled on their first frame only.
        labelled = 1 if self.split == 'train' else self.NUM_FRAMES
        return self.clip_info(
            name, category, [
                osp.join(frame_dir, f'{name}_{i + 1}.png')
                for i in range(self.NUM_FRAMES)
            ], [
                osp.join(mask_dir, f'{name}_{i + 1}.png')
                if i < labelled else None for i in range(self.NUM_FRAMES)
            ], self._audio_path(self.split, category, name))


@DATASETS.register_module()
class AVSBenchMS3Dataset(AVSBenchBaseDataset):
    """AVSBench multi-source (MS3) clips: 5 frames, all labelled, binary.

    The clip name is the first csv column. Frames are shared by all splits
    (``visual_frames/{name}/{name}.mp4_{i}.png``). See
    :class:`AVSBenchBaseDataset` for the arguments; ``data_prefix`` keys as
    for :class:`AVSBenchS4Dataset` under ``ms3_data/``.
    """

    TASK = 'ms3'
    NUM_FRAMES = 5
    DEFAULT_ANN_FILE = 'ms3_meta_data.csv'
    DEFAULT_DATA_PREFIX = dict(
        frames='ms3_data/visual_frames',
        masks='ms3_data/gt_masks',
        log_mel='ms3_data/audio_log_mel',
        wav='ms3_data/audio_wav',
        feature='ms3_data/audio_vggish')

    def parse_clip(self, row: Dict[str, str], name_column: str) -> dict:
        name = row[name_column]
        frame_dir = osp.join(self._prefix('frames'), name)
        mask_dir = osp.join(self._prefix('masks'), self.split, name)
        return self.clip_info(
            name, None, [
                osp.join(frame_dir, f'{name}.mp4_{i + 1}.png')
                for i in range(self.NUM_FRAMES)
            ], [
                osp.join(mask_dir, f'{name}_{i + 1}.png')
                for i in range(self.NUM_FRAMES)
            ], self._audio_path(self.split, name))


@DATASETS.register_module()
class AVSBenchSemanticDataset(AVSBenchBaseDataset):
    """AVSBench-semantic (AVSS) clips: 10 frames, 71 classes.

    Subsets (csv column ``label``):

    - ``v2``: 10 frames, all labelled.
    - ``v1m``: 5 real frames, all labelled; padded to 10.
    - ``v1s``: 5 real frames; train labels frame 1 only, val/test ship (and
      label) all five masks, as the release does; padded to 10.

    Padded frames have ``frame_paths`` None, ``frame_valid`` 0 and
    ``label_flags`` 0; the loading transforms give them a black image, a
    background (0) mask and a copy of the last real audio example. Frames and
    masks are numbered from 0 (``frames/0.jpg``, ``labels_rgb/0.png``), as
    released.

    Args:
        subsets (Sequence[str]): Keep only these subsets. Defaults to all.
        label2idx_file (str, optional): ``label2idx.json`` relative to
            ``data_root``. When it exists it must map the classes of
            ``METAINFO`` to their indices (the palette colour of a mask pixel
            is its class index), else loading fails. None skips the check.
            Defaults to ``'label2idx.json'``.
        **kwargs: See :class:`AVSBenchBaseDataset`; ``audio_source`` is
            ``'wav'`` (``{uid}/audio.wav``, the default), ``'log_mel'``
            (``{uid}/audio_log_mel.pkl``) or ``'feature'``
            (``{uid}/audio_vggish{feature_suffix}``); ``data_prefix`` has
            one key, ``clips`` (default ``''``: the subset folders are in
            ``data_root``).
    """

    TASK = 'avss'
    NUM_FRAMES = 10
    DEFAULT_ANN_FILE = 'metadata.csv'
    DEFAULT_DATA_PREFIX = dict(clips='')
    DEFAULT_AUDIO_SOURCE = 'wav'
    METAINFO = dict(classes=AVSS_CLASSES, palette=AVSS_PALETTE)
    AUDIO_FILES = dict(
        wav='audio.wav', log_mel='audio_log_mel.pkl', feature='audio_vggish')
    #: Real frames per subset.
    SUBSET_FRAMES = dict(v1s=5, v1m=5, v2=10)

    def __init__(self,
                 subsets: Sequence[str] = AVSS_SUBSETS,
                 label2idx_file: Optional[str] = 'label2idx.json',
                 **kwargs) -> None:
        unknown = set(subsets) - set(AVSS_SUBSETS)
        if unknown:
            raise ValueError(f'Unknown AVSS subsets {sorted(unknown)}; '
                             f'choose from {AVSS_SUBSETS}')
        self.subsets = tuple(subsets)
        self.label2idx_file = label2idx_file
        super().__init__(**kwargs)

    def name_column(self, fieldnames: List[str]) -> str:
        for column in ('uid', 'label'):
            if column not in fieldnames:
                raise AVSDataError(f'{self.ann_file}: AVSS metadata csv has '
                                   f'no "{column}" column (columns: '
                                   f'{fieldnames})')
        return 'uid'

    def keep_row(self, row: Dict[str, str]) -> bool:
        if row['label'] not in AVSS_SUBSETS:
            raise AVSDataError(
                f'{self.ann_file}: line {row["_line"]} (uid '
                f'{row.get("uid")}) has unknown label {row["label"]!r}; '
                f'expected one of {AVSS_SUBSETS}')
        return row['label'] in self.subsets

    def _selection_note(self) -> str:
        if set(self.subsets) != set(AVSS_SUBSETS):
            return f' in subsets {list(self.subsets)}'
        return ''

    def labelled_frames(self, subset: str) -> List[int]:
        """0-based indices of the frames with a released mask."""
        if subset == 'v1s' and self.split == 'train':
            return [0]
        return list(range(self.SUBSET_FRAMES[subset]))

    def load_data_list(self) -> List[dict]:
        self._check_label2idx()
        return super().load_data_list()

    def _check_label2idx(self) -> None:
        if not self.label2idx_file:
            return
        path = self.label2idx_file
        if self.data_root and not osp.isabs(path):
            path = osp.join(self.data_root, path)
        if not self._exists(path):
            return
        try:
            label2idx = json.loads(
                fileio.get_text(path, backend_args=self.backend_args))
            by_index = {int(index): name for name, index in label2idx.items()}
        except (ValueError, AttributeError, TypeError) as error:
            raise AVSDataError(f'{path}: not a JSON object of class name -> '
                               f'index ({error})') from error
        classes = list(self.metainfo['classes'])
        if self.label_map is not None:
            classes = list(type(self).METAINFO['classes'])
        found = [by_index.get(index) for index in range(len(by_index))]
        if found != classes:
            at = next(
                (i for i, (a, b) in enumerate(zip(found, classes)) if a != b),
                min(len(found), len(classes)))
            in_file = repr(found[at]) if at < len(found) else 'missing'
            in_dataset = repr(classes[at]) if at < len(classes) else 'missing'
            raise AVSDataError(
                f'{path}: class list does not match the dataset classes '
                f'({len(found)} vs {len(classes)} classes; index {at} is '
                f'{in_file} in the file but {in_dataset} in the dataset). '
                'mmavs reads the colour masks with the 71-class AVSS '
                'palette in this order; fix the file, or pass '
                'label2idx_file=None to skip the check.')

    def parse_clip(self, row: Dict[str, str], name_column: str) -> dict:
        uid, subset = row[name_column], row['label']
        clip_dir = osp.join(self._prefix('clips'), subset, uid)
        num_real = self.SUBSET_FRAMES[subset]
        labelled = set(self.labelled_frames(subset))
        audio_name = self.AUDIO_FILES[self.audio_source]
        if self.audio_source == 'feature':
            audio_name += self.feature_suffix
        frame_paths, seg_map_paths = [], []
        for i in range(self.NUM_FRAMES):
            real = i < num_real
            frame_paths.append(
                osp.join(clip_dir, 'frames', f'{i}.jpg') if real else None)
            seg_map_paths.append(
                osp.join(clip_dir, 'labels_rgb', f'{i}.png') if i in
                labelled else None)
        return self.clip_info(
            uid,
            None,
            frame_paths,
            seg_map_paths,
            osp.join(clip_dir, audio_name),
            subset=subset)


def avs_dataset_class(dataset_cfg: dict) -> type:
    """The AVSBench dataset class a dataset config builds.

    Wrappers (``AudioSwapDataset``, mmengine's ``ConcatDataset`` of one
    ``dataset``, ...) are looked through, so tools can read ``TASK``,
    ``NUM_FRAMES`` and ``DEFAULT_AUDIO_SOURCE`` of any AVS config.

    Args:
        dataset_cfg (dict): A dataloader's ``dataset`` config.

    Returns:
        type: A subclass of :class:`AVSBenchBaseDataset`.

    Raises:
        ValueError: The config builds no AVSBench dataset.
    """
    while 'dataset' in dataset_cfg:
        dataset_cfg = dataset_cfg['dataset']
    dataset_type = dataset_cfg.get('type')
    dataset_class = DATASETS.get(dataset_type) if isinstance(
        dataset_type, str) else dataset_type
    if not (isinstance(dataset_class, type)
            and issubclass(dataset_class, AVSBenchBaseDataset)):
        raise ValueError(f'{dataset_type!r} is not an AVSBench dataset '
                         '(AVSBenchS4Dataset, AVSBenchMS3Dataset, '
                         'AVSBenchSemanticDataset or a subclass)')
    return dataset_class
