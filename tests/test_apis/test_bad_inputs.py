# Copyright (c) mmavs contributors. All rights reserved.
"""Inputs from the real world, one case each: checkpoints, videos and
output folders that are broken, hostile or do not fit. Every case asserts
its exact outcome: the error type and the file named in its message, or
the value accepted."""
import importlib.util
import os
import os.path as osp
import pickle
import warnings
from fractions import Fraction

import numpy as np
import pytest
import torch

from mmavs.apis import AVSInferencer, VideoReadError
from mmavs.apis.cli import main
from mmavs.datasets.errors import AVSDataWarning, CheckpointError
from mmavs.testing._utils import REPO_ROOT
from mmavs.testing.videos import (corrupt_audio_packets, find_test_media,
                                  write_test_video)

DEMO_CONFIG = 'avsegformer-tiny_r18_1xb8-8e_synthetic-s4-64x64'
# Debian opencv-doc's sample; `make media` fetches it.
MEGAMIND = find_test_media('Megamind.avi')
MARKER = 'payload-ran'


class Payload:
    """Unpickling it creates the marker file: the code a crafted
    checkpoint would run."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def marker(tmp_path) -> str:
    return str(tmp_path / MARKER)


# ----------------------------------------------------------------------
# Checkpoint files, each made in tmp_path: (name, maker, message).
# ----------------------------------------------------------------------
def _missing(tmp_path):
    return str(tmp_path / 'missing.pth')


def _directory(tmp_path):
    os.makedirs(tmp_path / 'folder.pth')
    return str(tmp_path / 'folder.pth')


def _empty(tmp_path):
    (tmp_path / 'empty.pth').write_bytes(b'')
    return str(tmp_path / 'empty.pth')


def _random_bytes(tmp_path):
    path = tmp_path / 'random.pth'
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    return str(path)


def _cut(tmp_path, name, **save_kwargs):
    full = tmp_path / f'full-{name}'
    torch.save(dict(state_dict=dict(w=torch.zeros(64, 64))), full,
               **save_kwargs)
    data = full.read_bytes()
    (tmp_path / name).write_bytes(data[:len(data) // 2])
    return str(tmp_path / name)


def _truncated_zip(tmp_path):
    return _cut(tmp_path, 'cut-zip.pth')


def _truncated_legacy(tmp_path):
    return _cut(
        tmp_path, 'cut-legacy.pth', _use_new_zipfile_serialization=False)


def _payload_zip(tmp_path):
    path = str(tmp_path / 'payload.pth')
    torch.save(
        dict(state_dict=dict(w=torch.zeros(1)), x=Payload(marker(tmp_path))),
        path)
    return path


def _payload_legacy(tmp_path):
    path = str(tmp_path / 'payload-legacy.pth')
    torch.save(
        dict(state_dict=dict(w=torch.zeros(1)), x=Payload(marker(tmp_path))),
        path,
        _use_new_zipfile_serialization=False)
    return path


def _payload_pickle(tmp_path):
    path = tmp_path / 'payload.pkl'
    path.write_bytes(pickle.dumps(dict(state_dict=Payload(marker(tmp_path)))))
    return str(path)


def _tensor(tmp_path):
    path = str(tmp_path / 'tensor.pth')
    torch.save(torch.zeros(3), path)
    return path


def _no_tensors(tmp_path):
    path = str(tmp_path / 'meta-only.pth')
    torch.save(dict(meta=dict(epoch=3), optimizer=dict(lr=0.1)), path)
    return path


def _config_payload(tmp_path):
    """Weights-only safe, but its saved config is code."""
    path = str(tmp_path / 'config-payload.pth')
    code = f"model = __import__('pathlib').Path({marker(tmp_path)!r}).touch()"
    torch.save(dict(state_dict=dict(w=torch.zeros(1)), meta=dict(cfg=code)),
               path)
    return path


CHECKPOINT_CASES = [
    ('missing', _missing, r'missing\.pth: checkpoint file is missing'),
    ('directory', _directory, r'folder\.pth: is a directory'),
    ('empty', _empty, r'empty\.pth: checkpoint file is empty \(0 bytes\)'),
    ('random bytes', _random_bytes,
     r'random\.pth: is not a PyTorch checkpoint'),
    ('truncated zip', _truncated_zip,
     r'cut-zip\.pth: is truncated or corrupt'),
    ('truncated legacy', _truncated_legacy,
     r'cut-legacy\.pth: is truncated'),
    ('payload (zip)', _payload_zip,
     r'payload\.pth: refused: it refers to [\w.]*open'),
    ('payload (legacy)', _payload_legacy,
     r'payload-legacy\.pth: refused: it refers to [\w.]*open'),
    ('payload (pickle)', _payload_pickle, r'payload\.pkl: refused'),
    ('not a dict', _tensor,
     r'tensor\.pth: holds an object of type Tensor, not a checkpoint'),
    ('no tensors', _no_tensors,
     r'meta-only\.pth: not a checkpoint: it holds 2 values that are not '
     r'tensors \(meta, optimizer\) and 0 tensors'),
]


# torch warns about protocol 4 before refusing the plain pickle.
@pytest.mark.filterwarnings('ignore:Detected pickle protocol')
@pytest.mark.parametrize(
    'maker, message', [case[1:] for case in CHECKPOINT_CASES],
    ids=[case[0] for case in CHECKPOINT_CASES])
def test_bad_checkpoint_files(tmp_path, maker, message):
    """Refused before the model is built; nothing in the file runs, and
    the message never advises turning the protection off."""
    path = maker(tmp_path)
    with pytest.raises(CheckpointError, match=message) as error:
        AVSInferencer(DEMO_CONFIG, weights=path, device='cpu')
    assert str(error.value).startswith(path)
    # No advice to switch the protection off (torch's own message has it).
    assert '=False' not in str(error.value)
    # Not chained to torch's error, whose message advises turning it off.
    assert error.value.__context__ is None
    assert not osp.exists(marker(tmp_path))


def test_config_in_checkpoint_is_not_run(tmp_path):
    """Without a config, the one saved in the checkpoint is read as data:
    code in it is refused, not run."""
    path = _config_payload(tmp_path)
    with pytest.raises(
            CheckpointError,
            match=r'config-payload\.pth: the config saved in the checkpoint '
            r'is not plain data \(line 1: '):
        AVSInferencer(None, weights=path, device='cpu')
    assert not osp.exists(marker(tmp_path))


@pytest.fixture(scope='module')
def demo_state(session_inferencer):
    """The demo model's state dict (its real VGGish included)."""
    return session_inferencer.model.state_dict()


