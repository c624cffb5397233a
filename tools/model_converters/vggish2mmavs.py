# Copyright (c) mmavs contributors. All rights reserved.
"""Convert torchvggish weights into an mmavs VGGish checkpoint.

Usage::

    python tools/model_converters/vggish2mmavs.py \
        vggish-10086976.pth checkpoints/vggish_mmavs.pth \
        [--pca vggish_pca_params-970ea276.pth]

The result loads with ``strict=True`` into ``mmavs.models.VGGish`` (and
through ``init_cfg=dict(type='Pretrained', checkpoint=...)`` in configs).

Both inputs are loaded with ``torch.load(weights_only=True)``: a file that
holds anything but tensors, numpy arrays and plain containers is refused
(unpickling it could run code from the file). ``--unsafe-load`` unpickles
such a file anyway, for files you trust.
"""
import argparse
import os
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, List, Optional

import torch

# Names and shapes of the torchvggish release (AudioSet VGGish).
VGGISH_SHAPES = OrderedDict([
    ('features.0.weight', (64, 1, 3, 3)), ('features.0.bias', (64, )),
    ('features.3.weight', (128, 64, 3, 3)), ('features.3.bias', (128, )),
    ('features.6.weight', (256, 128, 3, 3)), ('features.6.bias', (256, )),
    ('features.8.weight', (256, 256, 3, 3)), ('features.8.bias', (256, )),
    ('features.11.weight', (512, 256, 3, 3)), ('features.11.bias', (512, )),
    ('features.13.weight', (512, 512, 3, 3)), ('features.13.bias', (512, )),
    ('embeddings.0.weight', (4096, 12288)), ('embeddings.0.bias', (4096, )),
    ('embeddings.2.weight', (4096, 4096)), ('embeddings.2.bias', (4096, )),
    ('embeddings.4.weight', (128, 4096)), ('embeddings.4.bias', (128, )),
])
PCA_SHAPES = {'pca_eigen_vectors': (128, 128), 'pca_means': (128, 1)}


def _as_tensor(value) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(
        value)


def convert_vggish(state_dict: Dict[str, torch.Tensor],
                   pca_params: Optional[dict] = None,
                   prefix: str = '') -> 'OrderedDict[str, torch.Tensor]':
    """Check and rename torchvggish parameters.

    Args:
        state_dict (dict): torchvggish weights (``features.*``,
            ``embeddings.*``), optionally under a common ``prefix``.
        pca_params (dict, optional): ``pca_eigen_vectors`` [128, 128] and
            ``pca_means`` [128] or [128, 1].
        prefix (str): Prefix to strip from every key (e.g. ``'vggish.'``).

    Returns:
        OrderedDict: Parameters of :class:`mmavs.models.VGGish`.

    Raises:
        KeyError: Missing or unexpected keys, all named.
        ValueError: A tensor of the wrong shape, named.
    """
    stripped = {
        key[len(prefix):]: value
        for key, value in state_dict.items() if key.startswith(prefix)
    }
    missing = [key for key in VGGISH_SHAPES if key not in stripped]
    unexpected = [key for key in stripped if key not in VGGISH_SHAPES]
    if missing or unexpected:
        raise KeyError(f'Not a torchvggish state dict: missing {missing}, '
                       f'unexpected {unexpected}')
    converted = OrderedDict()
    for key, shape in VGGISH_SHAPES.items():
        value = _as_tensor(stripped[key]).float()
        if tuple(value.shape) != shape:
            raise ValueError(f'{key}: expected shape {shape}, got '
                             f'{tuple(value.shape)}')
        converted[key] = value.contiguous()
    if pca_params is not None:
        for key, shape in PCA_SHAPES.items():
            if key not in pca_params:
                raise KeyError(f'PCA parameters lack {key!r}')
            value = _as_tensor(pca_params[key]).float().reshape(shape)
            converted[key] = value.contiguous()
    return converted


def load_source(path: str, unsafe_load: bool = False):
    """Load a torchvggish file with ``weights_only=True``.

    Args:
        path (str): The ``.pth`` file.
        unsafe_load (bool): If ``weights_only`` loading refuses the file,
            unpickle it anyway (runs code from the file; only for files you
            trust). Defaults to False.

    Returns:
        Any: What the file holds.

    Raises:
        CheckpointError: The file is missing, broken, or (without
            ``unsafe_load``) refused; the message names it.
    """
    from mmavs.utils.checkpoint import safe_torch_load
    return safe_torch_load(path, unsafe_load=unsafe_load)


def main(argv: Optional[List[str]] = None) -> int:
    """Command line entry point (see the module docstring).

    Args:
        argv (list[str], optional): Arguments without the program name.

    Returns:
        int: 0 on success, 1 when an input cannot be used or has the wrong
        tensors (reported on stderr).
    """
    parser = argparse.ArgumentParser(
        description='Convert torchvggish weights for mmavs')
    parser.add_argument('src', help='torchvggish vggish-10086976.pth')
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument(
        '--pca', help='optional vggish_pca_params-970ea276.pth (then set '
        'use_pca=True in the config)')
    parser.add_argument(
        '--unsafe-load',
        action='store_true',
        help='unpickle a source that weights_only loading refuses (only for '
        'files you trust)')
    args = parser.parse_args(argv)
    from mmavs.datasets.errors import CheckpointError
    try:
        state_dict = load_source(args.src, args.unsafe_load)
        if isinstance(state_dict, dict) and 'state_dict' in state_dict:
            state_dict = state_dict['state_dict']
        if not isinstance(state_dict, dict):
            raise CheckpointError(
                f'{args.src}: holds an object of type '
                f'{type(state_dict).__name__}, not a torchvggish state dict')
        pca = None
        if args.pca:
            pca = load_source(args.pca, args.unsafe_load)
            if not isinstance(pca, dict):
                raise CheckpointError(
                    f'{args.pca}: holds an object of type '
                    f'{type(pca).__name__}, not the PCA parameters (a dict)')
        converted = convert_vggish(state_dict, pca)
    except (ValueError, KeyError) as error:  # CheckpointError included
        # str() of a KeyError quotes its message.
        print(f'error: {error.args[0] if error.args else error}',
              file=sys.stderr)
        return 1
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(
        dict(
            state_dict=converted,
            meta=dict(
                source=osp.basename(args.src), converter='vggish2mmavs')),
        args.dst)
    print(f'Saved {len(converted)} tensors to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
