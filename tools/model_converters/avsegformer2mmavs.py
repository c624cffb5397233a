# Copyright (c) mmavs contributors. All rights reserved.
"""Convert a checkpoint of the public AVSegFormer release into mmavs.

Usage::

    python tools/model_converters/avsegformer2mmavs.py \
        AVSegFormer_pvt2_s4.pth checkpoints/avsegformer_pvt2_s4_mmavs.pth

The source is a plain state dict as the release saves it (VGGish weights
included). The backbone (ResNet-50 or PVTv2-b5) and the number of output
channels (1 for S4/MS3, 71 for AVSS) are read from the keys; the result
loads with ``strict=True`` into the matching ``avsegformer-release_*``
config in ``configs/avsegformer/`` (the script prints which).

What changes:

- ``backbone.*``: ResNet-50 is torchvision-style in the release as in mmseg,
  only ``layer3_1``/``layer4_1`` become ``layer3``/``layer4``; PVTv2-b5 goes
  through mmdet's ``pvt_convert`` (``patch_embed{i}``/``block{i}``/
  ``norm{i}`` -> ``layers.{i-1}.{0,1,2}``, ``q`` + ``kv`` -> ``in_proj``).
- ``vggish.*`` -> ``audio_backbone.*``; ``audio_proj.*`` ->
  ``decode_head.audio_proj.*``.
- ``head.*`` -> ``decode_head.*``: ``transformer.{encoder,decoder}`` ->
  ``{encoder,decoder}`` with ``linear{1,2}`` -> ``ffn.linear{1,2}``;
  ``in_proj.i.{0,1}``, ``lateral_conv.{0,1}``, ``out_conv.{0,1}`` ->
  ``.{conv,gn}``; ``mlp`` -> ``mask_mlp``; ``fusion_block`` -> ``mixer``;
  ``fc.{0,2}`` -> ``mask_tail.{0,2}``; ``fc.4.weight`` ->
  ``conv_seg.weight`` (the release configs build the classifier without a
  bias, as released).
- Modules the release builds but never runs are dropped (and counted):
  ``head.fpn.*``, ``head.attn_fc.*`` and the duplicate ResNet branches
  ``backbone.layer3_2.*``/``backbone.layer4_2.*``.

Anything else fails: the keys and shapes of the source must be exactly
those of a release checkpoint (its manifest in ``release_manifests/``,
read by :func:`release_key_shapes`), and missing,
unexpected or misshapen tensors are named. The output is a deterministic
function of the input's tensors: fixed key order, no timestamps, so two
conversions of one checkpoint are byte-identical.
"""
import argparse
import io
import json
import logging
import os
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

logger = logging.getLogger('avsegformer2mmavs')

#: Keys whose presence identifies the release's visual backbone.
BACKBONE_MARKERS = OrderedDict([
    ('r50', 'backbone.layer3_1.0.conv1.weight'),
    ('pvtv2-b5', 'backbone.patch_embed1.proj.weight'),
])
#: The manifest of each (backbone, classifier outputs); MS3 checkpoints
#: have the keys of the S4 ones.
RELEASE_MANIFESTS = {
    ('r50', 1): 'AVSegFormer_res50_s4',
    ('r50', 71): 'AVSegFormer_res50_avss',
    ('pvtv2-b5', 1): 'AVSegFormer_pvt2_s4',
    ('pvtv2-b5', 71): 'AVSegFormer_pvt2_avss',
}
MANIFEST_DIR = osp.join(osp.dirname(osp.abspath(__file__)),
                        'release_manifests')
#: Prefixes of modules the release builds but whose output is never used.
DROPPED_PREFIXES = ('backbone.layer3_2.', 'backbone.layer4_2.', 'head.fpn.',
                    'head.attn_fc.')
#: The release's classifier (``head.fc.4``); its shape gives the classes.
CLASSIFIER_KEY = 'head.fc.4.weight'
#: Release configs for each (backbone, output channels).
RELEASE_CONFIGS = {
    ('r50', 1): [
        'avsegformer-release_r50_1xb2-30e_avsbench-s4-512x512.py',
        'avsegformer-release_r50_1xb2-60e_avsbench-ms3-512x512.py'
    ],
    ('pvtv2-b5', 1): [
        'avsegformer-release_pvtv2-b5_1xb2-30e_avsbench-s4-512x512.py',
        'avsegformer-release_pvtv2-b5_1xb2-60e_avsbench-ms3-512x512.py'
    ],
    ('r50', 71): ['avsegformer-release_r50_1xb4-30e_avsbench-avss-224x224.py'],
    ('pvtv2-b5', 71):
    ['avsegformer-release_pvtv2-b5_1xb4-30e_avsbench-avss-224x224.py'],
}

