# Copyright (c) mmavs contributors. All rights reserved.
"""Draw clips as the model receives them, to check data and augmentation.

Usage::

    python tools/analysis_tools/browse_dataset.py CONFIG \
        [--split train|val|test] [--output-dir DIR] [--max-clips 20] \
        [--cfg-options KEY=VALUE ...]

Each clip of the split's dataset goes through the config's pipeline and is
written to ``DIR/{clip_name}.png`` as a grid: the transformed frames, the
ground truth over them (unlabelled frames stay plain) and, for log-mel
audio, each frame's 0.96 s spectrogram (time left to right, low
frequencies at the bottom), so misaligned sound or masks show at a glance.
"""
import argparse
import os
import os.path as osp
from typing import List

import numpy as np
from mmengine.config import Config, DictAction


def parse_args():
    parser = argparse.ArgumentParser(
        description='Draw the clips of a dataset after its pipeline')
    parser.add_argument('config')
    parser.add_argument('--split', default='train',
                        choices=['train', 'val', 'test'])
    parser.add_argument('--output-dir', default='work_dirs/browse_dataset')
    parser.add_argument('--max-clips', type=int, default=20,
                        help='draw at most this many clips (0: all)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. '
        'train_dataloader.dataset.data_root=data/AVSBench/Single-source')
    return parser.parse_args()


def spectrogram_row(audio: np.ndarray, height: int,
                    width: int) -> List[np.ndarray]:
    """One RGB image per frame of its log-mel example.

    Args:
        audio (np.ndarray): [T, 1, 96, 64] log-mel examples (time, mel).
        height (int): Output height in pixels.
        width (int): Output width in pixels.

    Returns:
        list[np.ndarray]: T RGB images [height, width, 3] uint8, on one
        colour scale for the whole clip.
    """
    import cv2
    low, high = float(audio.min()), float(audio.max())
    scaled = (audio - low) / max(high - low, 1e-6) * 255
    images = []
    for example in scaled[:, 0]:
        # Rows = mel bins with the lowest at the bottom, columns = time.
        picture = np.ascontiguousarray(example.T[::-1]).astype(np.uint8)
        picture = cv2.resize(picture, (width, height),
                             interpolation=cv2.INTER_NEAREST)
        coloured = cv2.applyColorMap(picture, cv2.COLORMAP_MAGMA)
        images.append(cv2.cvtColor(coloured, cv2.COLOR_BGR2RGB))
    return images


def main():
    args = parse_args()
    import cv2

    import mmavs  # noqa: F401  (compatibility layer, registration)
    from mmseg.registry import DATASETS

    from mmavs.utils import register_all_modules
    from mmavs.visualization import AVSLocalVisualizer

    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    dataset = DATASETS.build(cfg[f'{args.split}_dataloader'].dataset)
    visualizer = AVSLocalVisualizer(
        name='browse_dataset', min_size=0, alpha=0.5)
    visualizer.dataset_meta = dataset.metainfo
    os.makedirs(args.output_dir, exist_ok=True)
    count = len(dataset) if args.max_clips <= 0 else min(
        args.max_clips, len(dataset))
    for index in range(count):
        item = dataset[index]
        clip = item['data_samples']
        # Packed frames are BGR [T, 3, H, W]; the visualizer draws RGB.
        frames = [
            np.ascontiguousarray(frame.permute(1, 2, 0).numpy()[..., ::-1])
            for frame in item['inputs']['frames']
        ]
        grid = visualizer.draw_clip(frames, clip.frames, draw_pred=False)
        audio = item['inputs']['audio'].numpy()
        if audio.ndim == 4:  # log-mel examples, not precomputed features
            height, width = frames[0].shape[:2]
            row = np.concatenate(
                spectrogram_row(audio, height, width), axis=1)
            grid = np.concatenate([grid, row], axis=0)
        name = clip.metainfo.get('clip_name', str(index))
        out_file = osp.join(args.output_dir, f'{name}.png')
        cv2.imwrite(out_file, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    print(f'{count} of {len(dataset)} {args.split} clips drawn into '
          f'{args.output_dir}')


if __name__ == '__main__':
    main()
