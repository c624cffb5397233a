# Copyright (c) mmavs contributors. All rights reserved.
"""Precompute VGGish embeddings so that training skips the frozen VGGish.

Usage::

    python tools/dataset_converters/extract_vggish_features.py \
        data/AVSBench/Single-source --task s4 \
        --checkpoint checkpoints/vggish_mmavs.pth [--source log_mel|wav]

Writes one float32 ``.npy`` [T, 128] per clip where the datasets look for
them with ``audio_source='feature'`` (e.g.
``s4_data/audio_vggish/{split}/{category}/{name}.npy``). A config then sets
``dataset=dict(audio_source='feature')`` in its dataloaders; ``VGGish``
passes [N, 128] inputs through, so the frozen network is not run again in
every epoch. Use the same VGGish weights as the model you train.
"""
import argparse
import os
import os.path as osp
from typing import Optional

import numpy as np
import torch
from tqdm import tqdm

DATASETS = dict(s4='AVSBenchS4Dataset', ms3='AVSBenchMS3Dataset',
                avss='AVSBenchSemanticDataset')


def extract_features(data_root: str, task: str, vggish, splits=('train',
                     'val', 'test'), source: Optional[str] = None,
                     batch_size: int = 64, progress: bool = True) -> int:
    """Embed the audio of every clip and write the feature files.

    Args:
        data_root (str): Sub-task folder (e.g. ``.../Single-source``).
        task (str): ``'s4'``, ``'ms3'`` or ``'avss'``.
        vggish (nn.Module): The VGGish to run (eval mode, on its device).
        splits (Sequence[str]): Splits to process.
        source (str, optional): Audio read: ``'log_mel'`` (released pkl)
            or ``'wav'``. Defaults to the data set's own (log-mel for S4 and
            MS3, wav for AVSS).
        batch_size (int): Examples per VGGish forward.
        progress (bool): Show a progress bar.

    Returns:
        int: Number of feature files written.
    """
    from mmseg.registry import DATASETS as REGISTRY
    from mmseg.registry import TRANSFORMS

    device = next(vggish.parameters()).device
    load_audio = TRANSFORMS.build(dict(type='LoadAVSAudio'))
    written = 0
    for split in splits:
        common = dict(type=DATASETS[task], data_root=data_root, split=split,
                      pipeline=[])
        source_set = REGISTRY.build(dict(common, audio_source=source))
        target_set = REGISTRY.build(
            dict(common, audio_source='feature', check_files=False))
        items = range(len(source_set))
        for index in tqdm(items, desc=f'{task} {split}',
                          disable=not progress):
            audio = load_audio(source_set.get_data_info(index))['audio']
            examples = torch.from_numpy(audio).float().to(device)
            with torch.no_grad():
                feats = torch.cat([
                    vggish(chunk) for chunk in examples.split(batch_size)
                ]).cpu().numpy().astype(np.float32)
            path = target_set.get_data_info(index)['audio_path']
            os.makedirs(osp.dirname(path), exist_ok=True)
            np.save(path, feats)
            written += 1
    return written


def main():
    parser = argparse.ArgumentParser(description='Precompute VGGish '
                                     'features of an AVSBench folder')
    parser.add_argument('data_root')
    parser.add_argument('--task', required=True, choices=sorted(DATASETS))
    parser.add_argument('--checkpoint', required=True,
                        help='mmavs VGGish weights (vggish2mmavs.py output)')
    parser.add_argument('--source', default=None,
                        choices=['log_mel', 'wav'],
                        help='audio to embed (default: the data set\'s own: '
                        'log_mel for s4/ms3, wav for avss)')
    parser.add_argument('--splits', nargs='+',
                        default=['train', 'val', 'test'])
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args()
    import mmavs  # noqa: F401
    from mmavs.models import VGGish
    from mmavs.utils import register_all_modules
    from mmavs.utils.checkpoint import load_checkpoint_file, load_weights
    register_all_modules()
    vggish = VGGish().eval()
    # weights_only loading, all weights or an error naming the file.
    load_weights(vggish, load_checkpoint_file(args.checkpoint),
                 args.checkpoint)
    vggish.to(args.device)
    count = extract_features(args.data_root, args.task, vggish, args.splits,
                             args.source)
    print(f'wrote {count} feature files under {args.data_root}')


if __name__ == '__main__':
    main()