# ``head.*`` renames, tried in order; the first matching pattern wins.
_HEAD_RULES = [
    (r'^head\.transformer\.(encoder|decoder)\.layers\.(\d+)\.linear([12])\.',
     r'decode_head.\1.layers.\2.ffn.linear\3.'),
    (r'^head\.transformer\.(encoder|decoder)\.', r'decode_head.\1.'),
    (r'^head\.(in_proj\.\d+|lateral_conv|out_conv)\.0\.',
     r'decode_head.\1.conv.'),
    (r'^head\.(in_proj\.\d+|lateral_conv|out_conv)\.1\.',
     r'decode_head.\1.gn.'),
    (r'^head\.mlp\.', 'decode_head.mask_mlp.'),
    (r'^head\.fusion_block\.', 'decode_head.mixer.'),
    (r'^head\.fc\.([02])\.', r'decode_head.mask_tail.\1.'),
    (r'^head\.fc\.4\.weight$', 'decode_head.conv_seg.weight'),
    (r'^head\.(level_embed$|learnable_query\.|query_generator\.)',
     r'decode_head.\1'),
    (r'^audio_proj\.', 'decode_head.audio_proj.'),
    (r'^vggish\.', 'audio_backbone.'),
]
_HEAD_RULES = [(re.compile(pattern), repl) for pattern, repl in _HEAD_RULES]
Shape = Tuple[int, ...]


def release_key_shapes(backbone: str,
                       out_channels: int) -> 'OrderedDict[str, Shape]':
    """Names and shapes of a release checkpoint, from its manifest.

    The manifests (``release_manifests/*.keys.tsv`` beside this script,
    ``name<TAB>shape`` per tensor) list the public checkpoints' state dicts
    as released; the tests check converted models against the same files.

    Args:
        backbone (str): ``'r50'`` or ``'pvtv2-b5'``.
        out_channels (int): Classifier outputs: 1 (S4/MS3) or 71 (AVSS).

    Returns:
        OrderedDict[str, tuple[int, ...]]: Every tensor of the release's
        ``AVSegFormer`` state dict, in its order (backbone, ``vggish``,
        head, ``audio_proj``).

    Raises:
        ValueError: No release model has this backbone and width.
    """
    if (backbone, out_channels) not in RELEASE_MANIFESTS:
        raise ValueError(
            f'No release model has backbone {backbone!r} and {out_channels} '
            f'output channel(s); known: {sorted(RELEASE_MANIFESTS)}')
    return read_manifest(
        osp.join(MANIFEST_DIR,
                 RELEASE_MANIFESTS[(backbone, out_channels)] + '.keys.tsv'))


def read_manifest(path: str) -> 'OrderedDict[str, Shape]':
    """Read a ``name<TAB>shape`` manifest (first line ``name\tshape``).

    Args:
        path (str): The ``.keys.tsv`` file.

    Returns:
        OrderedDict[str, tuple[int, ...]]: Tensor name -> shape, in file
        order.

    Raises:
        ValueError: The file is not such a manifest (names the line).
    """
    with open(path, encoding='utf-8') as file:
        lines = file.read().splitlines()
    if not lines or lines[0] != 'name\tshape':
        raise ValueError(f'{path}: not a key manifest (first line must be '
                         '"name<TAB>shape")')
    shapes: 'OrderedDict[str, Shape]' = OrderedDict()
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        try:
            name, shape = line.split('\t')
            shapes[name] = tuple(int(n) for n in json.loads(shape))
        except ValueError as error:
            raise ValueError(f'{path}: line {number} is not '
                             f'"name<TAB>[d0, d1, ...]": {line!r}') from error
    return shapes


def _listing(keys: List[str], limit: int = 50) -> str:
    shown = ', '.join(keys[:limit])
    more = len(keys) - limit
    return f'{shown}, ... and {more} more' if more > 0 else shown


