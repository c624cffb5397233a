# Copyright (c) mmavs contributors. All rights reserved.
"""Load checkpoints without running code from them, and check they fit.

``torch.load`` unpickles, and unpickling a crafted ``.pth`` runs whatever
code the file asks for. Every checkpoint mmavs reads goes through
:func:`safe_torch_load`, i.e. ``torch.load(weights_only=True)``: tensors,
plain containers and the allow-listed classes of Runner checkpoints (see
:mod:`mmavs.utils.compat`) load, anything else is refused with a
:class:`~mmavs.datasets.errors.CheckpointError` naming the file. A config
saved in a checkpoint is Python source, which mmengine's ``Config`` would
run; :func:`config_from_checkpoint` reads it as data instead.

.. code:: text

    load_checkpoint_file(path)          file -> checked checkpoint dict
     └─ safe_torch_load(path)           file -> any weights-only object
    config_from_checkpoint(ckpt, path)  the saved config, read as data
    load_weights(model, ckpt, path)     fails unless every tensor fits
"""
import ast
import os
import os.path as osp
import pickle
import pickletools
import re
import warnings
import zipfile
from collections import OrderedDict
from typing import Any, Dict

import numpy as np
import torch
from mmengine.config import Config

from mmavs.datasets.errors import CheckpointError

#: How ``torch.save`` files start: a zip archive (torch >= 1.6), or the
#: pickled magic number of the legacy format.
ZIP_MAGIC = b'PK\x03\x04'
LEGACY_MAGIC = pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2)
#: The pickles at the head of a legacy file: magic number, protocol
#: version, system info, the object, the storage keys.
LEGACY_PICKLES = 5
#: Names listed per kind when weights do not fit.
MAX_NAMES = 3
#: How the reason for a refused (intact, but not weights-only) file starts.
REFUSED = 'refused:'


