# Copyright (c) mmavs contributors. All rights reserved.
"""The errors mmavs raises for unusable input files.

Kept in a module of their own so that every reader (data set files, videos,
the inferencer's inputs, the data checker) raises the same types without
importing each other.
"""


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