def detect_release_model(
        state_dict: Dict[str, torch.Tensor]) -> Tuple[str, int]:
    """Which release model a state dict belongs to.

    Args:
        state_dict (dict): A release checkpoint's state dict.

    Returns:
        tuple[str, int]: The backbone (``'r50'`` or ``'pvtv2-b5'``) and the
        number of classifier outputs.

    Raises:
        KeyError: Neither backbone's marker key or the classifier is found,
            or the classifier has a width no release model has.
    """
    found = [
        name for name, key in BACKBONE_MARKERS.items() if key in state_dict
    ]
    if len(found) != 1:
        raise KeyError(
            'Not an AVSegFormer release checkpoint: expected exactly one of '
            f'{list(BACKBONE_MARKERS.values())}, found {found or "none"}')
    if CLASSIFIER_KEY not in state_dict:
        raise KeyError('Not an AVSegFormer release checkpoint: missing '
                       f'{CLASSIFIER_KEY} (the classifier)')
    out_channels = int(state_dict[CLASSIFIER_KEY].shape[0])
    if (found[0], out_channels) not in RELEASE_CONFIGS:
        raise KeyError(
            'Not an AVSegFormer release checkpoint: its classifier has '
            f'{out_channels} outputs; the releases have 1 (S4, MS3) or 71 '
            '(AVSS)')
    return found[0], out_channels


