"""Reading and writing saved repurposers as JSON and ``.npz``, with errors that name the file.

Nothing here executes code from a file: no pickle, no eval. Arrays travel as plain numbers.
"""
import json
import os

import mxnet as mx
import numpy as np

from .model_handler import ModelHandler

_ARRAY_KINDS = 'biuf'  # bool, signed and unsigned ints, floats: the only dtypes a file may ask for
_JSON_SCALARS = (bool, int, float, str, type(None))


class SavedFileError(ValueError):
    """A saved file that is truncated, tampered with or missing a part."""

    def __init__(self, path, problem):
        super().__init__('Bad saved file {}: {}'.format(path, problem))
        self.path = path


def write_json(path, content):
    with open(path, 'w') as json_file:
        json.dump(content, json_file, indent=1)


def read_json(path):
    """The dict saved in ``path``; FileNotFoundError or SavedFileError naming it otherwise."""
    if not os.path.isfile(path):
        raise FileNotFoundError('Saved file not found: {}'.format(path))
    try:
        with open(path) as json_file:
            content = json.load(json_file)
    except (ValueError, UnicodeDecodeError) as error:
        raise SavedFileError(path, 'not valid JSON (truncated or edited?): {}'.format(error)) from None
    if not isinstance(content, dict):
        raise SavedFileError(path, 'expected a JSON object, found {}'.format(type(content).__name__))
    return content


def require(content, key, expected_type, path):
    """``content[key]``, checked to exist and to be of ``expected_type``."""
    if key not in content:
        raise SavedFileError(path, "the key '{}' is missing".format(key))
    value = content[key]
    if not isinstance(value, expected_type) or (isinstance(value, bool) and expected_type in (int, float)):
        names = getattr(expected_type, '__name__', None) or ' or '.join(t.__name__ for t in expected_type)
        raise SavedFileError(path, "'{}' should be of type {}, found {}".format(key, names, type(value).__name__))
    return value


def encode_array(array):
    array = np.asarray(array)
    return {'dtype': array.dtype.str, 'shape': list(array.shape), 'data': array.ravel().tolist()}


def decode_array(value, path, key):
    """The array that :func:`encode_array` described, after checking dtype, shape and size."""
    if not isinstance(value, dict) or set(value) != {'dtype', 'shape', 'data'}:
        raise SavedFileError(path, "'{}' is not a saved array".format(key))
    try:
        dtype = np.dtype(value['dtype'])
    except TypeError:
        raise SavedFileError(path, "'{}' has an unknown dtype {!r}".format(key, value['dtype'])) from None
    shape = value['shape']
    if dtype.kind not in _ARRAY_KINDS or not isinstance(shape, list) or not all(
            isinstance(n, int) and n >= 0 for n in shape) or not isinstance(value['data'], list):
        raise SavedFileError(path, "'{}' is not a numeric array of a valid shape".format(key))
    try:
        array = np.array(value['data'], dtype=dtype)
    except (TypeError, ValueError):
        raise SavedFileError(path, "'{}' holds values that are not numbers".format(key)) from None
    if array.ndim != 1 or array.size != int(np.prod(shape)):
        raise SavedFileError(path, "'{}' holds {} values, its shape {} needs {}".format(
            key, array.size, shape, int(np.prod(shape))))
    return array.reshape(shape)


def encode_attributes(obj, names):
    """The named attributes of ``obj`` as JSON values (arrays encoded, scalars as they are)."""
    encoded = {}
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, np.ndarray):
            encoded[name] = {'array': encode_array(value)}
        elif isinstance(value, np.generic):
            encoded[name] = {'scalar': encode_array(value)}
        elif isinstance(value, (tuple, list)) and all(isinstance(item, _JSON_SCALARS) for item in value):
            encoded[name] = {'tuple' if isinstance(value, tuple) else 'list': list(value)}
        elif isinstance(value, _JSON_SCALARS):
            encoded[name] = {'value': value}
        else:
            raise TypeError('Cannot save attribute {} of type {}'.format(name, type(value).__name__))
    return encoded


