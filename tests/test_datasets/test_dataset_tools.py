# Copyright (c) mmavs contributors. All rights reserved.
"""tools/dataset_converters: the synthetic data CLI and the checker."""
import csv
import importlib.util
import os
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest
import torch

from mmavs.datasets import AVSBenchS4Dataset, AVSBenchSemanticDataset

TOOLS = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'dataset_converters')


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def checker():
    return load_tool('avsbench_check')


def test_make_synthetic_cli(tmp_path, capsys):
    tool = load_tool('make_synthetic_avsbench')
    code = tool.main([
        str(tmp_path), '--tasks', 'ms3', '--num-train', '2', '--num-val', '1',
        '--num-test', '1', '--image-size', '40', '56', '--seed', '1'
    ])
    assert code == 0
    out = capsys.readouterr().out
    assert f'ms3: {tmp_path / "Multi-sources"}' in out
    with open(tmp_path / 'Multi-sources' / 'ms3_meta_data.csv') as file:
        rows = list(csv.DictReader(file))
    assert [r['split'] for r in rows] == ['train', 'train', 'val', 'test']
    name = rows[0]['video_id']
    frame = cv2.imread(
        str(tmp_path / 'Multi-sources' / 'ms3_data' / 'visual_frames' / name /
            f'{name}.mp4_3.png'))
    assert frame.shape == (40, 56, 3)


def test_checker_passes_clean_data(checker, task_root, capsys):
    for task in ('s4', 'ms3', 'avss'):
        code = checker.main([
            task_root(task), '--task', task, '--audio', 'all', '--no-progress'
        ])
        out = capsys.readouterr().out
        assert code == 0, out
        assert 'no problems found' in out


def test_checker_lists_every_broken_s4_file(checker, writable_task, capsys):
    root = writable_task('s4')
    val = AVSBenchS4Dataset(data_root=root, split='val')
    first, second = val.get_data_info(0), val.get_data_info(1)
    wav_info = AVSBenchS4Dataset(
        data_root=root, split='val', audio_source='wav').get_data_info(1)
    broken = {}

    os.remove(first['frame_paths'][1])
    broken[first['frame_paths'][1]] = 'frame 2/5 of clip'
    with open(first['frame_paths'][2], 'wb') as file:
        file.write(b'\x89PNG broken')
    broken[first['frame_paths'][2]] = 'cannot be decoded'
    os.remove(first['seg_map_paths'][3])
    broken[first['seg_map_paths'][3]] = 'mask of frame 4/5'
    cv2.imwrite(second['seg_map_paths'][0], np.zeros((30, 30), np.uint8))
    broken[second['seg_map_paths'][0]] = 'mask is 30x30 but its frame'
    with open(second['audio_path'], 'wb') as file:
        pickle.dump(torch.zeros(5, 1, 96, 32), file)
    broken[second['audio_path']] = 'found [5, 1, 96, 32]'
    open(wav_info['audio_path'], 'wb').close()
    broken[wav_info['audio_path']] = 'zero-length'

    code = checker.main(
        [root, '--task', 's4', '--audio', 'all', '--no-progress'])
    out = capsys.readouterr().out
    assert code == 1
    assert f'{len(broken)} problem(s):' in out
    assert 'val: 3 clips, 36 files, 6 problems' in out
    lines = out.splitlines()
    for path, problem in broken.items():
        assert any(path in line and problem in line
                   for line in lines), (path, problem, out)


def test_checker_avss_colours_and_empty_split(checker, writable_task, capsys):
    root = writable_task('avss')
    info = AVSBenchSemanticDataset(
        data_root=root, split='train', subsets=['v2']).get_data_info(0)
    mask_path = info['seg_map_paths'][6]
    mask = cv2.imread(mask_path)
    mask[0, 0] = (1, 2, 3)
    cv2.imwrite(mask_path, mask)
    csv_path = osp.join(root, 'metadata.csv')
    with open(csv_path) as file:
        rows = list(csv.DictReader(file))
    with open(csv_path, 'w', newline='') as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if r['split'] != 'test')
    code = checker.main([root, '--task', 'avss', '--no-progress'])
    out = capsys.readouterr().out
    assert code == 1
    assert f'{mask_path}: 1 pixels have colours that are not in the ' \
        'palette' in out
    assert '(3, 2, 1) x 1' in out  # RGB of the BGR (1, 2, 3) written
    assert f'{csv_path}: split "test" has no samples' in out
    assert 'test: 0 clips' in out


def test_checker_warns_then_fails_in_strict_mode(checker, writable_task,
                                                 capsys, monkeypatch):
    """Usable but suspicious files are listed as warnings (exit 0);
    --strict makes them problems (exit 1); a reader that breaks is a
    problem naming the file, not a traceback."""
    root = writable_task('s4')
    info = AVSBenchS4Dataset(
        data_root=root, split='test', audio_source='wav').get_data_info(0)
    mask = cv2.imread(info['seg_map_paths'][0], cv2.IMREAD_GRAYSCALE)
    mask[0, :4] = 100  # anti-aliased edge pixels
    cv2.imwrite(info['seg_map_paths'][0], mask)
    import soundfile
    soundfile.write(info['audio_path'], 0.1 * np.ones(int(2.5 * 16000)),
                    16000)
    args = [root, '--task', 's4', '--split', 'test', '--audio', 'wav',
            '--no-progress']
    code = checker.main(args)
    out = capsys.readouterr().out
    assert code == 0, out
    assert '2 warning(s)' in out
    assert f'{info["seg_map_paths"][0]}: the mask has 3 grey levels' in out
    assert f'{info["audio_path"]}: the sound lasts 2.50 s' in out
    assert 'no problems found' in out

    code = checker.main(args + ['--strict'])
    out = capsys.readouterr().out
    assert code == 1
    assert '2 problem(s):' in out and 'strict mode' in out

    def broken_reader(path, *args, **kwargs):
        raise RuntimeError('decoder bug')

    # The checker loads through the data sets' transforms, and names each
    # file the broken reader fails on.
    from mmavs.datasets.transforms import loading
    monkeypatch.setattr(loading, 'read_frame', broken_reader)
    code = checker.main(args)
    out = capsys.readouterr().out
    assert code == 1
    for path in info['frame_paths']:
        assert (f'{path}: unexpected RuntimeError while LoadAVSFrames read '
                'it: decoder bug') in out