def _numpy1_aliases() -> list:
    """numpy 1.x pickles name numpy 2's ``numpy._core.multiarray``
    functions ``numpy.core.multiarray.*`` (e.g. torchvggish's PCA file):
    the same two functions, which :mod:`mmavs.utils.compat` allows under
    their numpy 2 names."""
    multiarray = getattr(np, '_core', None)
    if multiarray is None:  # numpy < 2 names them that way itself
        return []
    multiarray = multiarray.multiarray
    return [(multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
            (multiarray.scalar, 'numpy.core.multiarray.scalar')]


def _check_path(name: str) -> None:
    if '://' in name:
        raise CheckpointError(f'{name}: only local checkpoint files are '
                              'loaded; download it first')
    if not osp.exists(name):
        raise CheckpointError(f'{name}: checkpoint file is missing')
    if osp.isdir(name):
        raise CheckpointError(f'{name}: is a directory, not a checkpoint '
                              'file')
    if osp.getsize(name) == 0:
        raise CheckpointError(f'{name}: checkpoint file is empty (0 bytes)')


def _pickles_cut_short(name: str, count: int) -> bool:
    """Whether one of the first ``count`` pickles of the file ends early.

    ``pickletools.genops`` only parses opcodes; nothing is unpickled.
    """
    with open(name, 'rb') as file:
        try:
            for _ in range(count):
                for _ in pickletools.genops(file):
                    pass
        except ValueError as error:
            # 'pickle exhausted before seeing STOP', 'expected N bytes ...
            # but only M remain', 'no newline found', 'not enough data';
            # an unknown opcode is corruption instead.
            return any(sign in str(error) for sign in (
                'exhausted', 'remain', 'no newline', 'not enough data'))
    return False


def refusal_reason(error: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in a few words.

    Torch's own message advises turning the protection off; mmavs never
    gives that advice, so torch's message is not repeated (nor chained).

    Args:
        error (Exception): The ``pickle.UnpicklingError`` torch raised.

    Returns:
        str: ``'refused: ...'``, naming the refused global when torch does.
    """
    match = re.search(r'GLOBAL ([\w.]+)', str(error))
    what = (f'it refers to {match.group(1)}, which is not a tensor, a plain '
            'container or an allowed class' if match else
            'it holds data other than tensors and plain containers')
    return (f'{REFUSED} {what}. mmavs loads checkpoints with '
            'torch.load(weights_only=True) and does not unpickle other '
            'objects, because unpickling can run code stored in the file; '
            'a checkpoint holds weights only (torch.save of a state dict)')


def _why_not_loadable(name: str, error: Exception) -> str:
    with open(name, 'rb') as file:
        head = file.read(len(LEGACY_MAGIC))
    if head.startswith(ZIP_MAGIC):
        if not zipfile.is_zipfile(name):
            return ('is truncated or corrupt: its zip archive has no '
                    'central directory (a torch.save file cut short?)')
    elif head.startswith(b'\x80'):  # a pickle, protocol >= 2
        count = LEGACY_PICKLES if head == LEGACY_MAGIC else 1
        if _pickles_cut_short(name, count):
            return ('is truncated: the file ends inside its pickled data '
                    '(a torch.save file cut short?)')
        if head != LEGACY_MAGIC and not isinstance(
                error, pickle.UnpicklingError):
            return ('is a pickle, not a torch.save checkpoint; not loaded '
                    '(unpickling can run code stored in the file)')
    else:
        return ('is not a PyTorch checkpoint (neither a torch.save zip '
                'archive nor a legacy torch.save file)')
    if isinstance(error, EOFError) or 'unexpected EOF' in str(error):
        return ('is truncated: the file ends before its tensor data (a '
                'torch.save file cut short?)')
    if isinstance(error, pickle.UnpicklingError):
        return refusal_reason(error)  # starts with REFUSED
    reason = str(error).strip().splitlines()[0][:200] if str(error) else ''
    return (f'is corrupt or not a PyTorch checkpoint '
            f'({type(error).__name__}: {reason})')


def safe_torch_load(path: str,
                    map_location: Any = 'cpu',
                    unsafe_load: bool = False) -> Any:
    """``torch.load(path, weights_only=True)`` with one clear error.

    Args:
        path (str): A local file.
        map_location: As for ``torch.load``. Defaults to ``'cpu'``.
        unsafe_load (bool): When weights-only loading refuses an intact
            file, unpickle it fully instead (with a warning). That runs
            code stored in the file: only for files the user trusts and
            only when the user asked for it by name (the converters'
            ``--unsafe-load``). Broken files raise either way. Defaults to
            False.

    Returns:
        Any: What the file holds (tensors, containers, numpy arrays, ...).

    Raises:
        CheckpointError: The file is missing, a directory, empty, cut
            short, corrupt, not a ``torch.save`` file, or refused because
            unpickling it could run code; the message names the file.
    """
    name = os.fspath(path)
    _check_path(name)
    safe_globals = getattr(torch.serialization, 'safe_globals', None)
    try:
        if safe_globals is None:  # torch < 2.5
            return torch.load(
                name, map_location=map_location, weights_only=True)
        with safe_globals(_numpy1_aliases()):
            return torch.load(
                name, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many types here
        why = _why_not_loadable(name, error)
    if unsafe_load and why.startswith(REFUSED):
        warnings.warn(f'{name}: {why}; unpickling it fully (unsafe_load, '
                      '--unsafe-load)')
        return torch.load(name, map_location=map_location, weights_only=False)
    # Not chained: torch's own message advises turning the protection off.
    raise CheckpointError(f'{name}: {why}')


def state_dict_of(checkpoint: Any, path: str) -> 'OrderedDict[str, Any]':
    """The weights of a checkpoint, checked.

    Args:
        checkpoint: What :func:`safe_torch_load` returned: a dict with a
            ``state_dict``, or a state dict itself.
        path (str): The file, for messages.

    Returns:
        OrderedDict: Name -> tensor, a ``module.`` prefix (of
        DataParallel) removed.

    Raises:
        CheckpointError: Not a dict, or no tensors, or values that are not
            tensors.
    """
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f'{path}: holds an object of type {type(checkpoint).__name__}, '
            'not a checkpoint (a dict with a "state_dict", or a dict of '
            'tensors)')
    where = 'its "state_dict"' if 'state_dict' in checkpoint else 'it'
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, dict):
        raise CheckpointError(
            f'{path}: {where} is an object of type {type(state).__name__}, '
            'not a dict of tensors')
    others = [str(key) for key, value in state.items()
              if not isinstance(value, torch.Tensor)]
    if others or not state:
        listed = ', '.join(others[:MAX_NAMES]) or 'none'
        raise CheckpointError(
            f'{path}: not a checkpoint: {where} holds {len(others)} values '
            f'that are not tensors ({listed}) and '
            f'{len(state) - len(others)} tensors; expected a dict with a '
            '"state_dict", or a dict of tensors')
    return OrderedDict((re.sub(r'^module\.', '', key), value)
                       for key, value in state.items())


def load_checkpoint_file(path: str, map_location: Any = 'cpu') -> dict:
    """Load a model checkpoint safely and check that it holds weights.

    Args:
        path (str): A ``torch.save`` file: a Runner checkpoint, a converted
            release checkpoint, or a plain state dict.
        map_location: As for ``torch.load``. Defaults to ``'cpu'``.

    Returns:
        dict: The checkpoint (``state_dict``, ``meta``, ... as saved).

    Raises:
        CheckpointError: See :func:`safe_torch_load` and
            :func:`state_dict_of`.
    """
    checkpoint = safe_torch_load(path, map_location)
    state_dict_of(checkpoint, os.fspath(path))
    return checkpoint


def _names(kind: str, names: list) -> str:
    more = f', ... ({len(names) - MAX_NAMES} more)' if len(
        names) > MAX_NAMES else ''
    return f'{kind}: {", ".join(names[:MAX_NAMES])}{more}'


def load_weights(model: torch.nn.Module, checkpoint: dict,
                 path: str) -> None:
    """Copy a checkpoint's weights into a model, all or nothing.

    Every tensor of the model must be in the checkpoint with its shape, and
    nothing else may be (BatchNorm's ``num_batches_tracked`` counters,
    which older checkpoints lack, may be missing). Anything else means the
    checkpoint belongs to another model or config, whose masks would come
    from random weights.

    Args:
        model (torch.nn.Module): The built model.
        checkpoint (dict): From :func:`load_checkpoint_file`.
        path (str): The file, for messages.

    Raises:
        CheckpointError: Missing, unexpected or misshapen tensors, counted
            and a few named; nothing is loaded then.
    """
    state = state_dict_of(checkpoint, path)
    own = model.state_dict()
    missing = [
        key for key in own
        if key not in state and not key.endswith('num_batches_tracked')
    ]
    unexpected = [key for key in state if key not in own]
    misshapen = [
        f'{key} {tuple(value.shape)} (model: {tuple(own[key].shape)})'
        for key, value in state.items()
        if key in own and value.shape != own[key].shape
    ]
    if missing or unexpected or misshapen:
        problems = [(kind, names) for kind, names in (
            ('missing', missing), ('unexpected', unexpected),
            ('misshapen', misshapen)) if names]
        raise CheckpointError(
            f'{path}: the checkpoint does not fit the model '
            f'({type(model).__name__}): {len(missing)} missing, '
            f'{len(unexpected)} unexpected and {len(misshapen)} misshapen '
            'tensors (' +
            '; '.join(_names(kind, names) for kind, names in problems) +
            '); is it the checkpoint of another config?')
    model.load_state_dict(state, strict=False)


def _literal(node: ast.AST, path: str) -> Any:
    """The value of a config expression that is plain data, else raise."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(item, path) for item in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {
            _literal(key, path): _literal(value, path)
            for key, value in zip(node.keys, node.values)
        }
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == 'dict' and not node.args
            and all(keyword.arg for keyword in node.keywords)):
        return {
            keyword.arg: _literal(keyword.value, path)
            for keyword in node.keywords
        }
    if (isinstance(node, ast.UnaryOp)
            and isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) in (int, float)):
        value = node.operand.value
        return -value if isinstance(node.op, ast.USub) else value
    raise CheckpointError(
        f'{path}: the config saved in the checkpoint is not plain data '
        f'(line {node.lineno}: {ast.unparse(node)[:60]}); mmavs does not '
        'run code from checkpoints: pass the config (model= / --config)')


