# Copyright (c) mmavs contributors. All rights reserved.
"""tools/dataset_converters/avsbench_check.py agrees with the data sets.

A corpus of small synthetic data sets (S4, MS3, AVSS in the released
layouts), each with ONE file damaged, odd or suspicious. For every case the
data sets' verdict - each split built as the dataset configs build it, for
every audio kind the configs may read, and every clip loaded through the
loading transforms, recording ``AVSDataError`` and ``AVSDataWarning`` -
must equal the checker's: the same category (ok / warning / problem) and
the same words. The same holds in strict mode. The checker may add only
the whole-folder facts (files no metadata row names).
"""
import csv
import importlib.util
import os
import os.path as osp
import pickle
import re
import shutil
import warnings
from typing import Callable, NamedTuple

import cv2
import numpy as np
import pytest
import soundfile
import torch

from mmavs.datasets import (AVSBenchMS3Dataset, AVSBenchS4Dataset,
                            AVSBenchSemanticDataset, AVSDataError,
                            LoadAVSAnnotations, LoadAVSAudio, LoadAVSFrames)
from mmavs.datasets.audio import load_pickled_array
from mmavs.datasets.errors import AVSDataWarning
from mmavs.datasets.synthetic import TASK_FOLDERS, make_synthetic_avsbench

TOOL = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'dataset_converters',
    'avsbench_check.py')
SPLITS = ('train', 'val', 'test')
DATASETS = dict(
    s4=AVSBenchS4Dataset, ms3=AVSBenchMS3Dataset, avss=AVSBenchSemanticDataset)
#: The audio kinds the configs read: S4 and MS3 ship log-mel and wav (the
#: base configs read either), S4 also has a VGGish feature config; AVSS
#: reads its wav. The base set below has S4 features, so the checker's
#: default (released kinds + kinds with files) is this too.
AUDIO = dict(
    s4=('log_mel', 'wav', 'feature'), ms3=('log_mel', 'wav'), avss=('wav', ))
#: The loading transforms of the dataset configs' pipelines.
LOADING = [LoadAVSFrames(), LoadAVSAnnotations(), LoadAVSAudio()]
SIZE = 16
SR = 16000


