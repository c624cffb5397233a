# Copyright (c) mmavs contributors. All rights reserved.
"""The synthetic scene family: settings, their registry, what they write."""
import csv
import dataclasses
import hashlib
import importlib.util
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import soundfile

from mmavs.datasets import AVSBenchMS3Dataset, AVSBenchS4Dataset
from mmavs.datasets.audio import load_pickled_array
from mmavs.datasets.synthetic import (CATEGORY_SPECS, make_synthetic_avsbench,
                                      setting_categories)
from mmavs.datasets.synthetic_settings import (
    DEFAULT, HELD_OUT_SETTINGS, MAX_CATEGORIES, SETTINGS, TUNING_SETTINGS,
    SceneSetting, describe_setting, get_setting, held_out_settings,
    parse_overrides, resolve_setting, setting_from_overrides, setting_group,
    tuning_settings)
from mmavs.datasets.synthetic_sound import (AM_RATES, CHIRP_PARAMS,
                                            FM_PARAMS, HARMONIC_WEIGHTS,
                                            MIXED_ORDER, SOUND_KINDS)
from mmavs.testing._utils import REPO_ROOT

#: One VGGish example (0.96 s) at 16 kHz: the first audio segment.
SEGMENT = 15360
PIPELINE = [
    dict(type='LoadAVSFrames'),
    dict(type='LoadAVSAnnotations'),
    dict(type='LoadAVSAudio'),
    dict(type='PackAVSInputs')
]


def files_of(root):
    """Relative path -> content; a pkl's tensor as its values, since a
    pickled tensor embeds storage ids that change from run to run."""
    contents = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = osp.join(folder, name)
            with open(path, 'rb') as file:
                if name.endswith('.pkl'):
                    array = load_pickled_array(file.read(), name=path)
                    content = (array.dtype.str, array.shape, array.tobytes())
                else:
                    content = file.read()
            contents[osp.relpath(path, root)] = content
    return contents


def content_digest(root):
    """sha256 of what a reader gets: PNG pixels, wav samples, csv/json
    bytes (not JPEG pixels or log-mel floats, which depend on library
    builds, nor the encoders' bytes)."""
    sha = hashlib.sha256()
    for folder, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            path = osp.join(folder, name)
            sha.update(osp.relpath(path, root).encode())
            if name.endswith('.png'):
                image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
                sha.update(str(image.shape).encode() + image.tobytes())
            elif name.endswith('.wav'):
                sha.update(soundfile.read(path, dtype='int16')[0].tobytes())
            elif name.endswith(('.csv', '.json')):
                with open(path, 'rb') as file:
                    sha.update(file.read())
    return sha.hexdigest()


def read_csv(path):
    with open(path) as file:
        return list(csv.DictReader(file))


def s4_clips(root):
    """(row, wav samples) of the S4 train clips under ``root``."""
    rows = read_csv(osp.join(root, 's4_meta_data.csv'))
    for row in rows:
        wav, rate = soundfile.read(
            osp.join(root, 's4_data', 'audio_wav', row['split'],
                     row['category'], row['name'] + '.wav'))
        assert rate == 16000
        yield row, wav


def spectrum(samples):
    """(frequencies, magnitudes) of Hann-windowed samples at 16 kHz."""
    magnitude = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return np.fft.rfftfreq(len(samples), 1 / 16000), magnitude


def peak_near(freqs, magnitude, target, tolerance=0.03):
    """The largest magnitude within ``tolerance`` of ``target`` (relative),
    as a fraction of the spectrum's peak."""
    near = np.abs(freqs - target) <= tolerance * target
    return magnitude[near].max() / magnitude.max()


def one_object_s4(tmp_path, kind, num_clips=3):
    """S4 clips with one object of the first categories, in one kind."""
    setting = SceneSetting(sound_kind=kind, objects_per_clip=(1, 1))
    frequencies = {
        c['s4_name']: c['frequency']
        for c in setting_categories(setting)
    }
    root = make_synthetic_avsbench(
        str(tmp_path),
        tasks='s4',
        num_clips=dict(train=num_clips),
        image_size=32,
        setting=setting)['s4']
    return [(frequencies[row['category']], wav)
            for row, wav in s4_clips(root)]


