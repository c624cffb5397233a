# Copyright (c) mmavs contributors. All rights reserved.
"""A small synthetic AVSBench, written in the exact released layouts.

Every clip shows 2-3 objects of different categories moving slightly on a
textured background. Each category has a fixed look (shape and colour) and a
fixed sound (a pure tone at a well separated frequency). Only the objects
that sound at frame ``t`` are labelled in its mask, and the audio that
VGGish example ``t`` covers (0.96 s) is the sum of their tones plus a little
noise, so the picture alone cannot tell which object to segment: a model has
to use the audio. Evaluating with the audio of another clip therefore breaks
a model that learned the task. The sounding category of clip ``i`` cycles
through the categories, so every look sounds equally often.

Per sub-task (``T`` frames, one per second):

- S4: one sounding object for the whole clip; the csv ``category`` and the
  folder are its S4 category name. Train clips have the mask of frame 1
  only, val/test all 5.
- MS3: 1-2 sounding objects per second; the set may change over the clip.
- AVSS: mostly ``v2`` clips (10 s, 1-2 sounding objects per second, all 10
  frames labelled) and a few ``v1s`` (5 s, one sounding object, train: mask
  of frame 1 only) and ``v1m`` (5 s, like MS3) clips, so the padding rules
  are exercised. Masks are colour PNGs in the AVSS palette, class ids taken
  from real AVSS class names.

Files: frames PNG (S4/MS3) or JPG (AVSS), binary masks as 0/255 single
channel PNGs, 16 kHz mono int16 wavs, the S4/MS3 log-mel ``.pkl`` (a pickled
float32 torch tensor [5, 1, 96, 64] computed by
:func:`mmavs.datasets.audio.waveform_to_log_mel_examples` from the int16 wav,
so it equals what loading the wav gives) and the metadata csv; AVSS also
gets ``label2idx.json``.

All of the above is the default :class:`~.synthetic_settings.SceneSetting`
(the very bits of the generator before settings existed); other settings
change the sounds, pitches, counts, sizes, motion, loudness, noise and
background (:mod:`.synthetic_settings` names tuning and held-out ones).

The output is a deterministic function of the arguments: each clip draws
from its own random generator seeded by (seed, task, split, clip index).
"""
import csv
import os
import os.path as osp
import pickle
from functools import partial
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmengine.fileio import dump

from .audio import SAMPLE_RATE, waveform_to_log_mel_examples
from .avsbench import (AVSBenchMS3Dataset, AVSBenchS4Dataset,
                       AVSBenchSemanticDataset)
from .metainfo import AVSS_CLASSES, AVSS_PALETTE
from .synthetic_settings import SceneSetting, get_setting, resolve_setting
from .synthetic_sound import (category_sound, squeeze_frequencies,
                              synthesise_audio)

#: (S4 category, AVSS class, shape, BGR colour, tone in Hz). The first
#: entries are the most distinct, in look and in mel band, so small
#: ``num_categories`` stay easy to tell apart.
CATEGORY_SPECS = (
    ('dog_barking', 'dog', 'disk', (40, 40, 220), 300.0),
    ('playing_piano', 'piano', 'square', (60, 190, 60), 2000.0),
    ('playing_acoustic_guitar', 'guitar', 'triangle', (220, 100, 30), 800.0),
    ('driving_buses', 'car', 'diamond', (30, 215, 235), 4700.0),
    ('playing_violin', 'violin', 'cross', (200, 50, 200), 1300.0),
    ('helicopter', 'helicopter', 'ellipse', (215, 215, 50), 3100.0),
    ('cat_meowing', 'cat', 'hexagon', (20, 130, 250), 500.0),
    ('playing_ukulele', 'ukulele', 'inverted_triangle', (245, 245, 245),
     6800.0),
)

#: Folder names of the three sub-tasks inside ``out_dir``.
TASK_FOLDERS = dict(s4='Single-source', ms3='Multi-sources', avss='AVSS')
_TASK_IDS = dict(s4=0, ms3=1, avss=2)
_SPLIT_IDS = dict(train=0, val=1, test=2)


