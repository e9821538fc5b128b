"""Reading Xfer 1.1's BNN posterior, which it saved as pickled gluon Parameters in an ``.npz``.

This is the one place of the persistence layer that unpickles: a restricted unpickler whose
``find_class`` allows only the few classes such a file holds, each replaced by an inert
stand-in; the weights are decoded from MXNet's raw array bytes, and anything else is refused.
"""
import os
import zipfile
import zlib

import mxnet as mx
import numpy as np

from .errors import SavedFileError
from .modules import _mxnet_reason


def read_xfer11_parameter_lists(path, expected_names):
    """The arrays of the gluon Parameters that Xfer 1.1 pickled into an ``.npz`` (name -> list of arrays).

    Xfer 1.1 saved a BNN posterior as object arrays of ``mxnet.gluon.Parameter``. They are read
    with a restricted unpickler: only the few classes such a file holds are allowed, each
    replaced by an inert stand-in that just keeps its saved state; the weights are then decoded
    from MXNet's raw array bytes. Anything else in the pickle is refused.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError('Saved file not found: {}'.format(path))
    try:
        with zipfile.ZipFile(path) as archive:
            return {name: _parameter_arrays(_unpickled_member(archive, name, path), name, path)
                    for name in expected_names}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        if isinstance(error, SavedFileError):
            raise
        raise SavedFileError(path, 'not a readable .npz file (truncated or edited?): {}'.format(error)) from None


class _Inert:
    """Stands in for an allowed class while unpickling: takes any arguments and keeps the saved state."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


_ALLOWED_PICKLE_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'): np.core.multiarray._reconstruct,
    ('numpy', 'ndarray'): np.ndarray,
    ('numpy', 'dtype'): np.dtype,
    ('builtins', 'bytearray'): bytearray,
    ('mxnet.gluon.parameter', 'Parameter'): _Inert,
    ('mxnet.ndarray.ndarray', 'NDArray'): _Inert,
    ('mxnet.context', 'Context'): _Inert,
    ('mxnet.initializer', 'Constant'): _Inert,
    ('mxnet.initializer', 'Normal'): _Inert,
}


def _unpickled_member(archive, name, path):
    import pickle

    class RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module, global_name):
            if (module, global_name) in _ALLOWED_PICKLE_GLOBALS:
                return _ALLOWED_PICKLE_GLOBALS[module, global_name]
            if module == 'numpy' and global_name in ('float16', 'float32', 'float64'):
                return getattr(np, global_name)
            raise pickle.UnpicklingError('{}.{} is not allowed in a saved posterior'.format(module, global_name))

    try:
        info = archive.getinfo(name + '.npy')
    except KeyError:
        raise SavedFileError(path, "the array '{}' is missing".format(name)) from None
    with archive.open(info) as member:
        np.lib.format.read_magic(member)
        _, _, dtype = np.lib.format.read_array_header_1_0(member)
        if not dtype.hasobject:
            raise SavedFileError(path, "'{}' should hold the pickled Parameters Xfer 1.1 saved".format(name))
        try:
            return RestrictedUnpickler(member).load()
        except (pickle.UnpicklingError, AttributeError, TypeError, IndexError, KeyError) as error:
            raise SavedFileError(path, "'{}' cannot be read safely: {}".format(name, error)) from None


def _parameter_arrays(parameters, name, path):
    """The first-device value of each saved Parameter, decoded from MXNet's raw array bytes."""
    arrays = []
    for parameter in np.asarray(parameters, dtype=object).ravel():
        state = getattr(parameter, 'state', None)
        data = state.get('_data') if isinstance(state, dict) else None
        raw = getattr(data[0], 'state', {}).get('handle') if isinstance(data, list) and data else None
        if not isinstance(raw, (bytes, bytearray)):
            raise SavedFileError(path, "'{}' holds something other than initialised gluon Parameters".format(name))
        array = mx.nd.NDArray.__new__(mx.nd.NDArray)
        try:
            array.__setstate__({'handle': bytearray(raw)})  # MXNet's own decoder of one array's bytes
        except mx.base.MXNetError as error:
            raise SavedFileError(path, "'{}' holds an unreadable array: {}".format(
                name, _mxnet_reason(error))) from None
        arrays.append(array.asnumpy())
    return arrays
