# Copyright (c) mmavs contributors. All rights reserved.
"""Pure tensor functions behind the AVSBench metrics.

They compute the per-frame quantities of the AVSBench / AVSegFormer
evaluation (``M_J``, ``M_F`` and the semantic per-class IoU / F) and the ways
the releases reduce them. The metric classes of
:mod:`mmavs.evaluation.metrics` are thin wrappers around them; inference and
benchmark tools may call them directly.

Conventions:

- Binary S4/MS3 frames: ``prob`` holds foreground probabilities (the sigmoid
  of the logit; mmseg's ``postprocess_result`` already applied it), ``gt`` is
  a boolean foreground mask, and the optional ``valid`` mask drops ignored
  pixels (the releases have none; then every pixel counts).
- The hard prediction for ``M_J`` is ``prob > 0.5`` (strict, as released);
  the ``M_F`` curve uses ``prob >= t`` for the 255 thresholds
  ``linspace(0, 1 - 1e-10, 255)`` computed in float32, as released (in float32
  the last threshold rounds to exactly 1.0).
"""
from typing import Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

#: beta^2 of the AVSBench F-measure.
BETA2 = 0.3
#: Number of thresholds of the released F-measure curve.
NUM_THRESHOLDS = 255
#: The epsilon the releases add to each frame's union in ``M_J``.
IOU_EPS = 1e-7


def fscore_thresholds(num_thresholds: int = NUM_THRESHOLDS,
                      device: Union[str, torch.device, None] = None) -> Tensor:
    """The thresholds of the released F-measure curve.

    Args:
        num_thresholds (int): Number of thresholds. Defaults to 255.
        device (str | torch.device, optional): Device of the result.

    Returns:
        Tensor: float32 [num_thresholds], ``linspace(0, 1 - 1e-10, n)`` in
        float32 as the releases build it (so the last one equals 1.0).
    """
    return torch.linspace(
        0, 1 - 1e-10, num_thresholds, dtype=torch.float32, device=device)


def _as_batch(*tensors: Optional[Tensor]):
    """Reshape [H, W] or [N, H, W] tensors to [N, H*W]; None stays None."""
    out = []
    for tensor in tensors:
        if tensor is None:
            out.append(None)
            continue
        if tensor.dim() == 2:
            tensor = tensor[None]
        if tensor.dim() != 3:
            raise ValueError('expected a [H, W] or [N, H, W] tensor, got '
                             f'shape {tuple(tensor.shape)}')
        out.append(tensor.reshape(tensor.shape[0], -1))
    return out


def _frames_with_gt(values: Tensor, gt: Tensor, valid: Optional[Tensor],
                    name: str) -> Tuple[Tensor, Tensor, Tensor]:
    """``values``, bool ``gt`` and bool ``valid`` (all pixels when None) as
    [N, H*W], after checking that the shapes agree."""
    values, gt, valid = _as_batch(values, gt.bool(),
                                  None if valid is None else valid.bool())
    if values.shape != gt.shape:
        raise ValueError(f'{name} {tuple(values.shape)} and gt '
                         f'{tuple(gt.shape)} differ in shape')
    return values, gt, torch.ones_like(gt) if valid is None else valid


def binary_iou(pred: Tensor,
               gt: Tensor,
               valid: Optional[Tensor] = None,
               eps: float = IOU_EPS) -> Tensor:
    """Per-frame IoU of binary masks with the AVSBench empty-GT rule.

    ``IoU = |pred & gt| / (|pred | gt| + eps)``. When a frame's ground truth
    is empty, the releases instead score how much of the frame the
    prediction correctly leaves empty: ``IoU = |~pred & ~gt| / (H*W + eps)``
    (an empty prediction scores 1).

    Args:
        pred (Tensor): Hard prediction, bool or 0/1, [H, W] or [N, H, W].
        gt (Tensor): Ground-truth foreground, bool or 0/1, same shape.
        valid (Tensor, optional): Pixels that count, bool, same shape.
            Defaults to every pixel (then ``H*W`` is the frame size).
        eps (float): Added to each union. Defaults to 1e-7 as released.

    Returns:
        Tensor: float64 IoU, shape [] for a [H, W] input, else [N].
    """
    squeeze = pred.dim() == 2
    pred, gt, valid = _frames_with_gt(pred.bool(), gt, valid, 'pred')
    pred = pred & valid
    gt = gt & valid
    inter = (pred & gt).sum(1).double()
    union = (pred | gt).sum(1).double()
    empty = gt.sum(1) == 0
    inter_empty = (~pred & valid).sum(1).double()
    num_valid = valid.sum(1).double()
    inter = torch.where(empty, inter_empty, inter)
    union = torch.where(empty, num_valid, union)
    iou = inter / (union + eps)
    return iou[0] if squeeze else iou