def test_another_models_weights(tmp_path, demo_state):
    """VGGish weights (vggish2mmavs.py's output) given as the model's:
    every model tensor is missing, every VGGish one unexpected."""
    from mmavs.models import VGGish
    path = str(tmp_path / 'vggish_mmavs.pth')
    vggish = VGGish().state_dict()
    torch.save(dict(state_dict=vggish), path)
    missing = sum(not key.endswith('num_batches_tracked')
                  for key in demo_state)
    with pytest.raises(
            CheckpointError,
            match=rf'vggish_mmavs\.pth: the checkpoint does not fit the model '
            rf'\(\w+\): {missing} missing, {len(vggish)} unexpected and 0 '
            r'misshapen tensors \(missing: backbone\..*; unexpected: '
            r'features\.0\.weight, '):
        AVSInferencer(DEMO_CONFIG, weights=path, device='cpu')


def test_one_misshapen_tensor(tmp_path, demo_state):
    state = dict(demo_state)
    key = next(key for key, value in state.items() if value.dim() == 4)
    shape = tuple(state[key].shape)
    state[key] = torch.zeros(shape[0] + 1, *shape[1:])
    path = str(tmp_path / 'misshapen.pth')
    torch.save(dict(state_dict=state), path)
    with pytest.raises(
            CheckpointError,
            match=rf'misshapen\.pth: .*: 0 missing, 0 unexpected and 1 '
            rf'misshapen tensors \(misshapen: {key} \({shape[0] + 1}, '):
        AVSInferencer(DEMO_CONFIG, weights=path, device='cpu')