def strip_module_prefix(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Remove a ``module.`` prefix that every key has (DataParallel).

    Args:
        state_dict (dict): A state dict.

    Returns:
        dict: The same tensors, without the prefix if all keys had it.
    """
    # Saved from a DataParallel wrapper: every key starts with 'module.'.
    if state_dict and all(key.startswith('module.') for key in state_dict):
        return {
            key[len('module.'):]: value
            for key, value in state_dict.items()
        }
    return state_dict


def _check_keys(state_dict: Dict[str, torch.Tensor],
                expected: 'OrderedDict[str, Shape]', model: str) -> None:
    missing = [key for key in expected if key not in state_dict]
    unexpected = sorted(key for key in state_dict if key not in expected)
    if missing or unexpected:
        raise KeyError(
            f'Not a state dict of the release\'s {model} model: '
            f'{len(missing)} missing key(s) [{_listing(missing)}], '
            f'{len(unexpected)} unexpected key(s) [{_listing(unexpected)}]')
    misshapen = [
        f'{key} {tuple(state_dict[key].shape)} != {shape}'
        for key, shape in expected.items()
        if tuple(state_dict[key].shape) != shape
    ]
    if misshapen:
        raise ValueError(f'Tensors of the wrong shape for the release\'s '
                         f'{model} model: {_listing(misshapen)}')


def _convert_pvt(
    backbone: 'OrderedDict[str, torch.Tensor]'
) -> 'OrderedDict[str, torch.Tensor]':
    """Original PVT naming -> mmdet's PyramidVisionTransformerV2 (whose
    names ``OriginalPVTv2`` of the release configs keeps)."""
    # mmdet.models imports mmcv.ops; mmavs provides what mmcv-lite lacks.
    import mmavs  # noqa: F401
    from mmdet.models.backbones.pvt import pvt_convert
    return pvt_convert(backbone)


def convert_release_state_dict(
    state_dict: Dict[str, torch.Tensor]
) -> Tuple['OrderedDict[str, torch.Tensor]', int]:
    """Convert the state dict of a release checkpoint for mmavs.

    Args:
        state_dict (dict): The release's ``AVSegFormer`` state dict (as
            ``torch.load`` returns it; a ``module.`` prefix on every key is
            removed).

    Returns:
        tuple: The mmavs state dict (an ``OrderedDict`` in a fixed order,
        every tensor a contiguous copy) and the number of tensors dropped
        because the release never uses them.

    Raises:
        KeyError: Not a release checkpoint, or keys missing or unexpected
            (named).
        ValueError: Tensors of the wrong shape (named).
    """
    stripped = strip_module_prefix(state_dict)
    if stripped is not state_dict:
        logger.info('Removed the "module." prefix of every key')
    state_dict = stripped
    backbone, out_channels = detect_release_model(state_dict)
    model = f'{backbone} ({out_channels} output channel(s))'
    expected = release_key_shapes(backbone, out_channels)
    _check_keys(state_dict, expected, model)

    dropped: Dict[str, int] = OrderedDict()
    backbone_weights = OrderedDict()
    converted = OrderedDict()
    # Walk the fixed release order, not the source's, so the output order
    # never depends on how the source was saved.
    for key in expected:
        value = state_dict[key]
        prefix = next((p for p in DROPPED_PREFIXES if key.startswith(p)), None)
        if prefix is not None:
            dropped[prefix] = dropped.get(prefix, 0) + 1
        elif key.startswith('backbone.'):
            backbone_weights[key[len('backbone.'):]] = value
        else:
            for pattern, repl in _HEAD_RULES:
                if pattern.match(key):
                    converted[pattern.sub(repl, key)] = value
                    break
            else:  # the rules cover every key of the manifests
                raise AssertionError(f'no rename rule for {key}')
    if backbone == 'pvtv2-b5':
        backbone_weights = _convert_pvt(backbone_weights)
    else:
        backbone_weights = OrderedDict(
            (re.sub(r'^layer([34])_1\.', r'layer\1.', key), value)
            for key, value in backbone_weights.items())
    result = OrderedDict(
        (f'backbone.{key}', value) for key, value in backbone_weights.items())
    result.update(converted)
    # Own storage per tensor: nothing shared with the source or between
    # tensors, so the saved file holds exactly these values.
    result = OrderedDict((key, value.detach().clone().contiguous())
                         for key, value in result.items())
    num_dropped = sum(dropped.values())
    logger.info(
        'Dropped %d tensors of modules the release builds but never uses: %s',
        num_dropped, ', '.join(f'{prefix[:-1]} ({count})'
                               for prefix, count in dropped.items()))
    return result, num_dropped


def converted_checkpoint_bytes(state_dict: Dict[str, torch.Tensor],
                               meta: dict) -> bytes:
    """Serialise ``dict(state_dict=..., meta=...)`` deterministically.

    ``torch.save`` to a file names the archive's records after the file, so
    the same tensors saved under two names differ; saved to memory, the
    records are always named ``archive`` and the bytes depend on the content
    alone.

    Args:
        state_dict (dict): The converted state dict.
        meta (dict): Plain Python values only (loadable with
            ``weights_only=True``); no timestamps or paths.

    Returns:
        bytes: The checkpoint file's content.
    """
    buffer = io.BytesIO()
    torch.save(dict(state_dict=state_dict, meta=meta), buffer)
    return buffer.getvalue()


def load_release_checkpoint(path: str,
                            unsafe_load: bool = False
                            ) -> Dict[str, torch.Tensor]:
    """Load a release checkpoint's state dict.

    Args:
        path (str): The ``.pth`` file.
        unsafe_load (bool): If the file holds more than tensors and plain
            containers, unpickle it anyway (runs code from the file; only for
            files you trust). Defaults to False.

    Returns:
        dict: The state dict (unwrapped from ``state_dict`` / ``model`` if
        the file nests it).

    Raises:
        CheckpointError: The file is missing or broken, or (without
            ``unsafe_load``) cannot be loaded with ``weights_only=True``;
            the message names the file and the problem.
    """
    from mmavs.utils.checkpoint import safe_torch_load
    checkpoint = safe_torch_load(path, unsafe_load=unsafe_load)
    for wrapper in ('state_dict', 'model'):
        if isinstance(checkpoint, dict) and isinstance(
                checkpoint.get(wrapper), dict):
            checkpoint = checkpoint[wrapper]
    return checkpoint


def main(argv: Optional[List[str]] = None) -> None:
    """Command line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description='Convert an AVSegFormer release checkpoint for mmavs')
    parser.add_argument(
        'src', help='release checkpoint, e.g. '
        'AVSegFormer_pvt2_s4.pth')
    parser.add_argument('dst', help='output mmavs checkpoint')
    parser.add_argument(
        '--unsafe-load',
        action='store_true',
        help='unpickle a source that weights_only loading refuses (only for '
        'files you trust)')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')

    state_dict = load_release_checkpoint(args.src, args.unsafe_load)
    backbone, out_channels = detect_release_model(
        strip_module_prefix(state_dict))
    converted, num_dropped = convert_release_state_dict(state_dict)
    del state_dict
    meta = dict(
        converter='avsegformer2mmavs',
        source=osp.basename(args.src),
        backbone=backbone,
        out_channels=out_channels,
        dropped_tensors=num_dropped)
    content = converted_checkpoint_bytes(converted, meta)
    dst_dir = osp.dirname(osp.abspath(args.dst))
    os.makedirs(dst_dir, exist_ok=True)
    # Write beside the target, then rename: no half-written checkpoint.
    tmp_path = f'{args.dst}.tmp'
    with open(tmp_path, 'wb') as file:
        file.write(content)
    os.replace(tmp_path, args.dst)
    configs = RELEASE_CONFIGS[(backbone, out_channels)]
    print(f'Saved {len(converted)} tensors ({backbone}, {out_channels} '
          f'output channel(s)) to {args.dst}. Matching config(s):')
    for config in configs:
        print(f'  configs/avsegformer/{config}')
    print(f'Test: python tools/test.py configs/avsegformer/{configs[0]} '
          f'{args.dst}')


if __name__ == '__main__':
    sys.exit(main())
