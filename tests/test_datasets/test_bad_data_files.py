# Copyright (c) mmavs contributors. All rights reserved.
"""A corpus of damaged, odd and suspicious data-set files, and what mmavs
does with each: an error naming the file, a warning (an error in strict
mode) with the numbers, or acceptance of a stated value.

docs/data_checks.md lists the same cases; checkpoints and videos are in
tests/test_apis/test_bad_inputs.py.
"""
import os
import os.path as osp
import pickle
import re
import warnings
from typing import Callable, NamedTuple

import cv2
import numpy as np
import pytest
import soundfile
import torch

from mmavs.datasets import AVSBenchS4Dataset, AVSDataError
from mmavs.datasets.errors import AVSDataWarning
from mmavs.datasets.audio import waveform_to_log_mel_examples
from mmavs.datasets.metainfo import AVSS_PALETTE
from mmavs.datasets.readers import (load_audio_array, read_binary_mask,
                                    read_frame, read_palette_mask)

SR = 16000
SILENCE = np.log(0.01)


class Case(NamedTuple):
    """One input: ``make(folder) -> path``; ``load(path, strict) ->
    value``; the outcome: ``error`` (regex of the message), or ``warning``
    (regex) and/or ``check(value)`` (``check_file(value, path)``) for
    accepted input."""

    name: str
    make: Callable
    load: Callable
    error: str = ''
    warning: str = ''
    check: Callable = None
    check_file: Callable = None


# --------------------------------------------------------------------- #
# Makers
# --------------------------------------------------------------------- #
def square_mask(value=255, size=(32, 32)):
    mask = np.zeros(size, np.uint8)
    mask[8:24, 8:24] = value
    return mask


def image_file(name, image, ext=None):
    """Write ``image`` encoded as ``ext`` (default: the name's extension)
    under ``name``: a JPEG can hide behind a .png name."""

    def make(folder):
        ok, data = cv2.imencode(ext or osp.splitext(name)[1], image)
        assert ok
        path = osp.join(folder, name)
        with open(path, 'wb') as file:
            file.write(data.tobytes())
        return path

    return make


def raw_file(name, data):

    def make(folder):
        path = osp.join(folder, name)
        with open(path, 'wb') as file:
            file.write(data)
        return path

    return make


def cut_file(name, image, fraction):
    """An encoded image cut short."""

    def make(folder):
        data = cv2.imencode(osp.splitext(name)[1], image)[1].tobytes()
        return raw_file(name, data[:int(len(data) * fraction)])(folder)

    return make


def stepped_tone(seconds, rate=SR):
    """A tone whose pitch changes every second (500, 750, ... Hz), so that
    no two 0.96 s examples are alike: a test can tell which was kept."""
    t = np.arange(int(seconds * rate)) / rate
    return np.sin(2 * np.pi * (500 + 250 * np.floor(t)) * t)