def synthetic_categories(num_categories: int = 5) -> List[dict]:
    """The categories the generator uses.

    Args:
        num_categories (int): How many (1 to 8).

    Returns:
        list[dict]: Per category: ``s4_name``, ``avss_name``, ``avss_index``,
        ``shape``, ``color`` (BGR) and ``frequency`` (Hz).
    """
    if not 1 <= num_categories <= len(CATEGORY_SPECS):
        raise ValueError(f'num_categories must be in 1..{len(CATEGORY_SPECS)}'
                         f', got {num_categories}')
    keys = ('s4_name', 'avss_name', 'shape', 'color', 'frequency')
    categories = [dict(zip(keys, spec)) for spec in CATEGORY_SPECS]
    for category in categories:
        category['avss_index'] = AVSS_CLASSES.index(category['avss_name'])
    return categories[:num_categories]


def setting_categories(setting: Union[None, str, SceneSetting] = None
                       ) -> List[dict]:
    """The categories of a setting, with their sounds.

    Args:
        setting (None | str | SceneSetting): What
            :func:`~.synthetic_settings.get_setting` accepts; ``None`` is the
            default setting.

    Returns:
        list[dict]: :func:`synthetic_categories` of the setting's
        ``num_categories``, with ``frequency`` squeezed by its
        ``pitch_spread`` and ``sound`` (a
        :func:`~.synthetic_sound.category_sound` of its ``sound_kind``).
    """
    setting = get_setting(setting)
    categories = synthetic_categories(setting.num_categories)
    frequencies = squeeze_frequencies([c['frequency'] for c in categories],
                                      setting.pitch_spread)
    for index, (category, freq) in enumerate(zip(categories, frequencies)):
        category['frequency'] = freq
        category['sound'] = category_sound(index, setting.sound_kind)
    return categories


#: cv2 drawing in fixed point: coordinates in 1/16 pixel.
_SHIFT = 4
_ONE = 1 << _SHIFT


def _fixed(x: float, y: float) -> Tuple[int, int]:
    return int(round(x * _ONE)), int(round(y * _ONE))


def _shape_polygon(shape: str, cx: float, cy: float, r: float) -> np.ndarray:
    if shape in ('triangle', 'inverted_triangle'):
        sign = 1.0 if shape == 'triangle' else -1.0
        angles = np.deg2rad([-90.0, 30.0, 150.0])
        points = [(cx + r * np.cos(a), cy + sign * r * np.sin(a))
                  for a in angles]
    elif shape == 'diamond':
        points = [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)]
    elif shape == 'hexagon':
        points = [(cx + r * np.cos(a), cy + r * np.sin(a))
                  for a in np.deg2rad(np.arange(0, 360, 60))]
    else:
        raise ValueError(f'Unknown polygon shape {shape!r}')
    return np.array([_fixed(x, y) for x, y in points], dtype=np.int32)


def _fill_box(canvas: np.ndarray, cx: float, cy: float, half_w: float,
              half_h: float) -> None:
    cv2.rectangle(canvas, _fixed(cx - half_w, cy - half_h),
                  _fixed(cx + half_w, cy + half_h), 1, -1, cv2.LINE_8, _SHIFT)


def _draw_shape(canvas: np.ndarray, shape: str, cx: float, cy: float,
                r: float) -> None:
    """Fill ``shape`` with value 1 in a uint8 canvas (sub-pixel accurate)."""
    if shape == 'disk':
        cv2.circle(canvas, _fixed(cx, cy), int(round(r * _ONE)), 1, -1,
                   cv2.LINE_8, _SHIFT)
    elif shape == 'square':
        _fill_box(canvas, cx, cy, 0.8 * r, 0.8 * r)
    elif shape == 'cross':
        _fill_box(canvas, cx, cy, r, 0.35 * r)
        _fill_box(canvas, cx, cy, 0.35 * r, r)
    elif shape == 'ellipse':
        axes = (int(round(r * _ONE)), int(round(0.55 * r * _ONE)))
        cv2.ellipse(canvas, _fixed(cx, cy), axes, 0, 0, 360, 1, -1, cv2.LINE_8,
                    _SHIFT)
    else:
        cv2.fillPoly(canvas, [_shape_polygon(shape, cx, cy, r)], 1, cv2.LINE_8,
                     _SHIFT)