@pytest.mark.usefixtures('needs_av')
def test_cli_reports_checkpoint_that_does_not_fit(tmp_path, capsys):
    """``mmavs-demo --checkpoint`` with another model's weights: exit 2
    (a bad argument), the file and the counts named, nothing segmented."""
    path = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict=dict(w=torch.zeros(2))), path)
    video = write_test_video(tmp_path / 'v.mp4', seconds=1.2)
    with pytest.raises(SystemExit) as exit_info:
        main([video, '--config', DEMO_CONFIG, '--checkpoint', path,
              '--device', 'cpu', '--out-dir', str(tmp_path / 'out')])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f'--checkpoint: {path}: the checkpoint does not fit' in err
    assert '1 unexpected' in err
    assert not osp.exists(tmp_path / 'out' / 'v')


def test_vggish_converter_refuses_pca_payload(tmp_path, capsys):
    """``vggish2mmavs.py --pca`` loads with weights_only=True: a crafted
    PCA file is refused and its code never runs."""
    script = osp.join(REPO_ROOT, 'tools', 'model_converters',
                      'vggish2mmavs.py')
    spec = importlib.util.spec_from_file_location('vggish2mmavs', script)
    converter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(converter)
    src = tmp_path / 'vggish.pth'
    torch.save({key: torch.zeros(shape)
                for key, shape in converter.VGGISH_SHAPES.items()}, src)
    pca = str(tmp_path / 'pca.pth')
    torch.save(dict(pca_means=torch.zeros(128), x=Payload(marker(tmp_path))),
               pca)
    dst = tmp_path / 'out.pth'
    assert converter.main([str(src), str(dst), '--pca', pca]) == 1
    err = capsys.readouterr().err
    assert f'error: {pca}: refused' in err
    assert 'unsafe' not in err.replace(pca, '')
    assert not osp.exists(marker(tmp_path)) and not dst.exists()


# ----------------------------------------------------------------------
# Videos and output folders.
# ----------------------------------------------------------------------
def write_nan_video(path) -> str:
    """2 s of ffv1 picture and float PCM sound holding a NaN and an inf."""
    import av
    container = av.open(str(path), 'w')
    audio = container.add_stream('pcm_f32le', rate=16000)
    audio.layout = 'mono'
    video = container.add_stream('ffv1', rate=10)
    video.width, video.height, video.pix_fmt = 32, 32, 'bgr0'
    video.codec_context.time_base = Fraction(1, 10)
    for index in range(20):
        frame = av.VideoFrame.from_ndarray(
            np.zeros((32, 32, 3), np.uint8), format='bgr24')
        frame.pts, frame.time_base = index, Fraction(1, 10)
        for packet in video.encode(frame):
            container.mux(packet)
    for packet in video.encode():
        container.mux(packet)
    samples = np.full((1, 32000), 0.1, np.float32)
    samples[0, 16000], samples[0, 20000] = np.nan, np.inf
    for begin in range(0, 32000, 4000):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[:, begin:begin + 4000]),
            format='flt',
            layout='mono')
        frame.sample_rate, frame.pts = 16000, begin
        frame.time_base = Fraction(1, 16000)
        for packet in audio.encode(frame):
            container.mux(packet)
    for packet in audio.encode():
        container.mux(packet)
    container.close()
    return str(path)


@pytest.mark.usefixtures('needs_av')
def test_corrupt_audio_packet_is_skipped(fast_inferencer, tmp_path):
    """One AAC packet in the middle does not decode: accepted, with one
    warning giving the count and the time lost; every second is
    segmented."""
    whole = write_test_video(tmp_path / 'whole.mp4', seconds=3.0)
    path = corrupt_audio_packets(whole, [24], tmp_path / 'corrupt.mp4')
    with pytest.warns(AVSDataWarning) as record:
        result = fast_inferencer(path)
    messages = [str(w.message) for w in record
                if issubclass(w.category, AVSDataWarning)]
    assert messages == [
        f'{path}: 1 audio packet(s) do not decode: 0.064 s of sound '
        'between 1.472 s and 1.536 s is lost; skipped, and silence put in '
        'its place so that the later sound stays in sync with the picture'
    ]
    assert result['masks'].shape == (3, 48, 64)
    assert result['duration'] == pytest.approx(3.0)