def test_default_setting_writes_the_same_bits(tmp_path):
    kwargs = dict(num_clips=dict(train=3, val=1, test=1), image_size=32)
    make_synthetic_avsbench(str(tmp_path / 'none'), **kwargs)
    make_synthetic_avsbench(
        str(tmp_path / 'name'), setting='default', **kwargs)
    make_synthetic_avsbench(str(tmp_path / 'object'), setting=DEFAULT,
                            **kwargs)
    reference = files_of(tmp_path / 'none')
    # All three tasks, AVSS with its v1s and v1m clips.
    assert len(reference) > 100
    assert files_of(tmp_path / 'name') == reference
    assert files_of(tmp_path / 'object') == reference


def test_default_setting_keeps_the_original_output(tmp_path):
    """The digest of the generator as it was before settings existed (at
    commit 7540172): the demo model and many tests rely on these data, so a
    change here must be deliberate."""
    make_synthetic_avsbench(
        str(tmp_path), num_clips=dict(train=3, val=1, test=1),
        image_size=(32, 48), seed=1)
    assert content_digest(tmp_path) == (
        'b2577e913750c0558e662c11d0f0e9ef36cddc030c5825e09842e232c27ae7f7')


def test_keyword_arguments_are_setting_fields(tmp_path):
    kwargs = dict(tasks='ms3', num_clips=dict(train=2), image_size=32)
    make_synthetic_avsbench(
        str(tmp_path / 'kw'), num_categories=3, objects_per_clip=(1, 2),
        noise=0.05, **kwargs)
    setting = SceneSetting(
        num_categories=3, objects_per_clip=(1, 2), noise=0.05)
    make_synthetic_avsbench(str(tmp_path / 'set'), setting=setting, **kwargs)
    assert files_of(tmp_path / 'kw') == files_of(tmp_path / 'set')
    # Repeating a setting's value is fine; changing it is not.
    make_synthetic_avsbench(
        str(tmp_path / 'same'), setting='heldout_fm', objects_per_clip=[3, 4],
        **kwargs)
    with pytest.raises(ValueError, match='heldout_fm.*num_categories=3'):
        make_synthetic_avsbench(
            str(tmp_path / 'bad'), setting='heldout_fm', num_categories=3,
            **kwargs)
    assert resolve_setting(None, noise=0.2) == SceneSetting(noise=0.2)


@pytest.mark.parametrize('name', list(SETTINGS))
def test_every_named_setting_writes_loadable_s4_and_ms3(name, tmp_path):
    roots = make_synthetic_avsbench(
        str(tmp_path), tasks=('s4', 'ms3'), num_clips=2, image_size=32,
        setting=name)
    setting = SETTINGS[name]
    for task, dataset_class in (('s4', AVSBenchS4Dataset),
                                ('ms3', AVSBenchMS3Dataset)):
        for split in ('train', 'val', 'test'):
            dataset = dataset_class(
                data_root=roots[task], split=split, pipeline=PIPELINE)
            assert len(dataset) == 2
            for index in range(2):
                out = dataset[index]
                assert out['inputs']['frames'].shape == (5, 3, 32, 32)
                assert out['inputs']['audio'].shape == (5, 1, 96, 64)
                labelled = [
                    s.gt_sem_seg.data for s in out['data_samples'].frames
                    if s.label_flag
                ]
                assert labelled
                # The first frame always has its sounding object, on screen
                # unless a later object hides it all.
                if task == 's4' and setting.objects_per_clip[1] <= 3:
                    assert labelled[0].sum() > 0
    categories = {c['s4_name'] for c in setting_categories(setting)}
    rows = read_csv(osp.join(roots['s4'], 's4_meta_data.csv'))
    assert {row['category'] for row in rows} <= categories