def binary_pr_counts(
        prob: Tensor,
        gt: Tensor,
        valid: Optional[Tensor] = None,
        num_thresholds: int = NUM_THRESHOLDS) -> Tuple[Tensor, Tensor, Tensor]:
    """Per-threshold true-positive and predicted-positive pixel counts.

    For every threshold ``t`` of :func:`fscore_thresholds`, a pixel is
    predicted positive when ``prob >= t``. Computed in one pass by bucketing
    each pixel's probability among the thresholds.

    Args:
        prob (Tensor): Foreground probabilities, [H, W] or [N, H, W]. Cast
            to float32 like the releases' sigmoid output.
        gt (Tensor): Ground-truth foreground, bool or 0/1, same shape.
        valid (Tensor, optional): Pixels that count, bool, same shape.
        num_thresholds (int): Number of thresholds. Defaults to 255.

    Returns:
        tuple[Tensor, Tensor, Tensor]: int64 ``tp`` [N, num_thresholds],
        ``pred_pos`` [N, num_thresholds] and ``gt_pos`` [N] (N = 1 for a
        [H, W] input).
    """
    prob, gt, valid = _frames_with_gt(prob.float(), gt, valid, 'prob')
    num = prob.shape[0]
    thresholds = fscore_thresholds(num_thresholds, device=prob.device)
    # bucket b = number of thresholds <= prob: the pixel is positive for
    # exactly the thresholds 0..b-1.
    bucket = torch.bucketize(prob.contiguous(), thresholds, right=True)
    offset = (torch.arange(num, device=prob.device) *
              (num_thresholds + 1))[:, None]
    flat = (bucket + offset)[valid]
    size = num * (num_thresholds + 1)
    hist_all = torch.bincount(flat, minlength=size).view(num, -1)
    hist_tp = torch.bincount(
        (bucket + offset)[valid & gt], minlength=size).view(num, -1)
    # count of pixels with bucket > j, for j = 0..num_thresholds-1
    pred_pos = hist_all.flip(1).cumsum(1).flip(1)[:, 1:]
    tp = hist_tp.flip(1).cumsum(1).flip(1)[:, 1:]
    gt_pos = (gt & valid).sum(1)
    return tp.cpu(), pred_pos.cpu(), gt_pos.cpu()


def fscore_curve(tp: Union[Tensor, np.ndarray],
                 pred_pos: Union[Tensor, np.ndarray],
                 gt_pos: Union[Tensor, np.ndarray, float],
                 beta2: float = BETA2) -> np.ndarray:
    """The released F-measure curve from per-threshold counts.

    ``P = tp / (pred_pos + 1e-20)``, ``R = tp / (gt_pos + 1e-20)``,
    ``F = (1 + beta2) * P * R / (beta2 * P + R)``, NaN (0 / 0) set to 0.

    Args:
        tp (Tensor | np.ndarray): True positives, [..., T].
        pred_pos (Tensor | np.ndarray): Predicted positives, [..., T].
        gt_pos (Tensor | np.ndarray | float): Ground-truth positives, [...].
        beta2 (float): beta^2. Defaults to 0.3.

    Returns:
        np.ndarray: float64 F curve, [..., T].
    """
    tp = np.asarray(tp, dtype=np.float64)
    pred_pos = np.asarray(pred_pos, dtype=np.float64)
    gt_pos = np.asarray(gt_pos, dtype=np.float64)[..., None]
    with np.errstate(divide='ignore', invalid='ignore'):
        precision = tp / (pred_pos + 1e-20)
        recall = tp / (gt_pos + 1e-20)
        curve = (1 + beta2) * precision * recall / (beta2 * precision + recall)
    return np.nan_to_num(curve, nan=0.0)


