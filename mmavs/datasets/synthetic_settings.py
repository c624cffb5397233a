# Copyright (c) mmavs contributors. All rights reserved.
"""Settings of the synthetic AVSBench: one scene family, many members.

A recipe tuned on one synthetic set can depend on things that set never
varies (pure tones, two or three objects, a flat background...).
:class:`SceneSetting` makes each of them a parameter with a documented
range, and the named settings split into *tuning* settings, to develop on,
and *held-out* ones, to check on: every held-out setting differs from
every tuning setting in its kind of sound and in its object and source
counts.

``DEFAULT`` is exactly the original generator: with it,
:func:`~mmavs.datasets.synthetic.make_synthetic_avsbench` writes the same
bits as before the settings existed.
"""
import dataclasses
import numbers
import re
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

from .synthetic_sound import SOUND_KIND_CHOICES

#: Categories the generator knows (``synthetic.CATEGORY_SPECS``).
MAX_CATEGORIES = 8
#: Background choices of :attr:`SceneSetting.background`.
BACKGROUNDS = ('flat', 'texture', 'clutter')

#: Allowed ranges, inclusive: the single source of the checks and of the
#: error messages.
_RANGES = dict(
    pitch_spread=(0.0, 1.0),
    num_categories=(1, MAX_CATEGORIES),
    objects_per_clip=(1, MAX_CATEGORIES),
    sources_per_second=(1, MAX_CATEGORIES),
    object_scale=(0.05, 0.3),
    motion=(0.0, 0.1),
    loudness_db=(-24.0, 6.0),
    noise=(0.0, 0.5))
_CHOICES = dict(sound_kind=SOUND_KIND_CHOICES, background=BACKGROUNDS)


@dataclasses.dataclass(frozen=True)
class SceneSetting:
    """What the synthetic scenes look and sound like.

    Pairs are ``(min, max)`` with ``min <= max``; a clip draws its value
    uniformly in between (integers: both ends included). Lists are accepted
    and stored as tuples, ints are accepted for floats.

    Args:
        sound_kind (str): Kind of sound of every category, one of
            ``'tone'``, ``'harmonic'``, ``'am'``, ``'fm'``, ``'noise_band'``,
            ``'chirp'`` or ``'mixed'`` (a kind per category, by index); see
            :mod:`~mmavs.datasets.synthetic_sound`. Defaults to ``'tone'``.
        pitch_spread (float): How far apart the category frequencies are,
            0.0 to 1.0: 1.0 keeps the well separated table of
            ``CATEGORY_SPECS``, smaller values squeeze the frequencies of
            the categories in use towards their geometric mean (log scale),
            0.0 gives them all the same pitch. Defaults to 1.0.
        num_categories (int): Object categories, 1 to 8, each with its own
            shape, colour and sound. Defaults to 5.
        objects_per_clip (tuple[int, int]): Objects in a clip (of
            different categories), 1 to 8; more than ``num_categories`` is
            cut to it. Defaults to (2, 3).
        sources_per_second (tuple[int, int]): Objects that sound at once in
            the multi-source seconds (MS3, AVSS v1m and v2), 1 to 8; more
            than the clip's objects is cut to them. S4 and AVSS v1s clips
            always have one. Defaults to (1, 2).
        object_scale (tuple[float, float]): Object radius as a fraction of
            the frame's short side, 0.05 to 0.3. Defaults to (0.13, 0.18).
        motion (float): Largest speed of an object per frame and axis, as a
            fraction of the short side, 0.0 to 0.1. Defaults to 0.02.
        loudness_db (tuple[float, float]): Random gain of each object's
            sound in dB, -24.0 to 6.0, on top of the original amplitude
            range (0.2-0.4 of full scale); loud mixes clip at full scale.
            Defaults to (0.0, 0.0).
        noise (float): Std of the white noise added to the audio (full
            scale 1), 0.0 to 0.5. Defaults to 0.01.
        background (str): ``'flat'`` (a soft gradient and faint noise),
            ``'texture'`` (stripes, blobs and stronger noise) or
            ``'clutter'`` (the texture plus small distractor shapes that
            are never labelled and never sound). Defaults to ``'flat'``.

    Raises:
        ValueError: A field out of its range; the message names the field
            and the range.
    """

    sound_kind: str = 'tone'
    pitch_spread: float = 1.0
    num_categories: int = 5
    objects_per_clip: Tuple[int, int] = (2, 3)
    sources_per_second: Tuple[int, int] = (1, 2)
    object_scale: Tuple[float, float] = (0.13, 0.18)
    motion: float = 0.02
    loudness_db: Tuple[float, float] = (0.0, 0.0)
    noise: float = 0.01
    background: str = 'flat'

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = _checked(field.name, getattr(self, field.name))
            object.__setattr__(self, field.name, value)


