"""Arrays in saved files: as plain JSON numbers (:func:`encode_array`, :func:`encode_attributes`) or
in an uncompressed ``.npz`` whose headers are checked before any data is read (:func:`read_npz`).

Only numeric dtypes are accepted, never pickled objects.
"""
import os
import zipfile
import zlib

import numpy as np

from .atomic_save import _fresh_file
from .errors import SavedFileError
from .json_fields import _JSON_SCALARS

_ARRAY_KINDS = 'biuf'  # bool, signed and unsigned ints, floats: the only dtypes a file may ask for
#: Deflate cannot expand data more than about 1032-fold: a larger ratio marks a tampered archive.
_MAX_DEFLATE_RATIO = 1032


def encode_array(array):
    """A JSON-ready description of ``array`` (dtype, shape, values), read back by :func:`decode_array`."""
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
    if not np.all(np.isfinite(array)):
        raise SavedFileError(path, "'{}' holds NaN or infinite values".format(key))
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
    """Write ``arrays`` (name -> array) as an uncompressed ``.npz`` to a new file at ``path``."""
    with _fresh_file(path) as npz_file:
        np.savez(npz_file, **{name: np.asarray(array) for name, array in arrays.items()})


def read_npz(path, expected_names):
    """The arrays ``expected_names`` saved in ``path``, and no other member of the archive.

    Every member's ``.npy`` header is checked before its data is read: numeric dtype (no
    pickled objects) and a size that the archive really holds, so a header declaring a huge
    array is refused instead of allocated.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError('Saved file not found: {}'.format(path))
    if os.path.getsize(path) == 0:
        raise SavedFileError(path, 'the file is empty (0 bytes)')
    try:
        with zipfile.ZipFile(path) as archive:
            return {name: _read_member(archive, name, path) for name in expected_names}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as error:
        if isinstance(error, SavedFileError):
            raise
        raise SavedFileError(path, 'not a readable .npz file (truncated or edited?): {}'.format(error)) from None


def _read_member(archive, name, path):
    try:
        info = archive.getinfo(name + '.npy')
    except KeyError:
        raise SavedFileError(path, "the array '{}' is missing".format(name)) from None
    if info.compress_size > os.path.getsize(path) or info.file_size > max(
            info.compress_size * _MAX_DEFLATE_RATIO, info.compress_size + 1024):
        raise SavedFileError(path, "the archive's directory gives '{}' impossible sizes".format(name))
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = reader(member)
        if dtype.hasobject or dtype.kind not in _ARRAY_KINDS:
            raise SavedFileError(path, "'{}' has dtype {}, not a numeric one".format(name, dtype))
        declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
        held = info.file_size - member.tell()
        if declared != held:
            raise SavedFileError(path, "the header of '{}' declares shape {} ({} bytes) but the archive holds {} "
                                       "bytes for it".format(name, shape, declared, held))
        data = member.read(held)
    if len(data) != held:
        raise SavedFileError(path, "'{}' is truncated".format(name))
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape, order='F' if fortran_order else 'C').copy()
