# Copyright (c) mmavs contributors. All rights reserved.
"""Inference on your own videos: :class:`AVSInferencer` (its stages are in
:mod:`mmavs.apis.inferencer`) and the ``mmavs-demo`` command line
(:mod:`mmavs.apis.cli`); :func:`listening_report`, how much a model's
masks depend on the sound. Video I/O is in :mod:`mmavs.datasets.video_io`.
"""
from mmavs.datasets.errors import CheckpointError, VideoReadError
from .inferencer import AVSInferencer
from .listening import (format_listening_report, format_settings_report,
                        listening_report)
from .model_init import init_model

__all__ = [
    'AVSInferencer', 'CheckpointError', 'VideoReadError',
    'format_listening_report', 'format_settings_report', 'init_model',
    'listening_report'
]
