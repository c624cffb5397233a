# Copyright (c) mmavs contributors. All rights reserved.
"""Dataset wrappers for audio-visual experiments."""
from typing import List, Union

from mmengine.dataset import BaseDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class AudioSwapDataset:
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
        self.dataset = DATASETS.build(dataset) if isinstance(
            dataset, dict) else dataset
        self._partners: List[int] = []
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's meta information (a copy, made by it)."""
        return self.dataset.metainfo

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

    def __len__(self) -> int:
        self.full_init()
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        info = self.get_data_info(index)
        data = self.dataset.pipeline(info)
        if data is None:
            raise ValueError(
                f'the pipeline dropped clip {info.get("clip_name", index)} '
                f'(with the audio of {info.get("audio_from")}); '
                'AudioSwapDataset does not re-sample clips')
        return data
