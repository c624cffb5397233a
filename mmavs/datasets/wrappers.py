# Copyright (c) mmavs contributors. All rights reserved.
"""Dataset wrappers for audio-visual experiments: the same clips with
another clip's audio (:class:`AudioSwapDataset`) or with silence
(:class:`SilentAudioDataset`)."""
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmseg.registry import DATASETS

from .audio import silent_log_mel_example


class ClipDatasetWrapper:
    """What the audio wrappers share: the wrapped data set (built from a
    config if needed), its meta information, length and annotations.

    Args:
        dataset (dict | BaseDataset): The wrapped data set.
        lazy_init (bool): Defer ``full_init``. Defaults to False.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 lazy_init: bool = False):
        self.dataset = DATASETS.build(dataset) if isinstance(
            dataset, dict) else dataset
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's meta information (a copy, made by it)."""
        return self.dataset.metainfo

    def full_init(self) -> None:
        """Initialise the wrapped dataset."""
        if not self._fully_initialized:
            self.dataset.full_init()
            self._fully_initialized = True

    def get_data_info(self, index: int) -> dict:
        """Clip ``index``'s annotation."""
        return self.dataset.get_data_info(index)

    def __len__(self) -> int:
        self.full_init()
        return len(self.dataset)


@DATASETS.register_module()
class AudioSwapDataset(ClipDatasetWrapper):
    """Give every clip the audio of another clip - a "does it listen?" test.

    A model that segments the sounding object must change its answer when
    the sound changes; one that only looks segments the same object. Each
    clip ``i`` keeps its frames and labels and takes every ``audio*`` entry
    of clip ``partner[i]``: the next clip (cyclically) whose ``category``
    differs (S4), or simply the next clip when clips have no category.

    Args:
        dataset (dict | BaseDataset): The dataset whose audio is swapped.
        lazy_init (bool): Defer ``full_init``. Defaults to False.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 lazy_init: bool = False):
        self._partners: List[int] = []
        super().__init__(dataset, lazy_init)

    def full_init(self) -> None:
        """Initialise the wrapped dataset and pick the audio partners."""
        if self._fully_initialized:
            return
        self.dataset.full_init()
        num_clips = len(self.dataset)
        if num_clips < 2:
            raise ValueError('AudioSwapDataset needs at least 2 clips, got '
                             f'{num_clips}')
        categories = [
            self.dataset.get_data_info(i).get('category')
            for i in range(num_clips)
        ]
        for index in range(num_clips):
            partner = (index + 1) % num_clips
            if categories[index] is not None:
                for step in range(1, num_clips):
                    candidate = (index + step) % num_clips
                    if categories[candidate] != categories[index]:
                        partner = candidate
                        break
            self._partners.append(partner)
        self._fully_initialized = True

    def partner(self, index: int) -> int:
        """Index of the clip whose audio clip ``index`` receives."""
        self.full_init()
        return self._partners[index]

    def get_data_info(self, index: int) -> dict:
        """Clip ``index``'s annotation with its partner's audio entries."""
        # mmengine's get_data_info returns fresh copies: no copying here.
        info = self.dataset.get_data_info(index)
        donor = self.dataset.get_data_info(self.partner(index))
        for key, value in donor.items():
            if key.startswith('audio'):
                info[key] = value
        info['audio_from'] = donor.get('clip_name')
        return info

    def __getitem__(self, index: int) -> dict:
        info = self.get_data_info(index)
        data = self.dataset.pipeline(info)
        if data is None:
            raise ValueError(
                f'the pipeline dropped clip {info.get("clip_name", index)} '
                f'(with the audio of {info.get("audio_from")}); '
                'AudioSwapDataset does not re-sample clips')
        return data


@DATASETS.register_module()
class SilentAudioDataset(ClipDatasetWrapper):
    """The clips of a dataset with their audio replaced by silence.

    Frames, labels and meta data stay as the wrapped dataset's pipeline
    makes them; only the audio it loaded is overwritten, in the form it has:

    - log-mel examples ([T, 1, 96, 64], from the released ``.pkl`` or from
      a ``.wav`` through the front end): the log-mel of a silent signal,
      ``log(0.01)`` everywhere (:func:`silent_log_mel_example`);
    - precomputed features ([T, C], ``audio_source='feature'``): silence has
      no form that holds for every feature extractor, so each frame gets
      ``silent_features``, which should be what the extractor outputs for
      the silent example (e.g. ``VGGish()(torch.from_numpy(
      silent_log_mel_example())[None])`` with the weights that made the
      features). Without it they are zeros, which is "no audio evidence"
      for a linear audio projection but not what VGGish gives for silence:
      the drop it measures is then that of removing the audio features.

    Works on packed samples (``inputs['audio']``, a Tensor) and on
    unpacked pipeline results (``audio``, an array).

    Args:
        dataset (dict | BaseDataset): The dataset to silence.
        silent_features (Sequence[float], optional): The feature vector of
            silence [C], for precomputed features. Defaults to zeros.
        lazy_init (bool): Defer ``full_init``. Defaults to False.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 silent_features: Optional[Sequence[float]] = None,
                 lazy_init: bool = False):
        self.silent_features = None if silent_features is None else \
            np.asarray(silent_features, dtype=np.float32).reshape(-1)
        self._silent_example = silent_log_mel_example()
        super().__init__(dataset, lazy_init)

    def silence_like(self, audio: np.ndarray) -> np.ndarray:
        """Silence in the layout of ``audio``.

        Args:
            audio (np.ndarray): [T, 1, 96, 64] log-mel examples or [T, C]
                features.

        Returns:
            np.ndarray: float32 array of the same shape.
        """
        shape = tuple(audio.shape)
        if shape[1:] == self._silent_example.shape:
            return np.broadcast_to(self._silent_example, shape).copy()
        if len(shape) != 2:
            raise ValueError('SilentAudioDataset expects audio [T, 1, 96, '
                             f'64] or features [T, C], got {shape}')
        if self.silent_features is None:
            return np.zeros(shape, np.float32)
        if self.silent_features.size != shape[1]:
            raise ValueError(f'silent_features has {self.silent_features.size}'
                             f' values for features of width {shape[1]}')
        return np.broadcast_to(self.silent_features, shape).copy()

    def __getitem__(self, index: int) -> dict:
        data = self.dataset[index]
        inputs = data.get('inputs')
        if isinstance(inputs, dict) and 'audio' in inputs:
            inputs['audio'] = torch.from_numpy(
                self.silence_like(inputs['audio'].numpy()))
        elif 'audio' in data:
            data['audio'] = self.silence_like(np.asarray(data['audio']))
        else:
            raise KeyError('SilentAudioDataset: the pipeline loaded no '
                           'audio (add LoadAVSAudio)')
        return data
