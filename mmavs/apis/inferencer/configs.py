# Copyright (c) mmavs contributors. All rights reserved.
"""Find a shipped config by its name, through the model index, and read
what the inferencer needs from a config.

``model-index.yml`` (at the root of a checkout, or in ``mmavs/.mim`` of an
installed wheel) lists every shipped model, as OpenMMLab packages do; it is
what ``mim search mmavs`` and ``AVSInferencer.list_models('mmavs')`` read.
"""
import os
import os.path as osp
from difflib import get_close_matches
from typing import Dict, List, Optional, Union

from mmengine.config import Config
from mmengine.infer.infer import BaseInferencer

from mmavs.datasets.avsbench import avs_dataset_class


def model_index_root() -> str:
    """The folder holding ``model-index.yml`` and ``configs/``: the checkout,
    or ``mmavs/.mim`` of an installed package."""
    return BaseInferencer._get_repo_or_mim_dir('mmavs')


def indexed_models() -> List[dict]:
    """Every entry of the model index (``Name``, ``Config``, ...).

    Returns:
        list[dict]: The models, with ``Config`` relative to
        :func:`model_index_root`.
    """
    return list(BaseInferencer._get_models_from_metafile(model_index_root()))


def find_config(name: str) -> str:
    """Find a shipped config by its model name (with or without ``.py`` or
    its folder).

    Args:
        name (str): E.g. ``'avsegformer_r50_1xb4-30e_avsbench-s4-224x224'``
            or ``'avsegformer/avsegformer_r50_1xb4-30e_avsbench-s4-224x224'``.

    Returns:
        str: The config file.

    Raises:
        ValueError: No model of the index has that name; the message lists
            the closest names.
    """
    stem = osp.basename(name[:-3] if name.endswith('.py') else name)
    root = model_index_root()
    names: Dict[str, str] = {}
    for model in indexed_models():
        aliases = model.get('Alias', [])
        aliases = [aliases] if isinstance(aliases, str) else aliases
        for key in [model['Name']] + list(aliases):
            names[key.lower()] = osp.join(root, model['Config'])
    if stem.lower() in names:
        return names[stem.lower()]
    close = get_close_matches(stem.lower(), list(names), n=5)
    hint = f'; did you mean {", ".join(close)}?' if close else ''
    raise ValueError(f'No config file or model named {name!r} in the mmavs '
                     f'model index ({osp.join(root, "model-index.yml")})'
                     f'{hint}')


def load_config(model: Union[str, os.PathLike, Config, dict, None]
                ) -> Union[Config, dict, None]:
    """Read ``model`` when it is a config file or a shipped model's name.

    Args:
        model (str | PathLike | Config | dict | None): A config file, a
            name for :func:`find_config`, or anything else (returned as
            it is).

    Returns:
        Config | dict | None: The config, or ``model`` unchanged.
    """
    if not isinstance(model, (str, os.PathLike)):
        return model
    path = os.fspath(model)
    return Config.fromfile(path if osp.isfile(path) else find_config(path))


def eval_dataset_class(cfg: Config) -> Optional[type]:
    """The AVSBench data set class of a config's test data (looked up
    through wrappers such as ``AudioSwapDataset``), or None."""
    try:
        return avs_dataset_class(cfg.test_dataloader.dataset)
    except (AttributeError, KeyError, ValueError):
        return None