def test_registry_splits_tuning_from_held_out():
    assert len(HELD_OUT_SETTINGS) >= 6 and len(TUNING_SETTINGS) >= 3
    assert set(TUNING_SETTINGS).isdisjoint(HELD_OUT_SETTINGS)
    assert SETTINGS == {**TUNING_SETTINGS, **HELD_OUT_SETTINGS}
    assert TUNING_SETTINGS['default'] is DEFAULT == SceneSetting()
    tuning, held = TUNING_SETTINGS.values(), HELD_OUT_SETTINGS.values()
    # No held-out setting shares a kind of sound with a tuning one...
    assert {s.sound_kind for s in tuning}.isdisjoint(
        s.sound_kind for s in held)
    # ... and each has more objects and more sources at a time than any.
    for field in ('objects_per_clip', 'sources_per_second'):
        assert min(getattr(s, field)[1] for s in held) > max(
            getattr(s, field)[1] for s in tuning), field
    assert {'fm', 'noise_band', 'chirp', 'mixed'} <= {
        s.sound_kind for s in held
    }
    assert any(s.pitch_spread < 0.5 for s in held)
    # Clutter is tuned on too: only its sounds and counts are held out.
    assert any(s.background == 'clutter' for s in held)
    assert any(s.background == 'clutter' for s in tuning)
    assert len(set(SETTINGS.values())) == len(SETTINGS)
    # The helpers hand out copies of the registry.
    copy = tuning_settings()
    copy.clear()
    assert TUNING_SETTINGS and held_out_settings() == HELD_OUT_SETTINGS
    for name in SETTINGS:
        assert get_setting(name) is SETTINGS[name]
        assert setting_group(name) == ('tuning' if name in TUNING_SETTINGS
                                       else 'held-out')


def test_tables_cover_every_category():
    assert len(CATEGORY_SPECS) == MAX_CATEGORIES
    for table in (HARMONIC_WEIGHTS, AM_RATES, FM_PARAMS, CHIRP_PARAMS):
        assert len(table) == MAX_CATEGORIES
    kinds = [
        c['sound']['kind']
        for c in setting_categories(SceneSetting(
            sound_kind='mixed', num_categories=8))
    ]
    assert kinds == [MIXED_ORDER[i % 6] for i in range(8)]
    assert set(kinds) == set(SOUND_KINDS)


def test_pitch_spread_squeezes_towards_the_geometric_mean():
    table = [c['frequency'] for c in setting_categories(DEFAULT)]
    assert table == [spec[4] for spec in CATEGORY_SPECS[:5]]
    close = [
        c['frequency']
        for c in setting_categories(SceneSetting(pitch_spread=0.3))
    ]
    np.testing.assert_allclose(
        np.exp(np.log(close).mean()), np.exp(np.log(table).mean()))
    np.testing.assert_allclose(
        max(close) / min(close), (max(table) / min(table))**0.3)
    assert np.argsort(close).tolist() == np.argsort(table).tolist()
    same = setting_categories(SceneSetting(pitch_spread=0.0))
    np.testing.assert_allclose([c['frequency'] for c in same],
                               same[0]['frequency'])


@pytest.mark.parametrize('kind', ['tone', 'harmonic', 'am', 'fm',
                                  'noise_band'])
def test_sound_peaks_at_the_category_frequency(kind, tmp_path):
    clips = one_object_s4(tmp_path, kind)
    for frequency, wav in clips:
        freqs, magnitude = spectrum(wav[:SEGMENT])
        power = magnitude**2
        # 2% jitter per object, up to 5% FM deviation, a 1/3 octave band.
        assert abs(freqs[magnitude.argmax()] / frequency - 1) < 0.13
        partials = [1] + ([2, 3, 4] if kind == 'harmonic' else [])
        near = np.zeros(len(freqs), bool)
        for k in partials:
            near |= np.abs(freqs / (k * frequency) - 1) < 0.15
        assert power[near].sum() > 0.8 * power.sum()
        overtones = [
            peak_near(freqs, magnitude, k * frequency) for k in (2, 3)
            if k * frequency < 7500
        ]
        if kind == 'harmonic':
            assert overtones and min(overtones) > 0.15
        else:
            assert max(overtones, default=0) < 0.05
        # How much of the energy one narrow line holds tells the kinds
        # apart: all for a tone, less with overtones or sidebands, little
        # for spread sounds.
        line = np.abs(freqs - freqs[magnitude.argmax()]) <= 3
        share = power[line].sum() / power.sum()
        low, high = dict(
            tone=(0.95, 1),
            harmonic=(0.4, 0.9),
            am=(0.5, 0.9),
            fm=(0, 0.6),
            noise_band=(0, 0.3))[kind]
        assert low <= share <= high, share
    if kind == 'am':
        # Clip 0 is category 0: sidebands at its modulation rate.
        freqs, magnitude = spectrum(clips[0][1][:SEGMENT])
        carrier = freqs[magnitude.argmax()]
        for side in (carrier - AM_RATES[0], carrier + AM_RATES[0]):
            assert magnitude[np.abs(freqs - side) <= 1.5].max() > \
                0.2 * magnitude.max()