def _place_objects(rng: np.random.Generator, num_objects: int,
                   size: Tuple[int, int], scale: Tuple[float, float],
                   motion: float) -> List[dict]:
    """Non-overlapping positions, radii and small velocities."""
    height, width = size
    short = min(height, width)
    objects: List[dict] = []
    for _ in range(num_objects):
        for _attempt in range(200):
            r = short * rng.uniform(scale[0], scale[1])
            cx = rng.uniform(r + 1, width - r - 1)
            cy = rng.uniform(r + 1, height - r - 1)
            if all(
                    np.hypot(cx - o['cx'], cy - o['cy']) > r + o['r'] + 2
                    for o in objects):
                break
        speed = short * motion
        objects.append(
            dict(
                cx=cx,
                cy=cy,
                r=r,
                vx=rng.uniform(-speed, speed),
                vy=rng.uniform(-speed, speed)))
    return objects


def _step(obj: dict, size: Tuple[int, int]) -> None:
    """Move an object one frame, bouncing off the borders."""
    height, width = size
    for pos, vel, limit in (('cx', 'vx', width), ('cy', 'vy', height)):
        obj[pos] += obj[vel]
        low, high = obj['r'] + 1, limit - obj['r'] - 1
        if obj[pos] < low or obj[pos] > high:
            obj[vel] = -obj[vel]
            obj[pos] = float(np.clip(obj[pos], low, high))


def _background(rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
    base = rng.uniform(70, 150) + rng.uniform(-15, 15, size=3)
    texture = rng.normal(0.0, 5.0, size=size + (1, ))
    # A soft gradient so the background is not a constant.
    ramp = np.linspace(-10, 10, size[1])[None, :, None] * rng.choice([-1, 1])
    return np.clip(base + texture + ramp, 0, 255)


def _textured_background(rng: np.random.Generator, size: Tuple[int, int],
                         clutter: bool) -> np.ndarray:
    """Stripes, blobs and noise; with ``clutter``, small distractor shapes.

    Everything comes from a child generator that takes one draw of
    ``rng``: 'texture' and 'clutter' then share the objects, sounds and
    masks of a clip and differ only in the distractors.
    """
    sub = np.random.default_rng(int(rng.integers(2**63)))
    height, width = size
    short = min(size)
    yy, xx = np.mgrid[0:height, 0:width].astype(float)
    image = np.empty(size + (3, ))
    image[...] = sub.uniform(70, 150) + sub.uniform(-15, 15, size=3)
    angle, period = sub.uniform(0, np.pi), short * sub.uniform(0.15, 0.4)
    stripes = np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) /
                     period + sub.uniform(0, 2 * np.pi))
    image += 18 * stripes[..., None] * sub.uniform(0.5, 1.0, size=3)
    for _ in range(int(sub.integers(3, 7))):
        cx, cy = sub.uniform(0, width), sub.uniform(0, height)
        sigma = short * sub.uniform(0.08, 0.25)
        blob = np.exp(-((xx - cx)**2 + (yy - cy)**2) / (2 * sigma**2))
        image += blob[..., None] * sub.uniform(-45, 45, size=3)
    image += sub.normal(0.0, 8.0, size=size + (1, ))
    if clutter:
        # The categories' shapes in muted colours: they look like objects
        # but are never labelled and never sound.
        shapes = [spec[2] for spec in CATEGORY_SPECS]
        for _ in range(int(sub.integers(3, 7))):
            canvas = np.zeros(size, dtype=np.uint8)
            _draw_shape(canvas, shapes[int(sub.integers(len(shapes)))],
                        sub.uniform(0, width), sub.uniform(0, height),
                        short * sub.uniform(0.04, 0.08))
            image[canvas.astype(bool)] = sub.uniform(40, 200) + sub.uniform(
                -25, 25, size=3)
    return np.clip(image, 0, 255)


def _render_clip(rng: np.random.Generator, categories: List[dict],
                 object_categories: Sequence[int], num_frames: int,
                 size: Tuple[int, int], setting: SceneSetting):
    """Frames (BGR uint8) and per-frame owner maps (object index or -1)."""
    if setting.background == 'flat':
        background = _background(rng, size)
    else:
        background = _textured_background(rng, size,
                                          setting.background == 'clutter')
    objects = _place_objects(rng, len(object_categories), size,
                             setting.object_scale, setting.motion)
    frames, owners = [], []
    for _ in range(num_frames):
        frame = background.copy()
        owner = np.full(size, -1, dtype=np.int64)
        for index, (obj, cat) in enumerate(zip(objects, object_categories)):
            canvas = np.zeros(size, dtype=np.uint8)
            _draw_shape(canvas, categories[cat]['shape'], obj['cx'], obj['cy'],
                        obj['r'])
            inside = canvas.astype(bool)
            shade = rng.uniform(0.92, 1.0)
            frame[inside] = np.asarray(categories[cat]['color']) * shade
            owner[inside] = index
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
        owners.append(owner)
        for obj in objects:
            _step(obj, size)
    return frames, owners


