# Copyright (c) mmavs contributors. All rights reserved.
"""Write ``model-index.yml`` and each config folder's ``metafile.yaml``.

The model index is how OpenMMLab tools find models by name: ``mim search
mmavs``, ``AVSInferencer.list_models('mmavs')`` and
``AVSInferencer('<name>')``. Everything but the published numbers is read
from the configs themselves (task, data set, input size, batch, epochs,
backbones, head), so the index cannot drift from them; the published
numbers (paper, AVSBench release, AVSegFormer release README) are the
table below. A test regenerates the files and compares.

    python tools/misc/update_model_index.py [--check]
"""
import argparse
import os
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

AVSEGFORMER_PAPER = OrderedDict(
    Title='AVSegFormer: Audio-Visual Segmentation with Transformer',
    URL='https://arxiv.org/abs/2307.01146')
AVSBENCH_PAPER = OrderedDict(
    Title='Audio-Visual Segmentation', URL='https://arxiv.org/abs/2207.05042')
COLLECTIONS = OrderedDict([
    ('avsegformer',
     OrderedDict(
         Name='AVSegFormer',
         License='Apache License 2.0',
         Paper=AVSEGFORMER_PAPER,
         Code=OrderedDict(URL='https://github.com/vvvb-github/AVSegFormer'),
         README='configs/avsegformer/README.md',
         Frameworks=['PyTorch'])),
    ('avsbench',
     OrderedDict(
         Name='AVSBench-TPAVI',
         License='Apache License 2.0',
         Paper=AVSBENCH_PAPER,
         Code=OrderedDict(URL='https://github.com/OpenNLPLab/AVSBench'),
         README='configs/avsbench/README.md',
         Frameworks=['PyTorch'])),
    ('mixing',
     OrderedDict(
         Name='AVS-Mixing',
         License='Apache License 2.0',
         Paper=AVSBENCH_PAPER,
         README='configs/avsbench/README.md',
         Frameworks=['PyTorch'])),
    ('demo',
     OrderedDict(
         Name='AVS-Demo',
         License='Apache License 2.0',
         Paper=AVSEGFORMER_PAPER,
         README='README.md',
         Frameworks=['PyTorch'])),
])

# Published test-set results: config -> (mIoU, F, source). mIoU / F are
# M_J / M_F for S4 and MS3.
PAPER = 'AVSegFormer paper, Table 1'
ABLATION = 'AVSegFormer paper, Table 2'
RELEASE = 'AVSegFormer release README'
AVSBENCH = 'AVSBench release (ECCV 2022; AVSS: AVSBench-semantic)'
_S4, _MS3 = '1xb4-30e_avsbench-s4-224x224', '1xb4-60e_avsbench-ms3-224x224'
PUBLISHED: Dict[str, Tuple[float, float, str]] = {
    f'avsegformer_r50_{_S4}': (76.45, 85.9, PAPER),
    f'avsegformer_r50_{_MS3}': (49.53, 62.8, PAPER),
    'avsegformer_r50_1xb4-30e_avsbench-avss-224x224': (24.93, 29.3, PAPER),
    f'avsegformer_pvtv2-b5_{_S4}': (82.06, 89.9, PAPER),
    f'avsegformer_pvtv2-b5_{_MS3}': (58.36, 69.3, PAPER),
    'avsegformer_pvtv2-b5_1xb4-30e_avsbench-avss-224x224':
    (36.66, 42.0, PAPER),
    'avsegformer-release_r50_1xb2-30e_avsbench-s4-512x512':
    (76.38, 86.7, RELEASE),
    'avsegformer-release_r50_1xb2-60e_avsbench-ms3-512x512':
    (53.81, 65.6, RELEASE),
    'avsegformer-release_r50_1xb4-30e_avsbench-avss-224x224': (26.58, 31.5,
                                                               RELEASE),
    'avsegformer-release_pvtv2-b5_1xb2-30e_avsbench-s4-512x512': (83.06, 90.5,
                                                                  RELEASE),
    'avsegformer-release_pvtv2-b5_1xb2-60e_avsbench-ms3-512x512': (61.33, 73.0,
                                                                   RELEASE),
    'avsegformer-release_pvtv2-b5_1xb4-30e_avsbench-avss-224x224':
    (37.31, 42.8, RELEASE),
    'avsbench-tpavi_r50_1xb4-15e_avsbench-s4-224x224': (72.79, 84.8, AVSBENCH),
    'avsbench-tpavi_r50_1xb4-30e_avsbench-ms3-224x224': (47.88, 57.8,
                                                         AVSBENCH),
    'avsbench-tpavi_r50_1xb4-60e_avsbench-avss-224x224': (20.18, 25.2,
                                                          AVSBENCH),
    'avsbench-tpavi_pvtv2-b5_1xb4-15e_avsbench-s4-224x224': (78.74, 87.9,
                                                             AVSBENCH),
    'avsbench-tpavi_pvtv2-b5_1xb4-30e_avsbench-ms3-224x224': (54.00, 64.5,
                                                              AVSBENCH),
    'avsbench-tpavi_pvtv2-b5_1xb4-60e_avsbench-avss-224x224': (29.77, 35.2,
                                                               AVSBENCH),
}
for _variant, _s4, _ms3 in (('q1', (81.1, 88.6), (57.1, 67.7)),
                            ('q100', (81.4, 88.9), (57.5, 68.2)),
                            ('q200', (81.9, 89.6), (58.0, 68.4)),
                            ('nolq', (81.8, 89.6), (57.2, 67.9)),
                            ('nomixer', (81.4, 89.0),
                             (57.4, 67.9)), ('cra', (81.7, 89.7), (57.8,
                                                                   68.2)),
                            ('nointer', (81.1, 88.4),
                             (57.3, 68.3)), ('ar', (81.7, 89.6), (57.9,
                                                                  68.8))):
    PUBLISHED[f'avsegformer-{_variant}_pvtv2-b5_{_S4}'] = _s4 + (ABLATION, )
    PUBLISHED[f'avsegformer-{_variant}_pvtv2-b5_{_MS3}'] = _ms3 + (ABLATION, )

