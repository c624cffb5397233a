# Copyright (c) mmavs contributors. All rights reserved.
"""Read the metadata csv of an AVSBench sub-task, and check it.

Unusable files raise :class:`~mmavs.datasets.errors.AVSDataError` naming the
file and the line: not UTF-8, no ``split`` column, a split value that is
not ``train``/``val``/``test``, more fields than the header. Clips listed
twice or in two splits are usable but suspicious: a warning, or an error
in strict mode. A UTF-8 byte order mark and CRLF line ends are accepted.
"""
import csv
import io
from typing import Dict, List, Optional, Sequence, Tuple

from .errors import AVSDataError, report_suspicious
from .readers import read_file_bytes


def read_csv_text(path: str, backend_args: Optional[dict] = None) -> str:
    """A csv file as text: UTF-8, with or without a byte order mark.

    Args:
        path (str): The file.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        str: The text.

    Raises:
        AVSDataError: Missing, a directory, empty, or not UTF-8 (names the
            line).
    """
    data = read_file_bytes(path, 'metadata csv', backend_args)
    try:
        return data.decode('utf-8-sig')
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b'\n') + 1
        raise AVSDataError(
            f'{path}: line {line} is not UTF-8 (byte '
            f'{data[error.start]:#04x} at offset {error.start}); save the '
            'csv as UTF-8') from error


def read_metadata_csv(
        path: str,
        splits: Sequence[str],
        backend_args: Optional[dict] = None
) -> Tuple[List[str], List[Dict[str, str]]]:
    """Every row of a metadata csv, checked.

    Args:
        path (str): The csv.
        splits (Sequence[str]): The allowed values of the ``split`` column.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        tuple[list[str], list[dict[str, str]]]: The column names, and per
        row its stripped values plus ``_line`` (the line number, as text).

    Raises:
        AVSDataError: See the module docstring.
    """
    reader = csv.DictReader(io.StringIO(read_csv_text(path, backend_args)))
    fieldnames = [name.strip() for name in (reader.fieldnames or [])]
    if 'split' not in fieldnames:
        raise AVSDataError(f'{path}: metadata csv has no "split" column '
                           f'(columns: {fieldnames})')
    rows = []
    for line, raw in enumerate(reader, start=2):
        if None in raw:  # csv.DictReader's key for surplus fields
            raise AVSDataError(f'{path}: line {line} has more fields than '
                               f'the header ({fieldnames})')
        row = {(key or '').strip(): (value or '').strip()
               for key, value in raw.items()}
        if row['split'] not in splits:
            raise AVSDataError(
                f'{path}: line {line} has split {row["split"]!r}; expected '
                f'one of {", ".join(splits)} (lower case)')
        row['_line'] = str(line)
        rows.append(row)
    return fieldnames, rows


def report_repeated_clips(path: str,
                          rows: List[Dict[str, str]],
                          name_column: str,
                          split: str,
                          strict: bool = False) -> None:
    """Warn (or, when strict, raise) about clips of ``split`` listed more
    than once (they are loaded once) and clips also in another split.

    Args:
        path (str): The csv, for the message.
        rows (list[dict]): Every row (:func:`read_metadata_csv`).
        name_column (str): The column holding the clip name.
        split (str): The split being loaded.
        strict (bool): Raise instead of warning. Defaults to False.

    Raises:
        AVSDataError: When ``strict`` and a clip is repeated.
    """
    listed: Dict[str, List[Tuple[str, str]]] = {}
    for row in rows:
        if row.get(name_column):
            listed.setdefault(row[name_column], []).append(
                (row['split'], row['_line']))
    twice = {
        name: [line for where, line in places if where == split]
        for name, places in listed.items()
    }
    twice = {name: lines for name, lines in twice.items() if lines[1:]}
    if twice:
        name, lines = next(iter(twice.items()))
        report_suspicious(
            path, 'repeated_clip', f'{len(twice)} clip(s) of split "{split}" '
            f'are listed more than once (e.g. "{name}" on lines '
            f'{", ".join(lines)}); each is loaded once', strict)
    shared = {
        name: places
        for name, places in listed.items()
        if len({where for where, _ in places}) > 1 and any(
            where == split for where, _ in places)
    }
    if shared:
        name, places = next(iter(shared.items()))
        where = ', '.join(f'{other} (line {line})' for other, line in places)
        report_suspicious(
            path, 'clip_in_two_splits', f'{len(shared)} clip(s) of split '
            f'"{split}" are also in another split (e.g. "{name}": {where}); '
            'a test split that shares clips with training measures '
            'memory, not segmentation', strict)