def binary_frame_stats(prob: Tensor,
                       gt: Tensor,
                       valid: Optional[Tensor] = None,
                       threshold: float = 0.5,
                       num_thresholds: int = NUM_THRESHOLDS,
                       beta2: float = BETA2,
                       eps: float = IOU_EPS) -> dict:
    """Everything ``M_J`` and ``M_F`` need from binary frames.

    Args:
        prob (Tensor): Foreground probabilities, [H, W] or [N, H, W].
        gt (Tensor): Ground-truth foreground, bool or 0/1, same shape.
        valid (Tensor, optional): Pixels that count, bool, same shape.
        threshold (float): Hard-mask threshold for the IoU (``prob >
            threshold``). Defaults to 0.5.
        num_thresholds (int): Thresholds of the F curve. Defaults to 255.
        beta2 (float): beta^2 of the F-measure. Defaults to 0.3.
        eps (float): IoU epsilon. Defaults to 1e-7.

    Returns:
        dict: ``iou`` (np.ndarray float64 [N]), ``f_curve`` (np.ndarray
        float64 [N, num_thresholds]) and ``empty_gt`` (np.ndarray bool [N]).
    """
    iou = binary_iou(prob > threshold, gt, valid, eps=eps)
    tp, pred_pos, gt_pos = binary_pr_counts(prob, gt, valid, num_thresholds)
    return dict(
        iou=iou.reshape(-1).cpu().numpy(),
        f_curve=fscore_curve(tp, pred_pos, gt_pos, beta2),
        empty_gt=(gt_pos == 0).numpy())


def binary_scores(ious: np.ndarray,
                  f_curves: np.ndarray,
                  empty_gt: np.ndarray,
                  chunk_frames: Optional[int] = None) -> Tuple[float, float]:
    """Reduce per-frame statistics to ``M_J`` and ``M_F``.

    ``chunk_frames=None`` (per-frame mode, independent of any batch size):
    ``M_J`` is the mean IoU over all frames; ``M_F`` is the maximum over
    thresholds of the F curve averaged over all frames with a non-empty GT.

    ``chunk_frames=b`` (release mode): the frames, in dataset order, are cut
    into consecutive chunks of ``b`` (the last one may be shorter), as the
    releases' test batches; each chunk's ``M_J`` is its mean IoU and its
    ``M_F`` the maximum over thresholds of the F curve averaged over its
    non-empty-GT frames. A chunk without such frames scores ``M_F = 0``
    and still counts, as the released ``Eval_Fmeasure`` returns the max of
    an all-zero curve. The results are the unweighted means over chunks.

    Args:
        ious (np.ndarray): Per-frame IoU, [N].
        f_curves (np.ndarray): Per-frame F curves, [N, T].
        empty_gt (np.ndarray): Per-frame empty-GT flags, bool [N].
        chunk_frames (int, optional): Release batch size in frames.

    Returns:
        tuple[float, float]: ``(M_J, M_F)`` as fractions in [0, 1]; both are
        NaN when there are no frames. In per-frame mode ``M_F`` is 0 when no
        frame has a non-empty GT.
    """
    ious = np.asarray(ious, dtype=np.float64).reshape(-1)
    f_curves = np.asarray(f_curves, dtype=np.float64)
    empty_gt = np.asarray(empty_gt, dtype=bool).reshape(-1)
    num = ious.shape[0]
    if num == 0:
        return float('nan'), float('nan')

    def _chunk_f(curves, empties):
        keep = ~empties
        if not keep.any():
            return 0.0
        return float(curves[keep].mean(0).max())

    if chunk_frames is None:
        return float(ious.mean()), _chunk_f(f_curves, empty_gt)
    if int(chunk_frames) < 1:
        raise ValueError(f'chunk_frames must be >= 1, got {chunk_frames}')
    chunk_frames = int(chunk_frames)
    chunk_j, chunk_f = [], []
    for start in range(0, num, chunk_frames):
        stop = start + chunk_frames
        chunk_j.append(ious[start:stop].mean())
        chunk_f.append(_chunk_f(f_curves[start:stop], empty_gt[start:stop]))
    return float(np.mean(chunk_j)), float(np.mean(chunk_f))


