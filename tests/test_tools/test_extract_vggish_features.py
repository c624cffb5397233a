# Copyright (c) mmavs contributors. All rights reserved.
import os.path as osp
import subprocess
import sys

import torch
from mmseg.registry import DATASETS

from mmavs.datasets.synthetic import make_synthetic_avsbench
from mmavs.models import VGGish
from mmavs.testing._utils import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'dataset_converters',
                  'extract_vggish_features.py')


def test_features_are_vggish_of_the_log_mel(tmp_path):
    root = make_synthetic_avsbench(
        str(tmp_path / 'data'), tasks='s4',
        num_clips=dict(train=2, val=1, test=1), image_size=32)['s4']
    torch.manual_seed(0)
    vggish = VGGish()
    checkpoint = str(tmp_path / 'vggish.pth')
    torch.save(dict(state_dict=vggish.state_dict()), checkpoint)
    subprocess.run([sys.executable, SCRIPT, root, '--task', 's4',
                    '--checkpoint', checkpoint], check=True,
                   capture_output=True, cwd=REPO_ROOT)
    pipeline = [dict(type='LoadAVSAudio')]
    features = DATASETS.build(dict(type='AVSBenchS4Dataset', data_root=root,
                                   split='train', audio_source='feature',
                                   pipeline=pipeline))
    log_mel = DATASETS.build(dict(type='AVSBenchS4Dataset', data_root=root,
                                  split='train', pipeline=pipeline))
    assert len(features) == 2
    feats = torch.from_numpy(features[1]['audio'])
    assert feats.shape == (5, 128)
    expected = vggish(torch.from_numpy(log_mel[1]['audio']).float())
    torch.testing.assert_close(feats, expected, rtol=1e-5, atol=1e-6)
    # The model passes them through: no VGGish at train time.
    assert vggish(feats) is feats
