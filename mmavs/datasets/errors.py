# Copyright (c) mmavs contributors. All rights reserved.
"""The errors mmavs raises for unusable input files.

Kept in a module of their own so that every reader (data set files, videos,
the inferencer's inputs, the data checker) raises the same types without
importing each other.
"""
import warnings


class AVSDataError(ValueError):
    """A data file of an audio-visual segmentation data set is missing or
    broken.

    The message always names the offending file (or the metadata file and
    its line) and the problem, so a user can find and fix it.
    """


class VideoReadError(AVSDataError):
    """A video or audio file (or its sound track) cannot be used.

    The message names the file and the problem (missing, not a media file,
    truncated, no audio or video stream, too short, ...). It subclasses
    :class:`AVSDataError`, so code that handles broken data set files handles
    broken videos too. Also importable from :mod:`mmavs.apis`.
    """


class CheckpointError(ValueError):
    """A checkpoint file cannot be used: missing, not a checkpoint, cut
    short, refused because it holds more than tensors and plain containers
    (unpickling those can run code from the file), or weights that do not
    fit the model.

    The message names the file and the problem. Raised by
    :mod:`mmavs.utils.checkpoint` (the inferencer, ``mmavs-demo
    --checkpoint`` and the model converters).
    """


class AVSDataWarning(UserWarning):
    """Data that can be used but looks wrong: sound whose length does not
    match its clip, grey or lossy mask values, a row listed twice, ...

    Each is warned about once per file (see :func:`report_suspicious`);
    ``strict=True`` on the data sets (``--strict`` on the checker) turns
    them into :class:`AVSDataError`.

    Attributes:
        kind (str): The kind of problem (``'sound_length'``,
            ``'grey_mask'``, ...), as given to :func:`report_suspicious`.
    """

    kind = ''


def suspicious_error(message: str, kind: str) -> AVSDataError:
    """The error strict mode raises for a warning's message.

    Args:
        message (str): The warning's text (starts with the file).
        kind (str): The kind of problem.

    Returns:
        AVSDataError: The error :func:`report_suspicious` raises when
        ``strict`` (the checker's ``--strict`` reports the same words).
    """
    return AVSDataError(f'{message} [{kind}; strict mode turns suspicious '
                        'data into errors]')


def report_suspicious(path: str,
                      kind: str,
                      problem: str,
                      strict: bool = False) -> None:
    """Warn or, when strict, raise.

    The message names the file, so Python's default warning filter shows
    it once per file and problem (``python -W always`` shows every one).

    Args:
        path (str): The file (or ``file:line``) the problem is in.
        kind (str): The kind of problem (``'sound_length'``,
            ``'grey_mask'``, ...), for the strict-mode error.
        problem (str): What is wrong and what mmavs does about it, with the
            numbers (e.g. ``'the sound lasts 2.50 s, the clip 5 s: the
            last example is repeated for frames 4-5'``).
        strict (bool): Raise instead of warning. Defaults to False.

    Raises:
        AVSDataError: When ``strict``; the message names the file.
    """
    message = f'{path}: {problem}'
    if strict:
        raise suspicious_error(message, kind)
    warning = AVSDataWarning(message)
    warning.kind = kind
    warnings.warn(warning, stacklevel=2)