def _sounding_schedule(rng: np.random.Generator, num_objects: int,
                       num_seconds: int, multi: bool, first: int,
                       sources: Tuple[int, int]) -> List[List[int]]:
    """Indices of the sounding objects for every second.

    Object ``first`` sounds in the first second, alone unless ``multi``
    adds others: up to the ``sources`` minimum always, each one above it
    with probability 0.5. With ``multi`` the set is redrawn now and then.
    Counts are cut to ``num_objects``.
    """
    low, high = (min(n, num_objects) for n in sources)

    def draw():
        count = min(int(rng.integers(sources[0], sources[1] + 1)),
                    num_objects)
        return sorted(
            rng.choice(num_objects, size=count, replace=False).tolist())

    current = [first]
    if multi:
        # One draw per optional source, each a scalar choice: with the
        # default (1, 2) these are the original generator's very draws.
        count = low + sum(rng.random() < 0.5 for _ in range(high - low))
        others = [i for i in range(num_objects) if i != first]
        for _ in range(count - 1):
            current.append(int(rng.choice(others)))
            others.remove(current[-1])
        current = sorted(current)
    schedule = []
    for second in range(num_seconds):
        if multi and second > 0 and rng.random() < 0.3:
            current = draw()
        schedule.append(current)
    return schedule


def _write_wav(path: str, waveform: np.ndarray) -> None:
    import soundfile
    os.makedirs(osp.dirname(path), exist_ok=True)
    soundfile.write(path, waveform, SAMPLE_RATE, subtype='PCM_16')


def _write_log_mel_pkl(path: str, waveform: np.ndarray) -> None:
    import torch
    examples = waveform_to_log_mel_examples(waveform, SAMPLE_RATE)
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'wb') as file:
        # The release wrote its tensors with pickle.dump, not torch.save.
        pickle.dump(torch.from_numpy(examples), file)


def _write_image(path: str, image: np.ndarray, jpeg: bool = False) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if jpeg else []
    if not cv2.imwrite(path, image, params):
        raise OSError(f'Cannot write {path}')


def _write_csv(path: str, header: Sequence[str],
               rows: Sequence[Sequence]) -> None:
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'w', newline='') as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)


def _binary_mask(owner: np.ndarray, sounding: Sequence[int]) -> np.ndarray:
    return np.where(np.isin(owner, list(sounding)), 255, 0).astype(np.uint8)


def _clip_rng(seed: int, task: str, split: str,
              index: int) -> np.random.Generator:
    return np.random.default_rng(
        [seed, _TASK_IDS[task], _SPLIT_IDS[split], index])


def _clip_content(rng, categories, setting, num_frames, size, multi, primary):
    """Draw and render one clip.

    ``primary`` is the category that sounds first; cycling it over the
    clips keeps the sounding categories balanced, so no look is a better
    guess than another without the audio.
    """
    low, high = setting.objects_per_clip
    num_objects = int(rng.integers(low, high + 1))
    num_objects = min(num_objects, len(categories))
    others = [c for c in range(len(categories)) if c != primary]
    object_categories = [primary] + rng.choice(
        others, size=num_objects - 1, replace=False).tolist()
    order = rng.permutation(num_objects)
    object_categories = [object_categories[i] for i in order]
    first = int(np.flatnonzero(order == 0)[0])
    schedule = _sounding_schedule(rng, num_objects, num_frames, multi, first,
                                  setting.sources_per_second)
    frames, owners = _render_clip(rng, categories, object_categories,
                                  num_frames, size, setting)
    sounds = [
        dict(categories[cat]['sound'], frequency=categories[cat]['frequency'])
        for cat in object_categories
    ]
    waveform = synthesise_audio(rng, sounds, schedule, setting.noise,
                                setting.loudness_db)
    return object_categories, schedule, frames, owners, waveform


def _layout(task: str, root: str, split: str, audio_source: str):
    """The data set class of ``task`` as a layout: it names every file of a
    clip (:meth:`~.avsbench.AVSBenchBaseDataset.parse_clip`), so the
    released layouts are written down once, in the readers."""
    dataset_class = dict(
        s4=AVSBenchS4Dataset,
        ms3=AVSBenchMS3Dataset,
        avss=AVSBenchSemanticDataset)[task]
    return dataset_class(
        split=split,
        data_root=root,
        audio_source=audio_source,
        check_files=False,
        lazy_init=True)