def test_chirp_sweeps_around_the_category_frequency(tmp_path):
    for frequency, wav in one_object_s4(tmp_path, 'chirp'):
        dominant = []
        for start in range(0, SEGMENT - 1024, 512):
            freqs, magnitude = spectrum(wav[start:start + 1024])
            dominant.append(freqs[magnitude.argmax()])
        low, high = min(dominant), max(dominant)
        assert high / low > 1.3
        assert abs(np.sqrt(low * high) / frequency - 1) < 0.12


def test_all_sources_sound_at_once(tmp_path):
    setting = SceneSetting(
        objects_per_clip=(3, 3), sources_per_second=(3, 3))
    categories = setting_categories(setting)
    root = make_synthetic_avsbench(
        str(tmp_path), tasks='ms3', num_clips=dict(train=2), image_size=64,
        setting=setting)['ms3']
    for row in read_csv(osp.join(root, 'ms3_meta_data.csv')):
        name = row['video_id']
        wav, _ = soundfile.read(
            osp.join(root, 'ms3_data', 'audio_wav', 'train', name + '.wav'))
        for t in range(5):
            frame = cv2.imread(
                osp.join(root, 'ms3_data', 'visual_frames', name,
                         f'{name}.mp4_{t + 1}.png')).astype(int)
            mask = cv2.imread(
                osp.join(root, 'ms3_data', 'gt_masks', 'train', name,
                         f'{name}_{t + 1}.png'), cv2.IMREAD_UNCHANGED)
            on_screen, labelled = set(), set()
            for index, category in enumerate(categories):
                close = np.abs(frame - category['color']).max(axis=2) < 25
                if close.sum() > 10:
                    on_screen.add(index)
                if (close & (mask > 0)).sum() > 10:
                    labelled.add(index)
                # No pixel of an object is left out of the mask.
                assert (close & (mask == 0)).sum() <= 2
            assert len(on_screen) == 3 and labelled == on_screen
            freqs, magnitude = spectrum(wav[t * SEGMENT:(t + 1) * SEGMENT])
            for index in on_screen:
                assert peak_near(freqs, magnitude,
                                 categories[index]['frequency']) > 0.2


def test_clutter_is_never_labelled_and_never_sounds(tmp_path):
    # 'texture' and 'clutter' draw the same clip but the distractors.
    kwargs = dict(tasks=('s4', 'ms3'), num_clips=2, image_size=48, seed=4)
    make_synthetic_avsbench(
        str(tmp_path / 'texture'),
        setting=SceneSetting(background='texture'),
        **kwargs)
    make_synthetic_avsbench(
        str(tmp_path / 'clutter'),
        setting=SceneSetting(background='clutter'),
        **kwargs)
    texture, clutter = (files_of(tmp_path / 'texture'),
                        files_of(tmp_path / 'clutter'))
    assert texture.keys() == clutter.keys()
    changed_frames = 0
    for path, content in texture.items():
        if 'visual_frames' not in path:
            # Masks, audio, log-mel and csv are the very same.
            assert clutter[path] == content, path
            continue
        before = cv2.imdecode(np.frombuffer(content, np.uint8), 1)
        after = cv2.imdecode(np.frombuffer(clutter[path], np.uint8), 1)
        changed = np.abs(before.astype(int) - after).max(axis=2) > 0
        changed_frames += bool(changed.any())
        stem = osp.splitext(osp.basename(path))[0].replace('.mp4', '')
        masks = [
            p for p in texture
            if 'gt_masks' in p and osp.basename(p) == stem + '.png'
        ]
        for mask_path in masks:
            mask = cv2.imdecode(np.frombuffer(texture[mask_path], np.uint8),
                                cv2.IMREAD_UNCHANGED)
            assert not (changed & (mask > 0)).any(), path
    assert changed_frames >= len([p for p in texture if 'visual' in p]) // 2