def _field_type(name: str) -> Tuple[type, bool]:
    """(element type, whether a pair) of a field, from its default."""
    default = next(f.default for f in dataclasses.fields(SceneSetting)
                   if f.name == name)
    if isinstance(default, tuple):
        return type(default[0]), True
    return type(default), False


def _range_text(name: str, pair: bool) -> str:
    if name in _CHOICES:
        return 'one of ' + ', '.join(repr(c) for c in _CHOICES[name])
    low, high = _RANGES[name]
    if pair:
        return f'(min, max) with {low} <= min <= max <= {high}'
    return f'in {low}..{high}'


def _checked(name: str, value: Any) -> Any:
    """``value`` in the field's type, or a ValueError naming the field."""
    kind, pair = _field_type(name)
    problem = f'SceneSetting.{name} must be {_range_text(name, pair)}, ' \
              f'got {value!r}'
    if kind is str:
        if value not in _CHOICES[name]:
            raise ValueError(problem)
        return value
    items = value if pair else (value, )
    if pair and (isinstance(value, (str, bytes)) or not hasattr(
            value, '__len__') or len(value) != 2):
        raise ValueError(problem)
    checked = []
    for item in items:
        # bool is an int to Python, but never a sensible count or scale.
        if isinstance(item, bool) or not isinstance(item, numbers.Real) or (
                kind is int and item != int(item)):
            raise ValueError(problem)
        checked.append(kind(item))
    low, high = _RANGES[name]
    # Written so that NaN fails too.
    if not all(low <= n <= high for n in checked) or not (
            checked[0] <= checked[-1]):
        raise ValueError(problem)
    return tuple(checked) if pair else checked[0]


#: The original generator, bit for bit.
DEFAULT = SceneSetting()

_TUNING_COUNTS = dict(objects_per_clip=(2, 3), sources_per_second=(1, 2))
_HELD_OUT_COUNTS = dict(objects_per_clip=(3, 4), sources_per_second=(1, 3))

#: Settings to tune recipes on: tones, harmonic stacks and AM tones, 2-3
#: objects, 1-2 sources at a time; one of them with clutter, so that a
#: recipe can be tuned against unlabelled, silent distractor shapes.
TUNING_SETTINGS: Dict[str, SceneSetting] = dict(
    default=DEFAULT,
    tune_harmonic=SceneSetting(sound_kind='harmonic', **_TUNING_COUNTS),
    tune_am_texture=SceneSetting(
        sound_kind='am',
        background='texture',
        loudness_db=(-6.0, 0.0),
        **_TUNING_COUNTS),
    tune_tone_motion=SceneSetting(
        sound_kind='tone',
        objects_per_clip=(2, 2),
        object_scale=(0.10, 0.16),
        motion=0.04,
        noise=0.03),
    tune_harmonic_close=SceneSetting(
        sound_kind='harmonic',
        pitch_spread=0.6,
        num_categories=6,
        background='texture',
        **_TUNING_COUNTS),
    tune_tone_clutter=SceneSetting(
        sound_kind='tone',
        object_scale=(0.08, 0.14),
        loudness_db=(-6.0, 0.0),
        background='clutter',
        **_TUNING_COUNTS),
)

