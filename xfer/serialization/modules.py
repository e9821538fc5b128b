"""Saving and loading an MXNet module as a network (``-symbol.json``) and its params (``-0000.params``),
with the reasons MXNet gives for an unreadable file turned into a :class:`SavedFileError`."""
import json
import os

import mxnet as mx

from ..model_handler import ModelHandler, naming
from .atomic_save import _fresh_file
from .errors import SavedFileError
from .json_fields import parse_json


def save_module(module, prefix):
    """Write a module's network and params as ``<prefix>-symbol.json`` and ``<prefix>-0000.params``
    (new files: nothing at those names is overwritten or written through)."""
    handler = ModelHandler(module)
    with _fresh_file('{}-symbol.json'.format(prefix)) as symbol_file:
        symbol_file.write(handler.symbol.tojson().encode('utf-8'))
    params = {'arg:' + name: value for name, value in handler.arg_params.items()}
    params.update({'aux:' + name: value for name, value in handler.aux_params.items()})
    params_path = '{}-0000.params'.format(prefix)
    with _fresh_file(params_path):
        pass  # claims the name as a new regular file; MXNet then fills it by name
    mx.nd.save(params_path, params)


def load_module(prefix):
    """A module with the network and params written by :func:`save_module` (not bound)."""
    symbol_path, params_path = '{}-symbol.json'.format(prefix), '{}-0000.params'.format(prefix)
    for path in (symbol_path, params_path):
        if not os.path.isfile(path):
            raise FileNotFoundError('Saved file not found: {}'.format(path))
    graph = parse_json(symbol_path)
    if not isinstance(graph, dict) or not isinstance(graph.get('nodes'), list):
        raise SavedFileError(symbol_path, 'not an MXNet network: no list of nodes')
    try:
        symbol = mx.sym.load_json(json.dumps(graph))
    except mx.base.MXNetError as error:
        raise SavedFileError(symbol_path, 'not a readable network: {}'.format(_mxnet_reason(error))) from None
    if os.path.getsize(params_path) == 0:
        raise SavedFileError(params_path, 'the file is empty (0 bytes)')
    try:
        saved = mx.nd.load(params_path)
    except mx.base.MXNetError as error:
        raise SavedFileError(params_path, 'params cannot be read: {}'.format(_mxnet_reason(error))) from None
    if not isinstance(saved, dict) or not all(key[:4] in ('arg:', 'aux:') for key in saved):
        raise SavedFileError(params_path, "params cannot be read: expected names starting 'arg:' or 'aux:'")
    module = mx.mod.Module(symbol, label_names=naming.label_names(symbol))
    module._arg_params = {key[4:]: value for key, value in saved.items() if key.startswith('arg:')}
    module._aux_params = {key[4:]: value for key, value in saved.items() if key.startswith('aux:')}
    module.params_initialized = True
    return module


def _mxnet_reason(error):
    """The line of an MXNet error that says what went wrong (not its traceback header)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    reason = lines[-1] if lines else repr(error)
    reason = reason.split('MXNetError: ', 1)[-1]
    if reason.startswith('Check failed:'):
        reason = reason.rsplit(': ', 1)[-1]
    return reason