def config_from_checkpoint(checkpoint: dict, path: str) -> Config:
    """The config a Runner saved in a checkpoint, read as data.

    mmengine saves ``cfg.pretty_text`` (in the message hub and in
    ``meta``): assignments of literals and ``dict(...)``. It is parsed with
    :mod:`ast` and only such data is accepted: ``Config.fromstring`` would
    execute the text, i.e. run code from the checkpoint.

    Args:
        checkpoint (dict): From :func:`load_checkpoint_file`.
        path (str): The file, for messages.

    Returns:
        Config: The config.

    Raises:
        CheckpointError: No config saved, or one that is not plain data.
    """
    text = None
    hub = checkpoint.get('message_hub')
    if isinstance(hub, dict) and isinstance(hub.get('runtime_info'), dict):
        text = hub['runtime_info'].get('cfg')
    meta = checkpoint.get('meta')
    if text is None and isinstance(meta, dict):
        text = meta.get('cfg')
    if not isinstance(text, str):
        raise CheckpointError(
            f'{path}: holds no config (neither meta["cfg"] nor the message '
            "hub's); pass the config (model= / --config)")
    try:
        tree = ast.parse(text)
    except SyntaxError as error:
        raise CheckpointError(
            f'{path}: the config saved in the checkpoint is not valid '
            f'Python (line {error.lineno}: {error.msg}); pass the config '
            '(model= / --config)') from None
    cfg_dict: Dict[str, Any] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            _literal(node, path)  # raises: not an assignment of data
        cfg_dict[node.targets[0].id] = _literal(node.value, path)
    return Config(cfg_dict)