def decode_attributes(encoded, path):
    """Attributes saved by :func:`encode_attributes`, as a dict of name to value."""
    if not isinstance(encoded, dict):
        raise SavedFileError(path, 'saved attributes should be a JSON object')
    decoded = {}
    for name, wrapped in encoded.items():
        if not isinstance(wrapped, dict) or len(wrapped) != 1:
            raise SavedFileError(path, "attribute '{}' is malformed".format(name))
        (kind, value), = wrapped.items()
        if kind == 'array':
            decoded[name] = decode_array(value, path, name)
        elif kind == 'scalar':
            decoded[name] = decode_array(value, path, name)[()]
        elif kind in ('tuple', 'list') and isinstance(value, list):
            decoded[name] = tuple(value) if kind == 'tuple' else value
        elif kind == 'value' and isinstance(value, _JSON_SCALARS):
            decoded[name] = value
        else:
            raise SavedFileError(path, "attribute '{}' is malformed".format(name))
    return decoded


def write_npz(path, arrays):
    np.savez(path, **{name: np.asarray(array) for name, array in arrays.items()})


def read_npz(path, expected_names):
    """The arrays saved in ``path``, all of ``expected_names`` present; pickled objects refused."""
    if not os.path.isfile(path):
        raise FileNotFoundError('Saved file not found: {}'.format(path))
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {name: saved[name] for name in saved.files}
    except (OSError, ValueError, EOFError) as error:
        raise SavedFileError(path, 'not a readable .npz file: {}'.format(error)) from None
    missing = sorted(set(expected_names) - set(arrays))
    if missing:
        raise SavedFileError(path, 'arrays {} are missing'.format(missing))
    return arrays


def save_module(module, prefix):
    """Write a module's network and params as ``<prefix>-symbol.json`` and ``<prefix>-0000.params``."""
    handler = ModelHandler(module)
    handler.save_symbol(prefix)
    params = {'arg:' + name: value for name, value in handler.arg_params.items()}
    params.update({'aux:' + name: value for name, value in handler.aux_params.items()})
    mx.nd.save('{}-0000.params'.format(prefix), params)


def load_module(prefix):
    """A module with the network and params written by :func:`save_module` (not bound)."""
    symbol_path, params_path = '{}-symbol.json'.format(prefix), '{}-0000.params'.format(prefix)
    for path in (symbol_path, params_path):
        if not os.path.isfile(path):
            raise FileNotFoundError('Saved file not found: {}'.format(path))
    try:
        symbol = mx.sym.load(symbol_path)
    except mx.base.MXNetError as error:
        raise SavedFileError(symbol_path, 'not a readable network: {}'.format(_first_line(error))) from None
    labels = [name for name in symbol.list_arguments() if name.endswith('_label')]
    try:
        return mx.mod.Module.load(prefix, 0, label_names=labels)
    except mx.base.MXNetError as error:
        raise SavedFileError(params_path, 'params cannot be read: {}'.format(_first_line(error))) from None


def _first_line(error):
    return str(error).strip().splitlines()[0]


def encode_estimator(estimator):
    """The fitted state of a scikit-learn estimator: every attribute that is not a constructor argument."""
    fitted = sorted(set(vars(estimator)) - set(estimator.get_params()))
    return encode_attributes(estimator, fitted)


def restore_estimator(estimator, encoded, path):
    """``estimator`` (unfitted, built from the saved params) given the fitted state saved by
    :func:`encode_estimator`, then checked to predict on one sample of zeros."""
    for name, value in decode_attributes(encoded, path).items():
        setattr(estimator, name, value)
    try:
        estimator.predict(np.zeros((1, int(estimator.n_features_in_))))
    except Exception as error:  # any failure here means the saved state does not make a model
        raise SavedFileError(path, 'the saved {} does not predict: {!r}'.format(
            type(estimator).__name__, error)) from None
    return estimator