#: Settings to check recipes on, never to tune on: FM tones, noise bands,
#: chirps and mixed kinds, 3 or more objects, up to 3 or more sources at a
#: time, close pitches, clutter.
HELD_OUT_SETTINGS: Dict[str, SceneSetting] = dict(
    heldout_fm=SceneSetting(sound_kind='fm', **_HELD_OUT_COUNTS),
    heldout_noise_band=SceneSetting(
        sound_kind='noise_band', background='texture', **_HELD_OUT_COUNTS),
    heldout_chirp=SceneSetting(
        sound_kind='chirp', motion=0.04, **_HELD_OUT_COUNTS),
    heldout_mixed=SceneSetting(
        sound_kind='mixed',
        objects_per_clip=(3, 4),
        sources_per_second=(2, 3),
        background='texture'),
    heldout_close_fm=SceneSetting(
        sound_kind='fm', pitch_spread=0.3, **_HELD_OUT_COUNTS),
    heldout_clutter_noise_band=SceneSetting(
        sound_kind='noise_band',
        background='clutter',
        object_scale=(0.08, 0.14),
        loudness_db=(-12.0, 0.0),
        noise=0.03,
        **_HELD_OUT_COUNTS),
    heldout_crowded_mixed=SceneSetting(
        sound_kind='mixed',
        num_categories=8,
        objects_per_clip=(4, 5),
        sources_per_second=(2, 4),
        object_scale=(0.10, 0.15),
        motion=0.03,
        loudness_db=(-6.0, 0.0),
        background='clutter'),
)

#: Every named setting.
SETTINGS: Dict[str, SceneSetting] = {**TUNING_SETTINGS, **HELD_OUT_SETTINGS}


def tuning_settings() -> Dict[str, SceneSetting]:
    """The settings to tune on, by name (``'default'`` among them).

    Returns:
        dict[str, SceneSetting]: A copy of :data:`TUNING_SETTINGS`.
    """
    return dict(TUNING_SETTINGS)


def held_out_settings() -> Dict[str, SceneSetting]:
    """The settings to check on and never tune on, by name.

    Returns:
        dict[str, SceneSetting]: A copy of :data:`HELD_OUT_SETTINGS`.
    """
    return dict(HELD_OUT_SETTINGS)


def setting_group(name: str) -> str:
    """``'tuning'`` or ``'held-out'``.

    Args:
        name (str): A name of :data:`SETTINGS`.

    Returns:
        str: The group of the named setting.
    """
    get_setting(name)
    return 'tuning' if name in TUNING_SETTINGS else 'held-out'


def get_setting(
    name_or_setting: Union[None, str, SceneSetting, Mapping[str, Any]]
) -> SceneSetting:
    """A setting from its name, itself, or fields over the default.

    Args:
        name_or_setting (None | str | SceneSetting | Mapping): ``None``
            (:data:`DEFAULT`), a name of :data:`SETTINGS`, a setting, or a
            mapping of fields for :func:`setting_from_overrides` over
            :data:`DEFAULT` (e.g. from a config).

    Returns:
        SceneSetting: The setting.

    Raises:
        ValueError: An unknown name (the message lists the names) or a bad
            field.
    """
    if name_or_setting is None:
        return DEFAULT
    if isinstance(name_or_setting, SceneSetting):
        return name_or_setting
    if isinstance(name_or_setting, str):
        if name_or_setting not in SETTINGS:
            raise ValueError(f'Unknown synthetic setting {name_or_setting!r};'
                             f' choose from {", ".join(SETTINGS)}')
        return SETTINGS[name_or_setting]
    if isinstance(name_or_setting, Mapping):
        return setting_from_overrides(DEFAULT, name_or_setting)
    raise TypeError('Expected a setting name, a SceneSetting or a mapping, '
                    f'got {type(name_or_setting).__name__}')


def _parse(name: str, text: str) -> Any:
    """A ``key=value`` value in the field's type (checked later)."""
    kind, pair = _field_type(name)
    text = text.strip()
    if kind is str:
        return text.strip('\'"')
    parts = [p for p in re.split(r'[\s,]+', text.strip('()[] ')) if p]
    try:
        numbers = [kind(p) for p in parts]
    except ValueError:
        numbers = []
    if pair and len(numbers) == 1:
        # ``sources_per_second=3`` means exactly 3.
        numbers = numbers * 2
    if len(numbers) != (2 if pair else 1):
        shape = f'({kind.__name__}, {kind.__name__})' if pair \
            else kind.__name__
        raise ValueError(f'SceneSetting.{name}: cannot read {text!r} as '
                         f'{shape}')
    return tuple(numbers) if pair else numbers[0]