def wav_file(name, seconds=5.0, rate=SR, channels=1, subtype='PCM_16',
             amplitude=0.3, poke=None):

    def make(folder):
        wave = amplitude * stepped_tone(seconds, rate)
        if channels > 1:
            wave = np.stack([wave] * channels, axis=1)
        if poke is not None:
            wave = np.array(wave, np.float32)
            wave[len(wave) // 2] = poke
        path = osp.join(folder, name)
        soundfile.write(path, wave, rate, subtype=subtype)
        return path

    return make


def pickled(name, obj):
    return lambda folder: raw_file(name, pickle.dumps(obj))(folder)


def npy_file(name, array):

    def make(folder):
        path = osp.join(folder, name)
        np.save(path, array, allow_pickle=True)
        return path

    return make


def torch_saved(name, tensor):

    def make(folder):
        path = osp.join(folder, name)
        torch.save(tensor, path)
        return path

    return make


def directory(name):

    def make(folder):
        path = osp.join(folder, name)
        os.makedirs(path)
        return path

    return make


def missing(name):
    return lambda folder: osp.join(folder, name)


class Payload:
    """Unpickling this runs ``touch MARKER`` - if a loader lets it."""

    marker = None

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def log_mel(count=5, dtype=np.float32, fill=None):
    array = np.full((count, 1, 96, 64), SILENCE, dtype=dtype)
    if fill is not None:
        array.flat[7] = fill
    return array


# --------------------------------------------------------------------- #
# Loaders
# --------------------------------------------------------------------- #
def frame(path, strict=False):
    return read_frame(path)


def binary_mask(path, strict=False):
    return read_binary_mask(path, strict=strict)


def palette_mask(path, strict=False):
    return read_palette_mask(path)


def audio(path, strict=False):
    return load_audio_array(path, 5, strict=strict)


def audio_avss(path, strict=False):
    """An AVSS v1 clip: 5 real frames padded to 10."""
    return load_audio_array(path, 10, 5, strict=strict)


def s4_test_split(path, strict=False):
    return AVSBenchS4Dataset(
        split='test',
        data_root=osp.dirname(path),
        ann_file=osp.basename(path),
        check_files=False,
        strict=strict)


def csv_file(name, text, encoding='utf-8'):
    return raw_file(name, text.encode(encoding))


HEADER = 'name,start_time,category,split\n'
ROWS = 'a,0,dog_barking,test\nb,0,dog_barking,test\nc,0,cat_meowing,train\n'
IMAGE = (np.random.default_rng(0).random((32, 40, 3)) * 255).astype(np.uint8)
# A smooth picture: JPEG keeps it close, unlike noise.
SMOOTH = np.stack(list(np.meshgrid(np.arange(40) * 6, np.arange(32) * 7)) +
                  [np.full((32, 40), 90)], -1).astype(np.uint8)
GREY_EDGES = square_mask()
GREY_EDGES[8, 8:24] = 128  # an anti-aliased edge
CLASS_3_BGR = square_mask(1)[..., None] * np.asarray(
    AVSS_PALETTE[3][::-1], np.uint8)
RGBA_IN_ALPHA = np.dstack([np.zeros((32, 32, 3), np.uint8), square_mask()])
RGBA_COLOUR = np.dstack([np.dstack([square_mask()] * 3),
                         np.full((32, 32), 255, np.uint8)])


FEATURES = np.random.default_rng(1).random((5, 128)).astype(np.float32)
#: The examples of the stepped tone of :func:`wav_file`, 10 s.
EXAMPLES = waveform_to_log_mel_examples(0.3 * stepped_tone(10.0), SR)


def examples_are(*indices, atol=0.3):
    """Check: the loaded examples are those of the stepped tone at
    ``indices`` (a repeated index: a repeated example). 16-bit samples move
    quiet mel bins by up to 0.2; two examples differ by about 7."""
    expected = EXAMPLES[list(indices)]

    def check(value):
        return value.shape == expected.shape and np.allclose(
            value, expected, atol=atol)

    return check


def is_square(mask):
    return mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1} and \
        mask.sum() == 256 and mask[8:24, 8:24].all()


def clip_values(dataset, key):
    return [dataset.get_data_info(i)[key] for i in range(len(dataset))]


def names(table):
    return [case.name for case in table]


