# Copyright (c) mmavs contributors. All rights reserved.
"""AVSBench data sets, their wrappers and clip transforms; importing
registers them into mmseg's registries.

Also importable from their modules: the VGGish log-mel front end
(:mod:`.audio`), file readers (:mod:`.readers`), video I/O
(:mod:`.video_io`), class names and palettes (:mod:`.metainfo`) and the
synthetic data writer (:mod:`.synthetic`).
"""
from .avsbench import (AVSBenchBaseDataset, AVSBenchMS3Dataset,
                       AVSBenchS4Dataset, AVSBenchSemanticDataset,
                       avs_dataset_class)
from .errors import AVSDataError, VideoReadError
from .transforms import (ClipTransform, LoadAVSAnnotations, LoadAVSAudio,
                         LoadAVSFrames, PackAVSInputs)
from .wrappers import AudioSwapDataset, SilentAudioDataset

__all__ = [
    'AVSBenchBaseDataset', 'AVSBenchS4Dataset', 'AVSBenchMS3Dataset',
    'AVSBenchSemanticDataset', 'AudioSwapDataset', 'SilentAudioDataset',
    'avs_dataset_class',
    'AVSDataError', 'VideoReadError', 'ClipTransform', 'LoadAVSFrames',
    'LoadAVSAnnotations', 'LoadAVSAudio', 'PackAVSInputs'
]