# The public AVSegFormer checkpoint each release config loads once it is
# converted (tools/model_converters/avsegformer2mmavs.py).
RELEASE_CHECKPOINTS = {
    'avsegformer-release_r50_1xb2-30e_avsbench-s4-512x512':
    'AVSegFormer_res50_s4.pth',
    'avsegformer-release_r50_1xb2-60e_avsbench-ms3-512x512':
    'AVSegFormer_res50_ms3.pth',
    'avsegformer-release_r50_1xb4-30e_avsbench-avss-224x224':
    'AVSegFormer_res50_avss.pth',
    'avsegformer-release_pvtv2-b5_1xb2-30e_avsbench-s4-512x512':
    'AVSegFormer_pvt2_s4.pth',
    'avsegformer-release_pvtv2-b5_1xb2-60e_avsbench-ms3-512x512':
    'AVSegFormer_pvt2_ms3.pth',
    'avsegformer-release_pvtv2-b5_1xb4-30e_avsbench-avss-224x224':
    'AVSegFormer_pvt2_avss.pth',
}
DATASET_NAMES = dict(
    s4='AVSBench-S4', ms3='AVSBench-MS3', avss='AVSBench-semantic')


def shipped_configs() -> List[str]:
    """Every config users run: ``configs/<folder>/<name>.py``, no bases."""
    found = []
    for folder in sorted(os.listdir(osp.join(REPO_ROOT, 'configs'))):
        path = osp.join(REPO_ROOT, 'configs', folder)
        if folder == '_base_' or not osp.isdir(path):
            continue
        found += [
            f'configs/{folder}/{name}' for name in sorted(os.listdir(path))
            if name.endswith('.py')
        ]
    return found


def _type_name(cfg: Optional[dict]) -> Optional[str]:
    if not cfg:
        return None
    value = cfg.get('type')
    return value if isinstance(value, str) else getattr(
        value, '__name__', str(value))


def _input_size(cfg) -> Optional[str]:
    """``HxW`` of the test pipeline's resize (or crop), if fixed."""
    for transform in cfg.test_dataloader.dataset.get('pipeline', []):
        for inner in transform.get('transforms', [transform]):
            scale = inner.get('scale') or inner.get('crop_size')
            if isinstance(scale, int):
                return f'{scale}x{scale}'
            if scale is not None and len(scale) == 2:
                # mmcv scales are (w, h).
                return f'{scale[1]}x{scale[0]}'
    return None