def load_checker():
    spec = importlib.util.spec_from_file_location('avsbench_check', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


checker = load_checker()


@pytest.fixture(scope='module')
def base(tmp_path_factory):
    """The clean synthetic set, written once: S4 and MS3 with one clip per
    split, AVSS with a v2, a v1s and a v1m clip in train; S4 also gets
    [5, 128] VGGish features."""
    root = tmp_path_factory.mktemp('avsbench_base')
    make_synthetic_avsbench(
        str(root),
        tasks=('s4', 'ms3'),
        num_clips=1,
        image_size=SIZE,
        num_categories=2,
        objects_per_clip=(1, 1),
        seed=5)
    make_synthetic_avsbench(
        str(root),
        tasks='avss',
        num_clips=dict(train=3, val=1, test=1),
        image_size=SIZE,
        num_categories=2,
        objects_per_clip=(1, 1),
        seed=5)
    s4 = str(root / TASK_FOLDERS['s4'])
    rng = np.random.default_rng(0)
    for split in SPLITS:
        path = clip(s4, 's4', split, 'feature')['audio_path']
        os.makedirs(osp.dirname(path), exist_ok=True)
        np.save(path, rng.random((5, 128)).astype(np.float32))
    return root


# --------------------------------------------------------------------- #
# Where the files are, and how to damage them
# --------------------------------------------------------------------- #
def clip(root, task, split='test', audio=None, index=0):
    """A clip's data info, as the data set names its files."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dataset = DATASETS[task](
            split=split,
            data_root=root,
            audio_source=audio,
            check_files=False,
            serialize_data=False)
    return dataset.get_data_info(index)


def write_bytes(path, data):
    with open(path, 'wb') as file:
        file.write(data)


def write_image(path, image, ext='.png'):
    """``image`` encoded as ``ext`` under ``path`` (a JPEG can hide behind
    a .png name)."""
    ok, data = cv2.imencode(ext, image)
    assert ok
    write_bytes(path, data.tobytes())


def write_wav(path,
              seconds,
              amplitude=0.3,
              rate=SR,
              channels=1,
              subtype='PCM_16',
              poke=None):
    t = np.arange(int(seconds * rate)) / rate
    wave = amplitude * np.sin(2 * np.pi * (500 + 250 * np.floor(t)) * t)
    if poke is not None:
        wave = wave.astype(np.float32)
        wave[len(wave) // 2] = poke
    if channels > 1:
        wave = np.stack([wave] * channels, axis=1)
    soundfile.write(path, wave, rate, subtype=subtype)


def square(value=255, dtype=np.uint8, size=SIZE):
    mask = np.zeros((size, size), dtype)
    mask[4:12, 4:12] = value
    return mask


def read_rows(path):
    with open(path, newline='', encoding='utf-8') as file:
        return list(csv.reader(file))


def write_rows(path, rows):
    with open(path, 'w', newline='', encoding='utf-8') as file:
        csv.writer(file).writerows(rows)


def csv_path(root, task):
    return osp.join(root, DATASETS[task].DEFAULT_ANN_FILE)


# Damages: ``damage(root)`` breaks one thing in a copy of a sub-task.
def frame(task='s4', split='test', index=0, frame_index=1):
    return lambda root: clip(root, task, split, None, index)['frame_paths'][
        frame_index]


def mask(task='s4', split='test', index=0, frame_index=1):
    return lambda root: clip(root, task, split, None, index)['seg_map_paths'][
        frame_index]


def audio(task='s4', kind=None, split='test', index=0):
    return lambda root: clip(root, task, split, kind, index)['audio_path']


def remove(where):
    return lambda root: os.remove(where(root))


def replace_by_dir(where):

    def damage(root):
        path = where(root)
        os.remove(path)
        os.makedirs(path)

    return damage


def put_bytes(where, data):
    return lambda root: write_bytes(where(root), data)


def cut(where, fraction):

    def damage(root):
        path = where(root)
        with open(path, 'rb') as file:
            data = file.read()
        write_bytes(path, data[:int(len(data) * fraction)])

    return damage


def image(where, make, ext='.png'):
    """Replace an image by ``make(the image as read, unchanged)``."""

    def damage(root):
        path = where(root)
        write_image(path, make(cv2.imread(path, cv2.IMREAD_UNCHANGED)), ext)

    return damage


def wav(where, seconds, **kwargs):
    return lambda root: write_wav(where(root), seconds, **kwargs)


def pickled(where, obj):
    return lambda root: write_bytes(where(root), pickle.dumps(obj))


def saved(where, array):
    return lambda root: np.save(where(root), array, allow_pickle=True)


def torch_saved(where, tensor):
    return lambda root: torch.save(tensor, where(root))


def truncate_wav_data(where, seconds):
    """Cut a PCM-16 wav's data after ``seconds``; the header still says
    how long it was."""

    def damage(root):
        path = where(root)
        with open(path, 'rb') as file:
            data = file.read()
        write_bytes(path, data[:44 + int(seconds * SR) * 2])

    return damage


def log_mel_of(where, transform):
    """Rewrite a released log-mel .pkl as ``transform(its array)``."""

    def damage(root):
        path = where(root)
        array = load_pickled_array(path)
        result = transform(array)
        if callable(getattr(result, 'save_to', None)):
            result.save_to(path)
        else:
            write_bytes(path, pickle.dumps(result))

    return damage


class TorchSave:

    def __init__(self, tensor):
        self.tensor = tensor

    def save_to(self, path):
        torch.save(self.tensor, path)


def with_nan(array):
    array = array.copy()
    array.flat[7] = np.nan
    return torch.from_numpy(array)


def edit_csv(task, edit):
    """Rewrite the metadata csv's rows (header first) with ``edit``."""

    def damage(root):
        path = csv_path(root, task)
        write_rows(path, edit(read_rows(path)))

    return damage


def csv_text(task, make_text, encoding='utf-8'):
    """Replace the csv by ``make_text(its text)``."""

    def damage(root):
        path = csv_path(root, task)
        with open(path, encoding='utf-8') as file:
            text = file.read()
        write_bytes(path, make_text(text).encode(encoding))

    return damage


def move_to_other_split(task, to_split):
    """List the test clip in ``to_split`` too, with its files where that
    split's layout reads them: only the listing is wrong."""

    def damage(root):
        source = clip(root, task, 'test', None)
        sources = {
            kind: clip(root, task, 'test', kind)
            for kind in AUDIO[task]
        }
        path = csv_path(root, task)
        rows = read_rows(path)
        name_column = 0 if task == 'ms3' else rows[0].index('uid' if task ==
                                                            'avss' else 'name')
        row = next(r for r in rows[1:]
                   if r[name_column] == source['clip_name'])
        rows.append([
            to_split if column == 'split' else value
            for column, value in zip(rows[0], row)
        ])
        write_rows(path, rows)
        for kind in AUDIO[task]:
            target = clip(root, task, to_split, kind, index=-1)
            assert target['clip_name'] == source['clip_name']
            pairs = list(zip(source['frame_paths'], target['frame_paths'])) \
                + list(zip(source['seg_map_paths'],
                           target['seg_map_paths'])) \
                + [(sources[kind]['audio_path'], target['audio_path'])]
            for src, dst in pairs:
                if src and dst and not osp.exists(dst):
                    os.makedirs(osp.dirname(dst), exist_ok=True)
                    shutil.copy(src, dst)

    return damage


def copy_clip_folder(where, new_name):
    """A frame folder that no csv row names."""

    def damage(root):
        folder = osp.dirname(where(root))
        shutil.copytree(folder, osp.join(osp.dirname(folder), new_name))

    return damage


def extra_file(where, name):
    return lambda root: shutil.copy(
        where(root), osp.join(osp.dirname(where(root)), name))


def drop_row(task, index):
    return edit_csv(task, lambda rows: rows[:index] + rows[index + 1:])


def label2idx(edit):

    def damage(root):
        import json
        path = osp.join(root, 'label2idx.json')
        with open(path) as file:
            mapping = json.load(file)
        with open(path, 'w') as file:
            json.dump(edit(mapping), file)

    return damage


def swap_first_classes(mapping):
    names = sorted(mapping, key=mapping.get)
    mapping[names[1]], mapping[names[2]] = mapping[names[2]], \
        mapping[names[1]]
    return mapping


def palette_mode_png(where):
    """The AVSS mask as a palette ('P' mode) PNG, same colours."""

    def damage(root):
        from PIL import Image
        path = where(root)
        rgb = cv2.imread(path)[..., ::-1]
        colours, indices = np.unique(
            rgb.reshape(-1, 3), axis=0, return_inverse=True)
        picture = Image.fromarray(
            indices.reshape(rgb.shape[:2]).astype(np.uint8), 'P')
        picture.putpalette(colours.astype(np.uint8).flatten().tolist())
        picture.save(path)

    return damage


class Case(NamedTuple):
    """A sub-task, one damage, the verdict (``ok``, ``warning`` or
    ``problem``) and a regex the reported message must match; ``unread``:
    the checker also lists files no metadata row names."""

    name: str
    task: str
    damage: Callable
    verdict: str
    words: str = ''
    unread: bool = False


#: A square mask with an anti-aliased (grey) top edge.
GREY_EDGES = square()
GREY_EDGES[4, 4:12] = 128

CASES = [
    # Frames
    Case('frame_missing', 's4', remove(frame()), 'problem',
         r'frame 2/5 of clip "syn_s4_test_0000" is missing'),
    Case('frame_empty', 's4', put_bytes(frame(), b''), 'problem',
         'frame file is empty'),
    Case('frame_directory', 's4', replace_by_dir(frame()), 'problem',
         'frame 2/5 of clip .* is missing'),
    Case('frame_random_bytes', 's4', put_bytes(frame(), os.urandom(300)),
         'problem', 'frame cannot be decoded'),
    Case('frame_truncated_png', 's4', cut(frame(), 0.6), 'problem',
         'cannot be decoded'),
    Case('avss_frame_truncated_jpeg', 'avss', cut(frame('avss'), 0.5),
         'problem', 'cannot be decoded'),
    Case('frame_16bit', 's4',
         image(frame(), lambda v: v.astype(np.uint16) * 257), 'ok'),
    Case('frame_grey', 's4', image(frame(), lambda v: v[..., 0]), 'ok'),
    Case(
        'frame_rgba', 's4',
        image(frame(),
              lambda v: np.dstack([v, np.zeros(v.shape[:2], v.dtype)])), 'ok'),
    Case('frame_jpeg_named_png', 's4', image(frame(), lambda v: v, '.jpg'),
         'ok'),
    Case('frame_other_size', 's4',
         image(frame(frame_index=3), lambda v: cv2.resize(v, (24, SIZE))),
         'problem', r'frame is 24x16 but .*_1\.png of the same clip is '
         '16x16'),
    Case('ms3_frame_missing', 'ms3', remove(frame('ms3')), 'problem',
         'is missing'),
    Case('avss_v1m_frame_missing', 'avss',
         remove(frame('avss', 'train', 2, 3)), 'problem',
         r'frame 4/10 of clip "syn_v1m_train_\d+" is missing'),
    # Binary masks
    Case('mask_missing', 's4', remove(mask()), 'problem',
         'mask of frame 2/5 .* is missing'),
    Case('s4_train_mask_missing', 's4', remove(mask('s4', 'train', 0, 0)),
         'problem', 'the train split labels this frame'),
    Case('mask_empty', 's4', put_bytes(mask(), b''), 'problem',
         'mask file is empty'),
    Case('mask_random_bytes', 's4', put_bytes(mask(), os.urandom(64)),
         'problem', 'mask cannot be decoded'),
    Case('mask_0_1', 's4', image(mask(), lambda v: square(1)), 'ok'),
    Case('mask_16bit', 's4', image(mask(), lambda v: square(65535, np.uint16)),
         'ok'),
    Case('mask_rgb', 's4', image(mask(), lambda v: np.dstack([square()] * 3)),
         'ok'),
    Case(
        'mask_rgba_colour', 's4',
        image(
            mask(), lambda v: np.dstack([square(
            )] * 3 + [np.full((SIZE, SIZE), 255, np.uint8)])), 'ok'),
    Case(
        'mask_labels_in_alpha', 's4',
        image(
            mask(), lambda v: np.dstack(
                [np.zeros((SIZE, SIZE, 3), np.uint8),
                 square()])), 'warning',
        'the alpha channel is used as the mask'),
    Case('mask_grey_edges', 's4', image(mask(), lambda v: GREY_EDGES),
         'warning', r'3 grey levels: 8 pixels \(3.1%\) are neither 0 nor '
         '255'),
    Case('mask_jpeg_named_png', 's4', image(mask(), lambda v: square(),
                                            '.jpg'), 'warning',
         r'JPEG-compressed \(lossy\)'),
    Case('mask_other_size', 's4',
         image(mask(), lambda v: np.zeros((12, 12), np.uint8)), 'problem',
         r'mask is 12x12 but its frame is 16x16'),
    Case('ms3_mask_grey_edges', 'ms3',
         image(mask('ms3'), lambda v: GREY_EDGES), 'warning', '3 grey levels'),
    # AVSS colour masks
    Case('avss_mask_unknown_colour', 'avss',
         image(mask('avss'), lambda v: np.dstack([square(7)] * 3)), 'problem',
         r'64 pixels have colours that are not in the palette'),
    Case('avss_mask_missing', 'avss', remove(mask('avss', 'train', 0, 9)),
         'problem', r'mask of frame 10/10'),
    Case('avss_mask_palette_png', 'avss', palette_mode_png(mask('avss')),
         'ok'),
    Case(
        'avss_mask_other_size', 'avss',
        image(
            mask('avss', 'train', 1, 0),
            lambda v: cv2.resize(v, (8, 8), interpolation=cv2.INTER_NEAREST)),
        'problem', 'mask is 8x8 but its frame is 16x16'),
    # Sound files
    Case('wav_missing', 's4', remove(audio('s4', 'wav')), 'problem',
         r'audio \(wav\) of clip "syn_s4_test_0000" is missing'),
    Case('wav_empty', 's4', put_bytes(audio('s4', 'wav'), b''), 'problem',
         'zero-length'),
    Case('wav_random_bytes', 's4',
         put_bytes(audio('s4', 'wav'), os.urandom(500)), 'problem',
         'cannot read audio'),
    Case('wav_nan', 's4',
         wav(audio('s4', 'wav'), 5.0, subtype='FLOAT', poke=np.nan), 'problem',
         r'1 NaN or infinite samples \(the first at 2.500 s\)'),
    Case('wav_too_short', 's4', wav(audio('s4', 'wav'), 0.5), 'problem',
         r'too short \(0.500 s\)'),
    Case(
        'wav_shorter_than_clip', 's4', wav(audio('s4', 'wav'), 2.5), 'warning',
        r'lasts 2.50 s: 2 examples of 0.96 s for 5 frames; the '
        'last example is repeated for frames 3-5'),
    Case('wav_longer_than_clip', 's4', wav(audio('s4', 'wav'), 10.0),
         'warning', r'the sound after 4.80 s is not used'),
    Case('wav_silent', 's4', wav(audio('s4', 'wav'), 5.0, amplitude=0.0),
         'warning', 'silent'),
    Case('wav_stereo_44k', 's4',
         wav(audio('s4', 'wav'), 5.0, rate=44100, channels=2), 'ok'),
    Case('ms3_wav_shorter_than_clip', 'ms3', wav(audio('ms3', 'wav'), 3.0),
         'warning', r'lasts 3.00 s: 3 examples'),
    Case(
        'avss_wav_cut_to_3s', 'avss',
        truncate_wav_data(audio('avss', 'wav'), 3.0), 'warning',
        r'lasts 3.00 s: 3 examples of 0.96 s for 10 frames; the last '
        'example is repeated for frames 4-10'),
    Case('avss_v1s_wav_10s', 'avss',
         wav(audio('avss', 'wav', 'train', 1), 10.0), 'warning',
         r'for 5 frames; the sound after 4.80 s is not used'),
    # Released log-mel pickles
    Case('pkl_missing', 's4', remove(audio('s4', 'log_mel')), 'problem',
         r'audio \(log_mel\) of clip .* is missing'),
    Case('pkl_truncated', 's4', cut(audio('s4', 'log_mel'), 0.3), 'problem',
         'cannot load a tensor/array'),
    Case('pkl_wrong_shape', 's4',
         pickled(audio('s4', 'log_mel'), torch.zeros(4, 1, 96, 64)), 'problem',
         r'found \[4, 1, 96, 64\]'),
    Case('pkl_nan', 's4', log_mel_of(audio('s4', 'log_mel'), with_nan),
         'problem', '1 NaN or infinite values'),
    Case('pkl_dict', 's4', pickled(audio('s4', 'log_mel'), {'audio': 1}),
         'problem', 'refusing to load builtins.dict|found dict'),
    Case('pkl_numpy', 's4', log_mel_of(audio('s4', 'log_mel'), lambda a: a),
         'ok'),
    Case(
        'pkl_torch_save', 's4',
        log_mel_of(
            audio('s4', 'log_mel'), lambda a: TorchSave(torch.from_numpy(a))),
        'ok'),
    Case('ms3_pkl_wrong_shape', 'ms3',
         pickled(audio('ms3', 'log_mel'), torch.zeros(5, 1, 96, 32)),
         'problem', r'found \[5, 1, 96, 32\]'),
    # VGGish features (the vggishfeat config)
    Case('feature_missing', 's4', remove(audio('s4', 'feature')), 'problem',
         r'audio \(feature\) of clip .* is missing'),
    Case('feature_integer', 's4',
         saved(audio('s4', 'feature'), np.ones((5, 128), np.int64)), 'problem',
         'dtype int64'),
    Case('feature_float64', 's4',
         saved(audio('s4', 'feature'), np.ones((5, 128))), 'ok'),
    Case('feature_wrong_width', 's4',
         saved(audio('s4', 'feature'), np.ones((5, 64), np.float32)),
         'problem', r'found \[5, 64\]'),
    Case(
        'feature_object_array', 's4',
        saved(
            audio('s4', 'feature'),
            np.array([None] * 5 * 128, object).reshape(5, 128)), 'problem',
        'cannot load a .npy array'),
    # Metadata csv
    Case('csv_missing', 's4', lambda root: os.remove(csv_path(root, 's4')),
         'problem', 'metadata csv file is missing'),
    Case('csv_empty', 's4',
         lambda root: write_bytes(csv_path(root, 's4'), b''), 'problem',
         'metadata csv file is empty'),
    Case('csv_no_split_column', 's4',
         edit_csv('s4', lambda rows: [r[:3] for r in rows]), 'problem',
         'no "split" column'),
    Case('csv_split_in_capitals', 's4',
         csv_text('s4', lambda text: text.replace(',test', ',Test')),
         'problem', r"has split 'Test'"),
    Case(
        'csv_latin1', 's4',
        csv_text('s4', lambda text: text + 'caf\xe9,0,dog_barking,train\n',
                 'latin-1'), 'problem', 'line 5 is not UTF-8'),
    Case('csv_surplus_field', 's4',
         csv_text('s4', lambda text: text.replace(',test', ',test,extra')),
         'problem', 'more fields than the header'),
    Case('csv_duplicate_row', 's4',
         edit_csv('s4', lambda rows: rows + [rows[-1]]), 'warning',
         r'1 clip\(s\) of split "test" are listed more than once'),
    Case('csv_clip_in_train_and_test', 's4',
         move_to_other_split('s4', 'train'), 'warning',
         r'of split "train" are also in another split'),
    Case('ms3_csv_clip_in_val_and_test', 'ms3',
         move_to_other_split('ms3', 'val'), 'warning',
         r'of split "test" are also in another '
         'split'),
    Case('avss_csv_clip_in_train_and_test', 'avss',
         move_to_other_split('avss', 'train'), 'warning',
         'measures memory, not segmentation'),
    Case('csv_bom_and_crlf', 's4',
         csv_text('s4', lambda text: '\ufeff' + text.replace('\n', '\r\n')),
         'ok'),
    Case(
        'csv_empty_split',
        's4',
        edit_csv('s4', lambda rows: [r for r in rows if r[-1] != 'val']),
        'problem',
        r'split "val" has no samples',
        unread=True),
    Case('avss_csv_unknown_label', 'avss',
         csv_text('avss', lambda text: text.replace(',test,v2', ',test,v3')),
         'problem', "has unknown label 'v3'"),
    Case('avss_label2idx_swapped', 'avss', label2idx(swap_first_classes),
         'problem', 'class list does not match the dataset classes'),
    # Whole-folder facts: files no metadata row names
    Case(
        'unread_frame_folder',
        's4',
        copy_clip_folder(frame(), 'syn_s4_test_9999'),
        'ok',
        unread=True),
    Case(
        'unread_wav',
        'ms3',
        extra_file(audio('ms3', 'wav'), 'stray.wav'),
        'ok',
        unread=True),
    Case(
        'avss_csv_row_removed', 'avss', drop_row('avss', 2), 'ok',
        unread=True),
]


# --------------------------------------------------------------------- #
# The two verdicts
# --------------------------------------------------------------------- #
def message_lines(message):
    """The data sets' start-up check lists missing files in one error, a
    line each; other errors are one message."""
    if '\n  ' not in message:
        return [message]
    return [
        line.strip() for line in message.splitlines()[1:]
        if line.startswith('  ') and not line.strip().startswith('...')
    ]


def dataset_verdict(root, task, strict=False):
    """Problems and warnings of the data sets, built as the configs build
    them and loaded sample by sample."""
    problems = set()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for split in SPLITS:
            for kind in AUDIO[task]:
                try:
                    # serialize_data=False: the same data infos without
                    # mmengine's gc.collect() (a third of a second each).
                    dataset = DATASETS[task](
                        split=split,
                        data_root=root,
                        audio_source=kind,
                        strict=strict,
                        pipeline=LOADING,
                        serialize_data=False)
                except AVSDataError as error:
                    problems.update(message_lines(str(error)))
                    continue
                for index in range(len(dataset)):
                    try:
                        dataset[index]
                    except AVSDataError as error:
                        problems.update(message_lines(str(error)))
    found = {
        str(w.message)
        for w in caught if issubclass(w.category, AVSDataWarning)
    }
    return problems, found


def checker_verdict(root, task, strict=False):
    plans = checker.default_plans(task, root, SPLITS)
    return checker.check(plans, strict=strict)


def category(problems, found):
    return 'problem' if problems else 'warning' if found else 'ok'


@pytest.fixture
def damaged(base, tmp_path):

    def make(case):
        root = str(tmp_path / TASK_FOLDERS[case.task])
        shutil.copytree(str(base / TASK_FOLDERS[case.task]), root)
        case.damage(root)
        return root

    return make


def test_the_corpus_is_large_and_named_once():
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)
    assert {case.verdict for case in CASES} == {'ok', 'warning', 'problem'}