def _write_frames_and_masks(clip: dict, frames: Sequence[np.ndarray],
                            masks: Sequence[np.ndarray],
                            jpeg: bool = False) -> None:
    """Write the frames and the masks the layout asks for (``None`` paths:
    padding, or frames the split does not label)."""
    for path, frame in zip(clip['frame_paths'], frames):
        if path is not None:
            _write_image(path, frame, jpeg=jpeg)
    for path, mask in zip(clip['seg_map_paths'], masks):
        if path is not None:
            _write_image(path, mask)


def _write_binary(task, root, counts, categories, size, setting, seed):
    """S4 (one sounding object per clip) or MS3 (several per second)."""
    single = task == 's4'
    dataset_class = AVSBenchS4Dataset if single else AVSBenchMS3Dataset
    name_column = 'name' if single else 'video_id'
    header = ('name', 'start_time', 'category',
              'split') if single else ('video_id', 'split')
    rows = []
    for split, count in counts.items():
        wav_layout = _layout(task, root, split, 'wav')
        log_mel_layout = _layout(task, root, split, 'log_mel')
        for index in range(count):
            rng = _clip_rng(seed, task, split, index)
            objs, schedule, frames, owners, waveform = _clip_content(
                rng, categories, setting, dataset_class.NUM_FRAMES, size,
                not single, (seed + index) % len(categories))
            row = {name_column: f'syn_{task}_{split}_{index:04d}',
                   'split': split}
            if single:
                # The folder of an S4 clip is its sounding category.
                row['category'] = categories[objs[schedule[0][0]]]['s4_name']
                row['start_time'] = index % 10
            rows.append([row[column] for column in header])
            clip = wav_layout.parse_clip(row, name_column)
            _write_frames_and_masks(clip, frames, [
                _binary_mask(owner, sounding)
                for owner, sounding in zip(owners, schedule)
            ])
            _write_wav(clip['audio_path'], waveform)
            _write_log_mel_pkl(
                log_mel_layout.parse_clip(row, name_column)['audio_path'],
                waveform)
    _write_csv(osp.join(root, dataset_class.DEFAULT_ANN_FILE), header, rows)


def _avss_subsets(count: int) -> List[str]:
    """Mostly v2, with some v1s and v1m clips once a split has 3 or more."""
    if count < 3:
        return ['v2'] * count
    num_v1 = max(1, int(round(0.15 * count)))
    return ['v2'] * (count - 2 * num_v1) + ['v1s'] * num_v1 + ['v1m'] * num_v1


def _write_avss(root, counts, categories, size, setting, seed):
    rows = []
    palette_bgr = np.asarray(AVSS_PALETTE, dtype=np.uint8)[:, ::-1]
    for split, count in counts.items():
        layout = _layout('avss', root, split, 'wav')
        for index, subset in enumerate(_avss_subsets(count)):
            rng = _clip_rng(seed, 'avss', split, index)
            uid = f'syn_{subset}_{split}_{index:04d}'
            clip = layout.parse_clip(dict(uid=uid, label=subset), 'uid')
            num_real = sum(path is not None for path in clip['frame_paths'])
            # v1s clips have one sounding object, like S4.
            objs, schedule, frames, owners, waveform = _clip_content(
                rng, categories, setting, num_real, size, subset != 'v1s',
                (seed + index) % len(categories))
            owner_to_class = np.array(
                [categories[cat]['avss_index'] for cat in objs] + [0])
            # Index -1 (no object) picks the trailing 0 (background).
            masks = [
                palette_bgr[np.where(
                    np.isin(owner, sounding), owner_to_class[owner], 0)]
                for owner, sounding in zip(owners, schedule)
            ]
            _write_frames_and_masks(clip, frames, masks, jpeg=True)
            _write_wav(clip['audio_path'], waveform)
            audible = sorted({objs[i] for second in schedule for i in second})
            a_obj = '_'.join(categories[c]['avss_name'] for c in audible)
            rows.append((uid, uid, 0, 0, a_obj, split, subset))
    _write_csv(
        osp.join(root, AVSBenchSemanticDataset.DEFAULT_ANN_FILE),
        ('vid', 'uid', 's_min', 's_sec', 'a_obj', 'split', 'label'), rows)
    dump({name: i
          for i, name in enumerate(AVSS_CLASSES)},
         osp.join(root, 'label2idx.json'),
         indent=1)