CASES = [
    # Frames
    Case('frame_missing', missing('f.png'), frame, error='frame file is '
         'missing'),
    Case('frame_empty', raw_file('f.png', b''), frame, error='empty'),
    Case('frame_directory', directory('f.png'), frame, error='directory'),
    Case('frame_random_bytes', raw_file('f.png', os.urandom(300)), frame,
         error='cannot be decoded'),
    Case('frame_truncated_png', cut_file('f.png', IMAGE, 0.6), frame,
         error='cannot be decoded'),
    Case('frame_truncated_jpeg', cut_file('f.jpg', IMAGE, 0.6), frame,
         error='cannot be decoded'),
    Case('frame_16bit', image_file('f.png', IMAGE.astype(np.uint16) * 257),
         frame, check=lambda v: v.dtype == np.uint8 and v.shape ==
         (32, 40, 3) and np.abs(v.astype(int) - IMAGE).max() <= 1),
    Case('frame_grey', image_file('f.png', IMAGE[..., 0]), frame,
         check=lambda v: v.shape == (32, 40, 3) and
         (v[..., 0] == IMAGE[..., 0]).all()),
    Case('frame_rgba', image_file('f.png', np.dstack(
        [IMAGE, np.zeros((32, 40), np.uint8)])), frame,
         check=lambda v: (v == IMAGE).all()),
    Case('frame_jpeg_named_png', image_file('f.png', SMOOTH, '.jpg'), frame,
         check_file=lambda v, path: v.shape == (32, 40, 3) and (
             v == cv2.imdecode(np.fromfile(path, np.uint8),
                               cv2.IMREAD_COLOR)).all() and
         np.abs(v.astype(int) - SMOOTH).mean() < 2),
    # Binary masks
    Case('mask_missing', missing('m.png'), binary_mask, error='mask file is '
         'missing'),
    Case('mask_empty', raw_file('m.png', b''), binary_mask, error='empty'),
    Case('mask_random_bytes', raw_file('m.png', os.urandom(64)), binary_mask,
         error='cannot be decoded'),
    Case('mask_0_255', image_file('m.png', square_mask()), binary_mask,
         check=is_square),
    Case('mask_0_1', image_file('m.png', square_mask(1)), binary_mask,
         check=is_square),
    Case('mask_16bit', image_file('m.png', square_mask().astype(np.uint16) *
                                  257), binary_mask, check=is_square),
    Case('mask_rgb', image_file('m.png', np.dstack([square_mask()] * 3)),
         binary_mask, check=is_square),
    Case('mask_rgba_colour', image_file('m.png', RGBA_COLOUR), binary_mask,
         check=is_square),
    Case('mask_labels_in_alpha', image_file('m.png', RGBA_IN_ALPHA),
         binary_mask, warning='alpha channel is used as the mask',
         check=is_square),
    Case('mask_grey_edges', image_file('m.png', GREY_EDGES), binary_mask,
         warning=r'3 grey levels: 16 pixels \(1.6%\)',
         check=lambda v: v.sum() == 256),
    Case('mask_jpeg_named_png', image_file('m.png', square_mask(), '.jpg'),
         binary_mask, warning=r'JPEG-compressed \(lossy\): \d+ pixels',
         check=lambda v: abs(int(v.sum()) - 256) <= 16),
    # AVSS colour masks
    Case('avss_mask_palette', image_file('m.png', CLASS_3_BGR), palette_mask,
         check=lambda v: set(np.unique(v)) == {0, 3}),
    Case('avss_mask_unknown_colour', image_file(
        'm.png', np.dstack([square_mask(7)] * 3)), palette_mask,
         error=r'256 pixels have colours that are not in the palette'),
    # Audio files
    Case('wav_missing', missing('a.wav'), audio, error='audio file is '
         'missing'),
    Case('wav_empty', raw_file('a.wav', b''), audio, error='zero-length'),
    Case('wav_random_bytes', raw_file('a.wav', os.urandom(500)), audio,
         error='cannot read audio'),
    Case('wav_nan', wav_file('a.wav', subtype='FLOAT', poke=np.nan), audio,
         error=r'1 NaN or infinite samples \(the first at 2.500 s\)'),
    Case('wav_inf', wav_file('a.wav', subtype='FLOAT', poke=np.inf), audio,
         error='NaN or infinite samples'),
    Case('wav_too_short', wav_file('a.wav', seconds=0.5), audio,
         error=r'too short \(0.500 s\)'),
    Case('wav_shorter_than_clip', wav_file('a.wav', seconds=2.5), audio,
         warning=r'lasts 2.50 s: 2 examples of 0.96 s for 5 frames; the '
         'last example is repeated for frames 3-5',
         check=examples_are(0, 1, 1, 1, 1)),
    Case('avss_wav_cut_to_3s', wav_file('a.wav', seconds=3.0), audio_avss,
         warning=r'lasts 3.00 s: 3 examples .* for 5 frames',
         check=examples_are(0, 1, 2, 2, 2, 2, 2, 2, 2, 2)),
    Case('wav_longer_than_clip', wav_file('a.wav', seconds=8.0), audio,
         warning=r'lasts 8.00 s: 8 examples .* the sound after 4.80 s is '
         'not used', check=examples_are(0, 1, 2, 3, 4)),
    Case('wav_silent', wav_file('a.wav', amplitude=0.0), audio,
         warning='silent', check=lambda v: np.allclose(v, SILENCE)),
    Case('wav_stereo_44k', wav_file('a.wav', rate=44100, channels=2), audio,
         check=lambda v: v.shape == (5, 1, 96, 64) and v.max() > SILENCE + 5),
    Case('wav_24bit', wav_file('a.wav', subtype='PCM_24'), audio,
         check=examples_are(0, 1, 2, 3, 4, atol=1e-3)),
    # Precomputed audio arrays
    Case('pkl_released', pickled('a.pkl', torch.from_numpy(EXAMPLES[:5])),
         audio, check=lambda v: (v == EXAMPLES[:5]).all()),
    Case('pkl_numpy', pickled('a.pkl', EXAMPLES[:5]), audio,
         check=lambda v: (v == EXAMPLES[:5]).all()),
    Case('pkl_torch_save', torch_saved(
        'a.pkl', torch.from_numpy(EXAMPLES[:5])), audio,
         check=lambda v: (v == EXAMPLES[:5]).all()),
    Case('pkl_empty', raw_file('a.pkl', b''), audio, error='empty'),
    Case('pkl_truncated', lambda folder: raw_file(
        'a.pkl', pickle.dumps(torch.from_numpy(log_mel()))[:60])(folder),
         audio, error='cut short'),
    Case('pkl_wrong_shape', pickled('a.pkl', torch.zeros(4, 1, 96, 64)),
         audio, error=r'expected \[5, 1, 96, 64\].*found \[4, 1, 96, 64\]'),
    Case('pkl_nan', pickled('a.pkl', log_mel(fill=np.nan)), audio,
         error='1 NaN or infinite values'),
    Case('pkl_dict', pickled('a.pkl', {'audio': 1}), audio,
         error='refusing to load builtins.dict|found dict'),
    Case('pkl_string', pickled('a.pkl', 'log-mel'), audio,
         error='found str'),
    Case('npy_integer_log_mel', npy_file('a.npy', log_mel(dtype=np.int64)),
         audio, error='dtype int64; log-mel examples and features are '
         'floating point'),
    Case('npy_object_array', npy_file(
        'a.npy', np.array([None] * 5 * 96 * 64, object).reshape(
            5, 1, 96, 64)), audio, error='cannot load a .npy array'),
    Case('pkl_object_array', pickled(
        'a.pkl', np.array([None] * 5 * 96 * 64, object).reshape(
            5, 1, 96, 64)), audio, error='Python objects'),
    Case('npy_float64', npy_file('a.npy', EXAMPLES[:5].astype(np.float64)),
         audio, check=lambda v: v.dtype == np.float32 and
         (v == EXAMPLES[:5]).all()),
    Case('npy_features', npy_file('a.npy', FEATURES), audio,
         check=lambda v: (v == FEATURES).all()),
    # Metadata csv (S4 layout, test split)
    Case('csv_missing', missing('meta.csv'), s4_test_split,
         error='metadata csv file is missing'),
    Case('csv_empty', raw_file('meta.csv', b''), s4_test_split,
         error=r'metadata csv file is empty \(zero bytes\)'),
    Case('csv_no_split_column', csv_file('meta.csv', 'name,category\na,x\n'),
         s4_test_split, error='no "split" column'),
    Case('csv_split_in_capitals', csv_file(
        'meta.csv', HEADER + 'a,0,dog_barking,Test\n'), s4_test_split,
         error=r"line 2 has split 'Test'; expected one of train, val, test"),
    Case('csv_latin1', csv_file(
        'meta.csv', HEADER + 'a,0,dog_barking,test\nc\xe9,0,x,test\n',
        'latin-1'), s4_test_split, error='line 3 is not UTF-8'),
    Case('csv_surplus_field', csv_file(
        'meta.csv', HEADER + 'a,0,dog_barking,test,extra\n'), s4_test_split,
         error='line 2 has more fields than the header'),
    Case('csv_duplicate_row', csv_file(
        'meta.csv', HEADER + ROWS + 'a,0,dog_barking,test\n'), s4_test_split,
         warning=r'1 clip\(s\) of split "test" are listed more than once '
         r'\(e.g. "a" on lines 2, 5\); each is loaded once',
         check=lambda ds: clip_values(ds, 'clip_name') == ['a', 'b']),
    Case('csv_clip_in_train_and_test', csv_file(
        'meta.csv', HEADER + ROWS + 'b,0,dog_barking,train\n'),
         s4_test_split, warning=r'1 clip\(s\) of split "test" are also in '
         r'another split \(e.g. "b": test \(line 3\), train \(line 5\)\)',
         check=lambda ds: len(ds) == 2),
    Case('csv_bom_and_crlf', csv_file(
        'meta.csv', '\ufeff' + (HEADER + ROWS).replace('\n', '\r\n')),
         s4_test_split, check=lambda ds: clip_values(ds, 'category') ==
         ['dog_barking', 'dog_barking']),
    Case('csv_empty_split', csv_file('meta.csv', HEADER +
                                     'c,0,cat_meowing,train\n'),
         s4_test_split, error=r'split "test" has no samples'),
]