@pytest.mark.parametrize('field, value', [
    ('sound_kind', 'square'),
    ('pitch_spread', 1.5),
    ('pitch_spread', float('nan')),
    ('num_categories', 0),
    ('num_categories', 2.5),
    ('num_categories', True),
    ('objects_per_clip', (3, 2)),
    ('objects_per_clip', (1, 2, 3)),
    ('objects_per_clip', '2,3'),
    ('sources_per_second', (0, 2)),
    ('sources_per_second', (1, 9)),
    ('object_scale', (0.2, 0.1)),
    ('motion', -0.01),
    ('loudness_db', (-30.0, 0.0)),
    ('noise', 1.0),
    ('background', 'stripes'),
])
def test_bad_fields_are_named(field, value):
    with pytest.raises(ValueError, match=f'SceneSetting.{field} must be'):
        SceneSetting(**{field: value})


def test_overrides_parse_like_the_fields():
    setting = setting_from_overrides(
        'heldout_fm',
        dict(
            sources_per_second='3',
            objects_per_clip='(3, 5)',
            object_scale='0.1 0.2',
            pitch_spread='0.5',
            num_categories='6',
            background='clutter',
            loudness_db=[-6, 0]))
    assert setting == dataclasses.replace(
        HELD_OUT_SETTINGS['heldout_fm'],
        sources_per_second=(3, 3),
        objects_per_clip=(3, 5),
        object_scale=(0.1, 0.2),
        pitch_spread=0.5,
        num_categories=6,
        background='clutter',
        loudness_db=(-6.0, 0.0))
    assert isinstance(setting.loudness_db[0], float)
    assert setting_from_overrides(None, {}) == DEFAULT
    assert get_setting(dict(noise='0.2')) == SceneSetting(noise=0.2)
    assert parse_overrides(['motion=0.05', 'sound_kind = fm']) == dict(
        motion='0.05', sound_kind=' fm')
    # describe_setting writes what --set reads back.
    for setting in SETTINGS.values():
        words = describe_setting(setting).split()
        if setting != DEFAULT:
            assert setting_from_overrides(
                None, parse_overrides(words)) == setting
    with pytest.raises(ValueError, match='Unknown SceneSetting fields'):
        setting_from_overrides(None, dict(colour='red'))
    with pytest.raises(ValueError, match='SceneSetting.motion: cannot read'):
        setting_from_overrides(None, dict(motion='fast'))
    with pytest.raises(ValueError, match='key=value'):
        parse_overrides(['motion'])
    with pytest.raises(ValueError, match='Unknown synthetic setting'):
        get_setting('heldout_everything')


def load_cli():
    path = osp.join(REPO_ROOT, 'tools', 'dataset_converters',
                    'make_synthetic_avsbench.py')
    spec = importlib.util.spec_from_file_location('make_synthetic_cli', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_settings(tmp_path, capsys):
    cli = load_cli()
    assert cli.main(['--list-settings']) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in listed] == [
        [name, setting_group(name)] for name in SETTINGS
    ]
    assert cli.main(['--setting', 'list']) == 0
    assert capsys.readouterr().out.splitlines() == listed
    assert cli.main([
        str(tmp_path / 'a'), '--tasks', 'ms3', '--num-train', '1',
        '--num-val', '0', '--num-test', '0', '--image-size', '32',
        '--setting', 'heldout_chirp', '--set', 'sources_per_second=3'
    ]) == 0
    make_synthetic_avsbench(
        str(tmp_path / 'b'), tasks='ms3', num_clips=dict(train=1),
        image_size=32, setting=setting_from_overrides(
            'heldout_chirp', dict(sources_per_second=(3, 3))))
    assert files_of(tmp_path / 'a') == files_of(tmp_path / 'b')
    with pytest.raises(SystemExit, match='num_categories=3'):
        cli.main([
            str(tmp_path / 'c'), '--setting', 'heldout_fm',
            '--num-categories', '3'
        ])
    with pytest.raises(SystemExit, match='SceneSetting.noise'):
        cli.main([str(tmp_path / 'c'), '--set', 'noise=2'])


def test_docs_list_every_setting():
    """docs/design.md's tables: every field, every setting as it is."""
    with open(osp.join(REPO_ROOT, 'docs', 'design.md')) as file:
        text = file.read()
    for field in dataclasses.fields(SceneSetting):
        assert f'| `{field.name}` |' in text, field.name
    for name, setting in SETTINGS.items():
        changes = describe_setting(setting)
        if setting != DEFAULT:
            changes = f'`{changes}`'
        row = f'| `{name}` | {setting_group(name)} | {changes} |'
        assert row in text, row
