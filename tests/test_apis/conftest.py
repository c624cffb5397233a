# Copyright (c) mmavs contributors. All rights reserved.
"""Short test videos written with PyAV, and a tiny random inferencer.

PyAV is optional (requirements/optional.txt): the fixtures and test
modules that need it skip by name when it is missing, so that the rest of
this folder (listening report, pure stage units, checkpoint checks) still
runs.
"""
import warnings
from types import SimpleNamespace

import pytest
import torch
from torch import nn

DEMO_CONFIG = 'avsegformer-tiny_r18_1xb8-8e_synthetic-s4-64x64'


@pytest.fixture
def needs_av():
    """Skip, by name, a test that reads or writes videos without PyAV."""
    pytest.importorskip('av', reason='PyAV is not installed')


@pytest.fixture(scope='session')
def helpers():
    """The video/sound makers of :mod:`mmavs.testing.videos` and this
    file's tiny audio backbone (test folders are not packages, so test
    modules get them through this fixture)."""
    from mmavs.testing.videos import synth_frames, tone, write_test_video
    return SimpleNamespace(
        write_test_video=write_test_video,
        tone=tone,
        synth_frames=synth_frames,
        TinyAudio=TinyAudio)


class TinyAudio(nn.Module):
    """Stands in for VGGish (~1 GFLOP per example) in the slower tests:
    [N, 1, 96, 64] log-mel -> [N, 128], still depending on the sound."""

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        return log_mel.mean(dim=(1, 2)).repeat(1, 2)


@pytest.fixture(scope='session')
def session_inferencer():
    """The demo model with random weights, built once."""
    from mmavs.apis import AVSInferencer
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        inferencer = AVSInferencer(DEMO_CONFIG, device='cpu')
    return inferencer


@pytest.fixture
def inferencer(session_inferencer):
    """The shared inferencer with its real (random) VGGish."""
    session_inferencer.interleave_clips = False
    session_inferencer.quick_start = False  # clips as tests expect them
    session_inferencer.num_frames = 5
    return session_inferencer


@pytest.fixture
def fast_inferencer(session_inferencer):
    """The shared inferencer with a tiny audio backbone."""
    # Swapped by hand: pytest's monkeypatch looks for the old value in the
    # instance __dict__, where nn.Module does not keep submodules.
    model = session_inferencer.model
    vggish = model.audio_backbone
    model.audio_backbone = TinyAudio()
    session_inferencer.interleave_clips = False
    session_inferencer.quick_start = False  # clips as tests expect them
    session_inferencer.num_frames = 5
    try:
        yield session_inferencer
    finally:
        model.audio_backbone = vggish