def setting_from_overrides(base: Union[None, str, SceneSetting],
                           overrides: Mapping[str, Any]) -> SceneSetting:
    """A setting with some fields changed, e.g. from ``--set key=value``.

    String values are parsed in the field's type: ``'3'``, ``'0.3'``,
    ``'1,3'``, ``'(1, 3)'``, ``'1 3'``, and ``'3'`` for a pair (``(3, 3)``);
    other values are taken as they are. Every field is checked again.

    Args:
        base (None | str | SceneSetting): What :func:`get_setting` accepts
            but a mapping.
        overrides (Mapping[str, Any]): Field name -> value.

    Returns:
        SceneSetting: ``base`` with ``overrides``.

    Raises:
        ValueError: An unknown field (the message lists the fields), a
            value that cannot be parsed, or one out of its range.
    """
    if isinstance(base, Mapping):
        raise TypeError('base must be None, a setting name or a SceneSetting')
    base = get_setting(base)
    names = [f.name for f in dataclasses.fields(SceneSetting)]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ValueError(f'Unknown SceneSetting fields {unknown}; choose from '
                         f'{", ".join(names)}')
    values = {
        name: _parse(name, value) if isinstance(value, str) else value
        for name, value in overrides.items()
    }
    return dataclasses.replace(base, **values)


def resolve_setting(setting: Union[None, str, SceneSetting,
                                   Mapping[str, Any]],
                    **fields: Any) -> SceneSetting:
    """A setting and field values given beside it, as one setting.

    Without a setting the fields change :data:`DEFAULT`. With one they may
    only repeat its values: a named setting is never changed by an argument
    left over from an older call (derive a new setting with
    :func:`setting_from_overrides` instead).

    Args:
        setting (None | str | SceneSetting | Mapping): What
            :func:`get_setting` accepts.
        **fields: Field values; ``None`` means not given.

    Returns:
        SceneSetting: The setting.

    Raises:
        ValueError: A field that differs from the given setting's (the
            message names both values), or a bad field.
    """
    given = {k: v for k, v in fields.items() if v is not None}
    if setting is None:
        return setting_from_overrides(None, given)
    resolved = get_setting(setting)
    # Checked as a setting, so that (2, 3) and [2, 3] compare equal.
    wanted = setting_from_overrides(resolved, given)
    conflicts = [
        f'{k}={getattr(wanted, k)!r} (the setting has '
        f'{getattr(resolved, k)!r})' for k in given
        if getattr(wanted, k) != getattr(resolved, k)
    ]
    if conflicts:
        name = next((n for n, s in SETTINGS.items() if s == resolved),
                    None)
        raise ValueError(
            f'Arguments conflict with the setting {name or resolved}: '
            f'{", ".join(conflicts)}; derive a setting instead '
            '(setting_from_overrides, or --set key=value)')
    return resolved


def parse_overrides(items: Optional[Sequence[str]]) -> Dict[str, str]:
    """``['key=value', ...]`` (the CLI's ``--set``) as a dict.

    Args:
        items (Sequence[str] | None): ``key=value`` strings.

    Returns:
        dict[str, str]: key -> value text, for
        :func:`setting_from_overrides`.

    Raises:
        ValueError: An item without ``=``.
    """
    overrides = {}
    for item in items or ():
        key, sep, value = item.partition('=')
        if not sep or not key.strip():
            raise ValueError(f'Expected key=value, got {item!r}')
        overrides[key.strip()] = value
    return overrides


def describe_setting(setting: SceneSetting) -> str:
    """The fields that differ from :data:`DEFAULT`, as ``key=value``.

    Args:
        setting (SceneSetting): A setting.

    Returns:
        str: e.g. ``'sound_kind=fm objects_per_clip=3,4'``, or
        ``'(the original generator)'`` for the default.
    """
    changes = []
    for field in dataclasses.fields(setting):
        value = getattr(setting, field.name)
        if value != getattr(DEFAULT, field.name):
            # Pairs as ``a,b``: what ``--set`` reads back.
            text = ','.join(map(str, value)) if isinstance(
                value, tuple) else str(value)
            changes.append(f'{field.name}={text}')
    return ' '.join(changes) or '(the original generator)'
