# Copyright (c) mmavs contributors. All rights reserved.
"""AVSBench datasets, clip transforms, the VGGish log-mel front end and the
synthetic data generator; importing registers the datasets and transforms
into mmseg's registries."""
from .audio import (AVSDataError, file_to_log_mel_examples, load_waveform,
                    log_mel_spectrogram, waveform_to_log_mel_examples)
from .avsbench import (AVSS_CLASSES, AVSS_PALETTE, S4_CATEGORIES,
                       AVSBenchBaseDataset, AVSBenchMS3Dataset,
                       AVSBenchS4Dataset, AVSBenchSemanticDataset,
                       avs_dataset_class, bit_interleaved_palette)
from .synthetic import make_synthetic_avsbench
from .transforms import (ClipTransform, LoadAVSAnnotations, LoadAVSAudio,
                         LoadAVSFrames, PackAVSInputs)
from .wrappers import AudioSwapDataset

__all__ = [
    'AVSDataError', 'file_to_log_mel_examples', 'load_waveform',
    'log_mel_spectrogram', 'waveform_to_log_mel_examples', 'AVSS_CLASSES',
    'AVSS_PALETTE', 'S4_CATEGORIES', 'AVSBenchBaseDataset',
    'AVSBenchMS3Dataset', 'AVSBenchS4Dataset', 'AVSBenchSemanticDataset',
    'avs_dataset_class', 'bit_interleaved_palette', 'make_synthetic_avsbench',
    'ClipTransform', 'PackAVSInputs', 'LoadAVSAnnotations', 'LoadAVSAudio',
    'LoadAVSFrames', 'AudioSwapDataset'
]