def model_entry(config: str) -> OrderedDict:
    """The metafile entry of one config, read from the config."""
    from mmengine.config import Config

    from mmavs.datasets import avs_dataset_class
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    name = osp.splitext(osp.basename(config))[0]
    folder = config.split('/')[1]
    task = avs_dataset_class(cfg.test_dataloader.dataset).TASK
    dataset = DATASET_NAMES[task]
    if folder == 'demo':
        dataset = f'synthetic {dataset}'
    model = cfg.model
    architecture = [
        part for part in (_type_name(model.get('backbone')),
                          _type_name(model.get('audio_backbone')),
                          _type_name(model.get('neck')),
                          _type_name(model.get('decode_head'))) if part
    ]
    metadata = OrderedDict([
        ('Task', task.upper()),
        ('Training Data', dataset),
        ('Batch Size', int(cfg.train_dataloader.batch_size)),
        ('Epochs', int(cfg.train_cfg.max_epochs)),
        ('Input Size', _input_size(cfg)),
        ('Architecture', architecture),
    ])
    entry = OrderedDict([('Name', name),
                         ('In Collection', COLLECTIONS[folder]['Name']),
                         ('Config', config), ('Metadata', metadata)])
    if name in PUBLISHED:
        miou, fscore, source = PUBLISHED[name]
        metrics = OrderedDict(mIoU=miou, F=fscore) if task == 'avss' else \
            OrderedDict(M_J=miou, M_F=fscore)
        entry['Results'] = [
            OrderedDict([('Task', 'Audio-Visual Semantic Segmentation'
                          if task == 'avss' else 'Audio-Visual Segmentation'),
                         ('Dataset', dataset), ('Metrics', metrics),
                         ('Source', source)])
        ]
    if name in RELEASE_CHECKPOINTS:
        entry['Converted From'] = OrderedDict(
            Weights=RELEASE_CHECKPOINTS[name],
            Code='https://github.com/vvvb-github/AVSegFormer',
            Conversion='python tools/model_converters/avsegformer2mmavs.py '
            f'{RELEASE_CHECKPOINTS[name]} '
            f'checkpoints/{name}.pth')
    # No mmavs-trained weights are published yet; an entry gains a
    # 'Weights' URL when one is.
    return entry


def _dump(data) -> str:
    """Block-style YAML, keys in insertion order."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(
        OrderedDict,
        lambda dumper, value: dumper.represent_dict(value.items()))
    return yaml.dump(
        data,
        Dumper=Dumper,
        sort_keys=False,
        width=79,
        default_flow_style=False)


def generate() -> Dict[str, str]:
    """File path (relative to the repo) -> content."""
    by_folder: Dict[str, List[str]] = OrderedDict()
    for config in shipped_configs():
        by_folder.setdefault(config.split('/')[1], []).append(config)
    files = OrderedDict()
    header = ('# Generated by tools/misc/update_model_index.py from the '
              'configs;\n# edit the configs or the table of published '
              'numbers there.\n')
    for folder, configs in by_folder.items():
        if folder not in COLLECTIONS:
            raise ValueError(f'configs/{folder}: no entry in COLLECTIONS of '
                             f'{osp.relpath(__file__, REPO_ROOT)}; add one '
                             'for the new folder')
        files[f'configs/{folder}/metafile.yaml'] = header + _dump(
            OrderedDict(
                Collections=[COLLECTIONS[folder]],
                Models=[model_entry(config) for config in configs]))
    files['model-index.yml'] = header + _dump(
        OrderedDict(Import=[path for path in files]))
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--check',
        action='store_true',
        help='only compare; exit 1 when a file is out of date')
    args = parser.parse_args(argv)
    sys.path.insert(0, REPO_ROOT)
    stale = []
    for path, content in generate().items():
        full = osp.join(REPO_ROOT, path)
        old = open(full, encoding='utf-8').read() if osp.isfile(full) else None
        if old == content:
            continue
        stale.append(path)
        if not args.check:
            with open(full, 'w', encoding='utf-8') as file:
                file.write(content)
    verb = 'out of date' if args.check else 'written'
    print(f'{len(stale)} file(s) {verb}' +
          (': ' + ', '.join(stale) if stale else ''))
    return 1 if args.check and stale else 0


if __name__ == '__main__':
    sys.exit(main())