@pytest.mark.parametrize('case', CASES, ids=[case.name for case in CASES])
def test_checker_agrees_with_the_data_sets(case, damaged):
    root = damaged(case)
    problems, found = dataset_verdict(root, case.task)
    report = checker_verdict(root, case.task)
    # The same category and the same words.
    assert category(problems, found) == case.verdict, (problems, found)
    assert set(report.problems) == problems
    assert set(report.warnings) == found
    # Each once, each naming a file of the folder (or its csv).
    messages = report.problems + report.warnings
    assert len(set(messages)) == len(messages)
    assert all(m.startswith(root) or m.startswith('clip "')
               for m in messages), messages
    if case.words:
        assert any(re.search(case.words, m) for m in messages), messages
    # The whole-folder view.
    assert bool(report.unread) == case.unread, report.unread
    if case.verdict == 'warning':
        # Strict mode: the data sets refuse what they warned about, and the
        # checker reports the same errors.
        strict_problems, strict_found = dataset_verdict(
            root, case.task, strict=True)
        strict_report = checker_verdict(root, case.task, strict=True)
        assert strict_problems and not strict_found
        assert all('strict mode' in p for p in strict_problems)
        assert set(strict_report.problems) == strict_problems
        assert strict_report.warnings == []


def test_issue_cases_in_the_report(base, tmp_path, capsys):
    """The cases of issue #24, all in one folder: the printed report lists
    each warning once with its file, a summary line per split, and exits
    0; --strict makes them problems (exit 1)."""
    root = str(tmp_path / 'Single-source')
    shutil.copytree(str(base / 'Single-source'), root)
    damages = [
        move_to_other_split('s4', 'train'),  # before the test clip breaks
        image(mask(), lambda v: square(), '.jpg'),
        wav(audio('s4', 'wav'), 2.5),
        image(
            mask('s4', 'val', 0, 2), lambda v: np.dstack(
                [np.zeros((SIZE, SIZE, 3), np.uint8),
                 square()])),
    ]
    for damage in damages:
        damage(root)
    code = checker.main([root, '--task', 's4', '--no-progress'])
    out = capsys.readouterr().out
    assert code == 0, out
    assert '5 warning(s)' in out, out
    assert 'JPEG-compressed' in out and 'lasts 2.50 s' in out
    assert out.count('are also in another split') == 2
    assert 'alpha channel is used' in out
    for split in SPLITS:
        assert re.search(
            rf'^  {split}: \d clips, \d+ files, \d problems, '
            r'\d warnings \(audio: log_mel, wav, feature\)$', out, re.M), out
    assert out.rstrip().endswith('no problems found (5 warning(s), listed '
                                 'above)')
    code = checker.main([root, '--task', 's4', '--no-progress', '--strict'])
    out = capsys.readouterr().out
    assert code == 1
    assert '5 problem(s):' in out
    assert out.count('strict mode turns suspicious data into errors') == 5


