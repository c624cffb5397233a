# Copyright (c) mmavs contributors. All rights reserved.
"""Confusion matrix of saved predictions against a config's test set.

For AVSS (71 classes) it shows which sounding classes are taken for which;
it works for the binary tasks too. Predictions are the masks that
``tools/test.py CONFIG CHECKPOINT --out PRED_DIR`` writes
(``PRED_DIR/<clip>/<frame>.png``: class ids as pixel values for AVSS, 0/255
for S4/MS3, where any non-zero pixel is foreground). Only labelled,
real frames count (padded AVSS frames and unlabelled S4 training frames
have no ground truth); pixels labelled ``ignore_index`` are skipped.

    python tools/analysis_tools/confusion_matrix.py CONFIG PRED_DIR SAVE_DIR

writes ``SAVE_DIR/confusion_matrix.{png,csv,npy}`` (rows: ground truth,
columns: prediction, pixel counts; the picture shows each row as fractions
of its ground truth) and prints the largest confusions.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Sequence, Tuple

import numpy as np
from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Confusion matrix of saved predictions (tools/test.py '
        '--out) against the test set of a config')
    parser.add_argument('config', help='the config the predictions are of')
    parser.add_argument(
        'prediction_dir', help='the --out folder of tools/test.py')
    parser.add_argument('save_dir', help='where to write the matrix')
    parser.add_argument(
        '--top', type=int, default=10, help='confusions to print')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value (e.g. '
        'test_dataloader.dataset.data_root=data/AVSBench/AVSS)')
    return parser.parse_args(argv)


def read_prediction(path: str, num_classes: int) -> np.ndarray:
    """A saved prediction as class ids.

    Args:
        path (str): The PNG: class ids (K > 2), or 0/255 (K = 2, any
            non-zero pixel is foreground).
        num_classes (int): K.

    Returns:
        np.ndarray: int64 [H, W] class ids in [0, K).

    Raises:
        FileNotFoundError: The file is missing.
        ValueError: Not a single-channel mask, or an id outside [0, K).
    """
    from PIL import Image
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: prediction is missing (was the '
                                'test run with --out on this test set?)')
    with Image.open(path) as image:
        labels = np.asarray(image)
    if labels.ndim != 2:
        raise ValueError(f'{path}: expected a single-channel mask of class '
                         f'ids, got shape {labels.shape}')
    if num_classes == 2:
        return (labels > 0).astype(np.int64)
    if labels.max(initial=0) >= num_classes:
        raise ValueError(f'{path}: class id {int(labels.max())} is outside '
                         f'the {num_classes} classes of the config (a '
                         'prediction of another data set?)')
    return labels.astype(np.int64)


def read_ground_truth(info: dict, index: int, palette) -> np.ndarray:
    from mmavs.datasets.readers import read_binary_mask, read_palette_mask
    path = info['seg_map_paths'][index]
    if info['task'] == 'avss':
        return read_palette_mask(path, palette)
    return read_binary_mask(path)


def count_confusions(dataset, prediction_dir: str,
                     num_classes: int) -> Tuple[np.ndarray, int]:
    """Pixel counts [ground truth, prediction] over the labelled frames.

    Args:
        dataset: An AVSBench data set (its data infos are read).
        prediction_dir (str): ``PRED_DIR`` of ``tools/test.py --out``.
        num_classes (int): K.

    Returns:
        tuple[np.ndarray, int]: int64 [K, K] and the number of frames.
    """
    import cv2
    palette = dataset.metainfo.get('palette')
    matrix = np.zeros((num_classes, num_classes), np.int64)
    frames = 0
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        for t, (flag, valid) in enumerate(
                zip(info['label_flags'], info['frame_valid'])):
            if not (flag and valid):
                continue
            gt = read_ground_truth(info, t, palette).astype(np.int64)
            pred = read_prediction(
                osp.join(prediction_dir, info['clip_name'], f'{t}.png'),
                num_classes)
            if pred.shape != gt.shape:
                # Saved at the evaluation size: compare at the GT's size.
                pred = cv2.resize(
                    pred.astype(np.uint8), gt.shape[::-1],
                    interpolation=cv2.INTER_NEAREST).astype(np.int64)
            keep = gt < num_classes  # ignore_index pixels are skipped
            matrix += np.bincount(
                gt[keep] * num_classes + pred[keep],
                minlength=num_classes**2).reshape(num_classes, num_classes)
            frames += 1
    return matrix, frames


def top_confusions(matrix: np.ndarray, classes: Sequence[str],
                   top: int) -> List[Tuple[str, str, float]]:
    """The largest off-diagonal entries as (truth, predicted, fraction of
    the truth's pixels)."""
    totals = matrix.sum(axis=1, keepdims=True).clip(min=1)
    rates = matrix / totals
    np.fill_diagonal(rates, 0)
    order = np.argsort(rates, axis=None)[::-1][:top]
    pairs = [np.unravel_index(i, rates.shape) for i in order]
    return [(classes[g], classes[p], float(rates[g, p])) for g, p in pairs
            if rates[g, p] > 0]


def save(matrix: np.ndarray, classes: Sequence[str], save_dir: str,
         title: str) -> List[str]:
    """Write the matrix as .npy, .csv and a .png picture."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    os.makedirs(save_dir, exist_ok=True)
    paths = [osp.join(save_dir, f'confusion_matrix.{ext}')
             for ext in ('npy', 'csv', 'png')]
    np.save(paths[0], matrix)
    with open(paths[1], 'w', encoding='utf-8') as file:
        file.write('truth \\ predicted,' + ','.join(classes) + '\n')
        for name, row in zip(classes, matrix):
            file.write(name + ',' + ','.join(str(int(v)) for v in row) + '\n')
    rates = matrix / matrix.sum(axis=1, keepdims=True).clip(min=1)
    size = max(6.0, 0.16 * len(classes))
    figure, axes = plt.subplots(figsize=(size, size))
    image = axes.imshow(rates, cmap='viridis', vmin=0, vmax=1)
    axes.set_xticks(range(len(classes)))
    axes.set_yticks(range(len(classes)))
    font = max(4, min(10, int(300 / len(classes))))
    axes.set_xticklabels(classes, rotation=90, fontsize=font)
    axes.set_yticklabels(classes, fontsize=font)
    axes.set_xlabel('predicted')
    axes.set_ylabel('ground truth')
    axes.set_title(title)
    figure.colorbar(image, fraction=0.046, pad=0.04,
                    label='fraction of the ground-truth pixels')
    figure.tight_layout()
    figure.savefig(paths[2], dpi=150)
    plt.close(figure)
    return paths


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmengine.config import Config
    from mmseg.registry import DATASETS

    from mmavs.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.pipeline = []
    dataset = DATASETS.build(dataset_cfg)
    classes = list(dataset.metainfo['classes'])
    matrix, frames = count_confusions(dataset, args.prediction_dir,
                                      len(classes))
    if frames == 0:
        print('no labelled frame found', file=sys.stderr)
        return 1
    name = osp.splitext(osp.basename(args.config))[0]
    paths = save(matrix, classes, args.save_dir,
                 f'{name}: {frames} frames')
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    print(f'{frames} labelled frames, {int(matrix.sum())} pixels, pixel '
          f'accuracy {100 * accuracy:.2f}%')
    print('largest confusions (truth -> predicted: share of the truth):')
    for truth, predicted, rate in top_confusions(matrix, classes, args.top):
        print(f'  {truth} -> {predicted}: {100 * rate:.1f}%')
    print('written: ' + ', '.join(paths))
    return 0


if __name__ == '__main__':
    sys.exit(main())