@pytest.mark.usefixtures('needs_av')
def test_too_much_lost_sound_is_an_error(fast_inferencer, tmp_path):
    """Six of 48 packets (0.384 s of 3 s) do not decode: past the 10 %
    loss threshold."""
    whole = write_test_video(tmp_path / 'whole.mp4', seconds=3.0)
    path = corrupt_audio_packets(whole, range(20, 26),
                                 tmp_path / 'damaged.mp4')
    with pytest.raises(
            VideoReadError,
            match=r'damaged\.mp4: 6 audio packet\(s\) do not decode: 0\.384 '
            r's of sound between 1\.216 s and 1\.600 s is lost, more than '
            r'10% of its 3\.00 s'):
        fast_inferencer(path)


@pytest.mark.usefixtures('needs_av')
def test_no_audio_packet_decodes(fast_inferencer, tmp_path):
    whole = write_test_video(tmp_path / 'whole.mp4', seconds=3.0)
    path = corrupt_audio_packets(whole, range(48), tmp_path / 'mute.mp4')
    for allow_truncated in (False, True):
        with pytest.raises(
                VideoReadError,
                match=r'mute\.mp4: no audio packet decodes \(48 read\)'):
            fast_inferencer(path, allow_truncated=allow_truncated)


@pytest.mark.usefixtures('needs_av')
def test_nan_sound_is_an_error(fast_inferencer, tmp_path):
    path = write_nan_video(tmp_path / 'nan.mkv')
    with pytest.raises(
            VideoReadError,
            match=r'nan\.mkv: the sound track holds 2 NaN or infinite sample '
            r'values \(the first at 1\.000 s\)'):
        fast_inferencer(path)


def test_unwritable_out_dir_is_reported_first(fast_inferencer, tmp_path):
    """A file where the output folder should be: the error names it before
    any input is read (the missing video is not even looked at)."""
    blocker = tmp_path / 'taken'
    blocker.write_text('a file')
    out_dir = str(blocker / 'outputs')
    with pytest.raises(
            NotADirectoryError,
            match=rf'output folder {out_dir}: cannot write there '
            rf'\({blocker} is a file, not a folder\)'):
        fast_inferencer(str(tmp_path / 'missing.mp4'), out_dir=out_dir)


def test_cli_unwritable_out_dir(tmp_path, capsys):
    """Exit 2 before the model is built or any video decoded."""
    blocker = tmp_path / 'taken'
    blocker.write_text('a file')
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / 'missing.mp4'), '--config', DEMO_CONFIG,
              '--device', 'cpu', '--out-dir', str(blocker)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f'--out-dir output folder {blocker}: cannot write there ' \
        f'({blocker} is a file, not a folder)' in err
    assert 'missing.mp4' not in err


@pytest.mark.skipif(
    MEGAMIND is None, reason='no Megamind.avi: make media, or install '
    "Debian's opencv-doc")
def test_megamind(fast_inferencer):
    """opencv's sample: its first AC-3 packet is cut (FFmpeg plays it); the
    sound starts with 32 ms of silence and stays in sync; the frames' pts
    are out of order (packed B-frames), their dts are used."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        result = fast_inferencer(MEGAMIND)
    messages = [str(w.message) for w in record]
    assert f'{MEGAMIND}: 1 audio packet(s) do not decode: 0.032 s of sound ' \
        'between 0.000 s and 0.032 s is lost; skipped, and silence put in ' \
        'its place so that the later sound stays in sync with the ' \
        'picture' in messages
    assert sum('did not increase' in m for m in messages) <= 1
    assert result['masks'].shape == (11, 528, 720)
    assert result['duration'] == pytest.approx(11.26, abs=0.05)


def test_every_case_is_in_the_docs():
    """docs/data_checks.md names every case of this corpus."""
    with open(osp.join(REPO_ROOT, 'docs', 'data_checks.md'),
              encoding='utf-8') as file:
        text = file.read()
    names = [case[0] for case in CHECKPOINT_CASES] + [
        name[len('test_'):] for name in globals()
        if name.startswith('test_') and name not in (
            'test_bad_checkpoint_files', 'test_every_case_is_in_the_docs')
    ]
    assert [name for name in names if f'`{name}`' not in text] == []