def test_checker_keeps_going_past_broken_files(base, tmp_path):
    """Several broken files of one clip: each is reported, once; the data
    set would stop at the first."""
    root = str(tmp_path / 'Single-source')
    shutil.copytree(str(base / 'Single-source'), root)
    info = clip(root, 's4', 'test')
    write_bytes(info['frame_paths'][0], b'not a png')
    write_image(info['frame_paths'][3], np.zeros((20, 20, 3), np.uint8))
    write_bytes(info['seg_map_paths'][4], b'')
    os.remove(info['seg_map_paths'][2])
    write_wav(clip(root, 's4', 'test', 'wav')['audio_path'], 0.5)
    report = checker_verdict(root, 's4')
    problems = report.problems
    assert len(problems) == 5, problems
    for path, words in [(info['frame_paths'][0], 'cannot be decoded'),
                        (info['frame_paths'][3], 'frame is 20x20'),
                        (info['seg_map_paths'][4], 'mask file is empty'),
                        (info['seg_map_paths'][2], 'is missing'),
                        (None, 'too short')]:
        assert any((path is None or p.startswith(path)) and words in p
                   for p in problems), (path, words, problems)


def test_audio_kinds(base, tmp_path):
    """Default audio kinds: the released ones and those with files;
    ``audio`` names them; a config's kind is the config's."""
    root = str(tmp_path / 'Multi-sources')
    shutil.copytree(str(base / 'Multi-sources'), root)
    assert checker.default_plans('ms3', root,
                                 ['test'])[0].audio == ['log_mel', 'wav']
    assert checker.default_plans('ms3', root, ['test'],
                                 ['wav'])[0].audio == ['wav']
    path = clip(root, 'ms3', 'train', 'feature')['audio_path']
    os.makedirs(osp.dirname(path))
    np.save(path, np.ones((5, 128), np.float32))
    # One feature file: the features are checked, the others are missing.
    plans = checker.default_plans('ms3', root, SPLITS)
    assert plans[0].audio == ['log_mel', 'wav', 'feature']
    report = checker.check(plans)
    assert len(report.problems) == 2
    assert all('audio (feature)' in p for p in report.problems)


