# Copyright (c) mmavs contributors. All rights reserved.
"""Count the parameters of a config's model, per component.

Usage::

    python tools/analysis_tools/count_params.py CONFIG [--depth 2]

Pretrained weights are not loaded (``init_cfg`` is ignored), so this runs
offline. Parameters are reported in millions.
"""
import argparse
from collections import OrderedDict

from mmengine.config import Config, DictAction


def count_parameters(module, depth: int = 1) -> 'OrderedDict[str, int]':
    """Parameter counts of ``module`` grouped by name prefix.

    Args:
        module (nn.Module): The model.
        depth (int): How many dotted name levels form a group.

    Returns:
        OrderedDict[str, int]: Group name -> number of parameters, plus
        ``'total'``.
    """
    counts = OrderedDict()
    total = 0
    for name, param in module.named_parameters():
        group = '.'.join(name.split('.')[:depth])
        counts[group] = counts.get(group, 0) + param.numel()
        total += param.numel()
    counts['total'] = total
    return counts


def main():
    parser = argparse.ArgumentParser(description='Count model parameters')
    parser.add_argument('config')
    parser.add_argument('--depth', type=int, default=2,
                        help='name levels per group (2: decode_head.encoder)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides, e.g. '
                        'model.decode_head.num_queries=100')
    args = parser.parse_args()
    from mmseg.registry import MODELS

    from mmavs.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = MODELS.build(cfg.model)
    print(f'{"module":40s} {"params (M)":>12s}')
    for name, count in count_parameters(model, 1).items():
        print(f'{name:40s} {count / 1e6:12.2f}')
    if args.depth > 1:
        print()
        for name, count in count_parameters(model.decode_head,
                                            args.depth - 1).items():
            print(f'decode_head.{name:28s} {count / 1e6:12.3f}')


if __name__ == '__main__':
    main()