def semantic_frame_stats(
        pred: Tensor,
        gt: Tensor,
        num_classes: int,
        ignore_index: int = 255,
        beta2: float = BETA2) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame, per-class IoU and F of label maps, as the AVSS release.

    For frame n and class c: ``I`` = pixels where both say c, ``P`` =
    predicted c, ``G`` = ground truth c, ``U = P + G - I``. ``IoU = I / U``
    (0 when ``U = 0``); ``F = (1 + beta2) * prec * rec / (beta2 * prec +
    rec)`` with ``prec = I / P`` and ``rec = I / G``, 0 where undefined
    (so 0 whenever ``I = 0``). The class "appears" in the frame when
    ``U > 0``. Pixels whose GT is ``ignore_index`` are left out of all
    counts (the release has none in its AVSS masks).

    Args:
        pred (Tensor): Predicted class ids, [H, W] or [N, H, W].
        gt (Tensor): Ground-truth class ids, same shape.
        num_classes (int): Number of classes C (71 for AVSS).
        ignore_index (int): Ignored GT label. Defaults to 255.
        beta2 (float): beta^2 of the F-measure. Defaults to 0.3.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: float64 ``iou`` [N, C],
        float64 ``fscore`` [N, C] and bool ``present`` [N, C].
    """
    pred, gt = _as_batch(pred.long(), gt.long())
    if pred.shape != gt.shape:
        raise ValueError(f'pred {tuple(pred.shape)} and gt '
                         f'{tuple(gt.shape)} differ in shape')
    num = pred.shape[0]
    valid = gt != ignore_index
    in_range = (gt >= 0) & (gt < num_classes)
    if bool((valid & ~in_range).any()):
        raise ValueError(f'ground truth has labels outside [0, '
                         f'{num_classes}) other than {ignore_index}')
    if bool(((pred < 0) | (pred >= num_classes)).any()):
        raise ValueError(f'prediction has labels outside [0, {num_classes})')
    offset = (torch.arange(num, device=pred.device) * num_classes)[:, None]
    size = num * num_classes

    def _hist(labels, mask):
        return torch.bincount(
            (labels + offset)[mask], minlength=size).view(num, num_classes)

    area_pred = _hist(pred, valid).cpu().numpy().astype(np.float64)
    area_gt = _hist(gt, valid).cpu().numpy().astype(np.float64)
    area_inter = _hist(gt,
                       valid & (pred == gt)).cpu().numpy().astype(np.float64)
    area_union = area_pred + area_gt - area_inter
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = np.where(area_union > 0, area_inter / area_union, 0.0)
        precision = area_inter / area_pred
        recall = area_inter / area_gt
        fscore = (1 + beta2) * precision * recall / (
            beta2 * precision + recall)
    fscore = np.nan_to_num(fscore, nan=0.0)
    return iou, fscore, area_union > 0


def semantic_class_scores(iou_sum: np.ndarray, fscore_sum: np.ndarray,
                          count: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-class IoU and F averaged over the frames where the class appears.

    Args:
        iou_sum (np.ndarray): Per-class sums of per-frame IoU, [C].
        fscore_sum (np.ndarray): Per-class sums of per-frame F, [C].
        count (np.ndarray): Per-class number of frames in which the class
            appears in prediction or GT, [C].

    Returns:
        tuple[np.ndarray, np.ndarray]: float64 per-class IoU and F [C];
        classes never seen score 0, as released.
    """
    count = np.asarray(count, dtype=np.float64)
    seen = count > 0
    safe = np.where(seen, count, 1.0)
    iou = np.where(seen, np.asarray(iou_sum, np.float64) / safe, 0.0)
    fscore = np.where(seen, np.asarray(fscore_sum, np.float64) / safe, 0.0)
    return iou, fscore
