# Copyright (c) mmavs contributors. All rights reserved.
"""The listening report: true, swapped and silent audio on a tiny set."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS

from mmavs.apis.listening import (REPORT_FILE, format_listening_report,
                                  format_settings_report,
                                  listening_keys, listening_report)
from mmavs.datasets.synthetic import make_synthetic_avsbench
from mmavs.testing import get_tiny_train_config

DEMO = 'demo/avsegformer-tiny_r18-lightaudio_1xb8-8e_synthetic-s4-64x64.py'
SILENCE = float(np.log(0.01))


@MODELS.register_module(force=True)
class LogMelLoudness(BaseModule):
    """Test audio backbone: the mean of each log-mel example, [N, 1]."""

    out_channels = 1

    def forward(self, x):
        return x.mean(dim=(1, 2, 3))[:, None]


@MODELS.register_module(force=True)
class SoundIsEverywhereHead(BaseModule):
    """Test head: every pixel is foreground when the frame's audio is
    louder than silence, background otherwise."""

    takes_audio = True

    def __init__(self, listen=True):
        super().__init__()
        self.listen = listen
        self.align_corners = False
        self.num_classes, self.out_channels, self.threshold = 2, 1, 0.5
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def predict(self, inputs, batch_img_metas, test_cfg):
        visual, audio = inputs
        loud = audio.flatten() > SILENCE + 0.1 if self.listen else \
            torch.ones(audio.numel(), dtype=torch.bool)
        height, width = batch_img_metas[0]['img_shape']
        logits = torch.where(loud, 20.0, -20.0)
        return logits[:, None, None, None].expand(-1, 1, height, width)


@MODELS.register_module(force=True)
class LogMelFingerprint(BaseModule):
    """Test audio backbone: each mel bin's mean over time, [N, 64]: equal
    for two examples only when they hold the same sound."""

    out_channels = 64

    def forward(self, x):
        return x.mean(dim=(1, 2))


@MODELS.register_module(force=True)
class MemorisedSoundHead(BaseModule):
    """Test head that knows the sound of every test frame.

    With an empty ``memory`` it records what each frame hears. Given the
    recorded ``memory`` (frame path -> fingerprint), it paints a frame as
    foreground only when it hears its own sound, and logs whose frame's
    sound it heard (None: nobody's), so a test can tell the true, another
    clip's and no sound apart.
    """

    takes_audio = True
    heard = []  # (frame path, frame path whose sound it matched or None)
    recorded = {}

    def __init__(self, memory=None):
        super().__init__()
        self.memory = {
            path: torch.tensor(fingerprint)
            for path, fingerprint in (memory or {}).items()
        }
        self.align_corners = False
        self.num_classes, self.out_channels, self.threshold = 2, 1, 0.5
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def predict(self, inputs, batch_img_metas, test_cfg):
        _, audio = inputs
        logits = []
        # Audio features are [B, T, 64]; metas one per frame, clip major.
        for meta, fingerprint in zip(batch_img_metas, audio.flatten(0, 1)):
            path = meta['img_path']
            if not self.memory:
                MemorisedSoundHead.recorded[path] = fingerprint.tolist()
            match = next((other for other, known in self.memory.items()
                          if torch.allclose(known, fingerprint, atol=1e-4)),
                         None)
            MemorisedSoundHead.heard.append((path, match))
            logits.append(20.0 if match == path else -20.0)
        height, width = batch_img_metas[0]['img_shape']
        return torch.tensor(logits)[:, None, None, None].expand(
            -1, 1, height, width)


@pytest.fixture(scope='module')
def s4_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('listening')
    return make_synthetic_avsbench(
        str(root), tasks='s4', num_clips=dict(train=2, val=2, test=4),
        image_size=32, num_categories=3)['s4']


def _config(s4_root, work_dir, listen=None, memory=None):
    cfg = get_tiny_train_config(DEMO, s4_root, str(work_dir),
                                image_size=(32, 32))
    if listen is not None:
        cfg.model.audio_backbone = dict(type='LogMelLoudness')
        cfg.model.decode_head = dict(
            type='SoundIsEverywhereHead', listen=listen)
    if memory is not None:
        cfg.model.audio_backbone = dict(type='LogMelFingerprint')
        cfg.model.decode_head = dict(type='MemorisedSoundHead',
                                     memory=memory)
    return cfg


def _checkpoint(cfg, path):
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), str(path))
    return str(path)


@pytest.mark.parametrize('listen', [False, True])
def test_drops_follow_what_the_model_does_with_audio(s4_root, tmp_path,
                                                     listen):
    cfg = _config(s4_root, tmp_path / 'work', listen=listen)
    report = listening_report(cfg, _checkpoint(cfg, tmp_path / 'ckpt.pth'),
                              out_dir=str(tmp_path / 'out'))
    assert report['keys'] == ['M_J', 'M_F']
    assert report['num_clips'] == 4
    for mode in ('true', 'swapped', 'silent'):
        assert set(report[mode]) == {'M_J', 'M_F'}
        assert report[mode]['M_J'] == report['metrics'][mode]['M_J']
    # Every synthetic clip sounds, so the model paints every frame with
    # the true or another clip's audio: same score.
    assert report['true']['M_J'] > 0
    assert report['drop']['swapped'] == dict(M_J=0.0, M_F=0.0)
    if listen:
        # Silence: nothing is segmented, IoU 0 on every (non-empty) mask.
        assert report['silent']['M_J'] == 0
        assert report['drop']['silent']['M_J'] == report['true']['M_J']
    else:
        assert report['drop']['silent'] == dict(M_J=0.0, M_F=0.0)
    for folder in (tmp_path / 'work' / 'listening', tmp_path / 'out'):
        with open(folder / REPORT_FILE) as file:
            assert json.load(file)['drop'] == report['drop']
    table = format_listening_report(report)
    assert 'swapped' in table and 'silent' in table
    assert (' (-' in table) == listen


def test_swapped_gives_each_clip_another_clips_sound(s4_root, tmp_path):
    """A model that listens to its own clip's sound only: every frame of
    the swapped run hears another clip's frame, of the silent run nobody's,
    and both score 0 where the true audio scores."""
    MemorisedSoundHead.recorded.clear()
    cfg = _config(s4_root, tmp_path / 'record', memory={})
    checkpoint = _checkpoint(cfg, tmp_path / 'record.pth')
    listening_report(cfg, checkpoint, modes=('true', ))
    memory = dict(MemorisedSoundHead.recorded)
    assert len(memory) == 4 * 5  # 4 test clips of 5 frames
    MemorisedSoundHead.heard.clear()
    cfg = _config(s4_root, tmp_path / 'work', memory=memory)
    report = listening_report(cfg, _checkpoint(cfg, tmp_path / 'ckpt.pth'))
    heard = MemorisedSoundHead.heard
    assert len(heard) == 3 * len(memory)
    true, swapped, silent = (heard[i:i + len(memory)]
                             for i in range(0, len(heard), len(memory)))
    assert all(match == path for path, match in true)
    clip = osp.dirname
    assert all(match is not None and clip(match) != clip(path)
               for path, match in swapped), swapped
    assert all(match is None for _, match in silent)
    assert report['true']['M_J'] > 0.1
    assert report['swapped']['M_J'] == report['silent']['M_J'] == 0
    assert report['drop']['swapped']['M_J'] == report['true']['M_J']


def test_true_audio_matches_a_plain_test_run(s4_root, tmp_path):
    from mmengine.runner import Runner
    cfg = _config(s4_root, tmp_path / 'work')
    checkpoint = _checkpoint(cfg, tmp_path / 'ckpt.pth')
    report = listening_report(cfg, checkpoint, modes=('true', 'silent'))
    assert 'swapped' not in report and set(report['drop']) == {'silent'}
    cfg.load_from = checkpoint
    cfg.work_dir = str(tmp_path / 'plain')
    plain = Runner.from_cfg(cfg).test()
    assert report['true']['M_J'] == pytest.approx(plain['M_J'])
    assert report['true']['M_F'] == pytest.approx(plain['M_F'])


def test_keys_follow_the_task_and_bad_calls_fail(s4_root, tmp_path):
    cfg = _config(s4_root, tmp_path)
    assert listening_keys(cfg) == ('M_J', 'M_F')
    cfg.test_dataloader.dataset.type = 'AVSBenchSemanticDataset'
    assert listening_keys(cfg) == ('mIoU', 'F-score')
    with pytest.raises(ValueError, match='modes'):
        listening_report(cfg, 'x.pth', modes=('loud', ))
    cfg.load_from = None
    with pytest.raises(ValueError, match='checkpoint'):
        listening_report(cfg)


def test_mode_outputs_get_their_own_folders(s4_root, tmp_path):
    cfg = _config(s4_root, tmp_path / 'work', listen=True)
    cfg.test_evaluator['output_dir'] = str(tmp_path / 'out')
    listening_report(cfg, _checkpoint(cfg, tmp_path / 'ckpt.pth'))
    for mode in ('true', 'swapped', 'silent'):
        assert osp.isfile(tmp_path / 'out' / mode / 'per_clip_scores.json')


def _report(true, swapped, silent):
    return dict(keys=['M_J', 'M_F'],
                true=dict(M_J=true, M_F=true + 1),
                swapped=dict(M_J=swapped, M_F=0.0),
                silent=dict(M_J=silent, M_F=0.0))


def test_settings_report_names_the_worst_setting_of_each_column():
    table = format_settings_report(dict(
        a_long_setting_name=_report(91.0, 40.2, 12.0),
        b=_report(84.3, 80.0, 30.5),
        c=_report(95.0, 60.0, 90.0)))
    lines = table.splitlines()
    assert lines[0].split() == ['setting', 'true', 'M_J', 'swapped', 'M_J',
                                'silent', 'M_J']
    assert lines[1].split() == ['a_long_setting_name', '91.0', '40.2',
                                '(-50.8)', '12.0', '(-79.0)']
    assert lines[2].split() == ['b', '84.3', '80.0', '(-4.3)', '30.5',
                                '(-53.8)']
    # Worst of each column, each from a different setting.
    assert lines[4] == 'worst true M_J: 84.3 (b)'
    assert lines[5] == 'smallest drop with swapped audio: 4.3 (b)'
    assert lines[6] == 'smallest drop with silent audio: 5.0 (c)'
    assert len(lines) == 7


def test_settings_report_refuses_incomplete_reports():
    with pytest.raises(ValueError, match='at least one'):
        format_settings_report({})
    partial = _report(90.0, 10.0, 10.0)
    del partial['silent']
    with pytest.raises(ValueError, match=r"'x' has no \['silent'\]"):
        format_settings_report(dict(x=partial))