_WRITERS = dict(
    s4=partial(_write_binary, 's4'),
    ms3=partial(_write_binary, 'ms3'),
    avss=_write_avss)


def make_synthetic_avsbench(
        out_dir: str,
        tasks: Union[str, Sequence[str]] = ('s4', 'ms3', 'avss'),
        num_clips: Union[int, Mapping[str, int]] = dict(
            train=40, val=10, test=10),
        image_size: Union[int, Tuple[int, int]] = 64,
        num_categories: Optional[int] = None,
        objects_per_clip: Optional[Tuple[int, int]] = None,
        seed: int = 0,
        noise: Optional[float] = None,
        setting: Union[None, str, SceneSetting, Mapping[str, Any]] = None
) -> Dict[str, str]:
    """Write a synthetic AVSBench in the released layout of each sub-task.

    ``num_categories``, ``objects_per_clip`` and ``noise`` are setting
    fields: they change the default setting, and next to a ``setting`` may
    only repeat its values (:func:`~.synthetic_settings.resolve_setting`).

    Args:
        out_dir (str): Output folder; the sub-tasks go to
            ``{out_dir}/Single-source``, ``{out_dir}/Multi-sources`` and
            ``{out_dir}/AVSS`` (the release's folder names), ready for the
            ``data_root`` of the dataset configs.
        tasks (str | Sequence[str]): Any of ``'s4'``, ``'ms3'``, ``'avss'``.
            Defaults to all three.
        num_clips (int | Mapping[str, int]): Clips per split (one number for
            every split, or a dict ``train``/``val``/``test``). Defaults to
            40/10/10.
        image_size (int | tuple[int, int]): Frame size, ``s`` or ``(h, w)``.
            Defaults to 64.
        num_categories (int, optional): Object categories (1-8), each with
            its own shape, colour and sound. Defaults to None: the
            setting's (5 in the default setting).
        objects_per_clip (tuple[int, int], optional): Min and max objects
            in a clip (different categories). Defaults to None: the
            setting's ((2, 3) in the default setting).
        seed (int): Random seed; the output is deterministic given the
            arguments. Defaults to 0.
        noise (float, optional): Standard deviation of the white noise
            added to the audio (full scale 1). Defaults to None: the
            setting's (0.01 in the default setting).
        setting (None | str | SceneSetting | Mapping): The scene family
            member: a name of :data:`~.synthetic_settings.SETTINGS`, a
            :class:`~.synthetic_settings.SceneSetting` or a mapping of its
            fields. Defaults to None, the default setting (the original
            generator, bit for bit, like ``'default'``).

    Returns:
        dict[str, str]: Task -> the folder it was written to.

    Examples:
        >>> roots = make_synthetic_avsbench('data/AVSBench', tasks='s4',
        ...                                 num_clips=8)  # doctest: +SKIP
        >>> roots['s4']  # doctest: +SKIP
        'data/AVSBench/Single-source'
    """
    if isinstance(tasks, str):
        tasks = (tasks, )
    unknown = set(tasks) - set(_WRITERS)
    if unknown:
        raise ValueError(f'Unknown tasks {sorted(unknown)}; choose from '
                         f'{sorted(_WRITERS)}')
    if isinstance(num_clips, int):
        counts = {split: num_clips for split in _SPLIT_IDS}
    else:
        counts = {split: int(num_clips.get(split, 0)) for split in _SPLIT_IDS}
    if any(count < 0 for count in counts.values()):
        raise ValueError(f'num_clips must be >= 0, got {counts}')
    size = ((image_size,
             image_size) if isinstance(image_size, int) else tuple(image_size))
    if min(size) < 16:
        raise ValueError(f'image_size must be at least 16, got {size}')
    scene = resolve_setting(
        setting,
        num_categories=num_categories,
        objects_per_clip=objects_per_clip,
        noise=noise)
    categories = setting_categories(scene)
    roots = {}
    for task in tasks:
        root = osp.join(out_dir, TASK_FOLDERS[task])
        os.makedirs(root, exist_ok=True)
        _WRITERS[task](root, counts, categories, size, scene, seed)
        roots[task] = root
    return roots