def test_config_flags_are_the_configs(base, tmp_path):
    """--config: the data set and transform arguments of the config (here
    unknown_color='background', as the AVSS release configs) decide."""
    root = str(tmp_path / 'AVSS')
    shutil.copytree(str(base / 'AVSS'), root)
    image(mask('avss'), lambda v: np.dstack([square(7)] * 3))(root)
    config = tmp_path / 'avss_config.py'
    pipeline = [
        dict(type='LoadAVSFrames', imdecode_backend='pillow'),
        dict(type='LoadAVSAnnotations', unknown_color='background'),
        dict(type='LoadAVSAudio'),
        dict(type='PackAVSInputs')
    ]
    config.write_text(f'pipeline = {pipeline!r}\n' + ''.join(
        f"{split}_dataloader = dict(dataset=dict(type="
        f"'AVSBenchSemanticDataset', data_root={root!r}, "
        f"split={split!r}, pipeline=pipeline))\n" for split in SPLITS))
    plans = checker.config_plans(str(config))
    assert [plan.split for plan in plans] == list(SPLITS)
    assert plans[0].loading[1]['unknown_color'] == 'background'
    assert checker.check(plans).problems == []
    # The default (the base configs: unknown_color='error') refuses it.
    default = checker.check(checker.default_plans('avss', root, SPLITS))
    assert len(default.problems) == 1
    assert 'not in the palette' in default.problems[0]