def load_with_warnings(case: Case, path: str, strict: bool = False):
    """The loaded value and the data warnings raised meanwhile."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        value = case.load(path, strict)
    return value, [
        str(w.message) for w in caught
        if issubclass(w.category, AVSDataWarning)
    ]


def test_the_corpus_is_large_and_named_once():
    assert len(CASES) >= 40
    assert len(set(names(CASES))) == len(CASES)


@pytest.mark.parametrize('case', CASES, ids=names(CASES))
def test_bad_input(case: Case, tmp_path):
    path = case.make(str(tmp_path))
    if case.error:
        with pytest.raises(AVSDataError) as error:
            case.load(path)
        message = str(error.value)
        assert path in message, message
        assert re.search(case.error, message), message
        return
    value, caught = load_with_warnings(case, path)
    if case.warning:
        assert len(caught) == 1, caught
        assert caught[0].startswith(path), caught
        assert re.search(case.warning, caught[0]), caught
        # Strict mode: the same finding stops the run.
        with pytest.raises(AVSDataError, match='strict mode') as error:
            case.load(path, True)
        assert path in str(error.value)
    else:
        assert caught == []
    if case.check is not None:
        assert case.check(value)
    if case.check_file is not None:
        assert case.check_file(value, path)


def test_a_pickle_payload_never_runs(tmp_path):
    marker = tmp_path / 'marker'
    Payload.marker = str(marker)
    for name in ('a.pkl', 'a.npy'):
        path = tmp_path / name
        path.write_bytes(pickle.dumps(Payload()))
        with pytest.raises(AVSDataError) as error:
            audio(str(path))
        assert str(path) in str(error.value)
    assert not marker.exists()


def test_every_case_is_in_the_docs():
    doc = os.path.join(osp.dirname(__file__), '..', '..', 'docs',
                       'data_checks.md')
    with open(doc, encoding='utf-8') as file:
        text = file.read()
    assert [name for name in names(CASES) if f'`{name}`' not in text] == []
