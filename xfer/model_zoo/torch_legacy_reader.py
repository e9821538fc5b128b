"""Read the tensors of a legacy (non-zip) PyTorch ``.pth`` file without torch and without running it.

The legacy format is five pickle streams (magic number, protocol version, system info, the
object with its tensors as persistent references to storages, the storage keys in file order)
followed by each storage's raw little-endian bytes, prefixed by its element count. The object
pickle is read by an unpickler that resolves only an explicit allow-list of globals, each to a
harmless stand-in defined here; any other global, or a file that does not follow the layout,
is a :class:`WeightFileError` naming the file. This is the one place in xfer that unpickles,
and only to read this weight format.
"""
import collections
import io
import pickle
import struct

import numpy as np

_MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
_PROTOCOL_VERSION = 1001
_STORAGE_DTYPES = {
    'FloatStorage': np.dtype('<f4'), 'DoubleStorage': np.dtype('<f8'), 'HalfStorage': np.dtype('<f2'),
    'LongStorage': np.dtype('<i8'), 'IntStorage': np.dtype('<i4'), 'ShortStorage': np.dtype('<i2'),
    'CharStorage': np.dtype('i1'), 'ByteStorage': np.dtype('u1'), 'BoolStorage': np.dtype('?'),
}


class WeightFileError(ValueError):
    """A weight file that is corrupt, truncated or asks for anything beyond plain tensors."""

    def __init__(self, path, problem):
        super().__init__('Bad weight file {}: {}'.format(path, problem))
        self.path = path


class _StorageType:
    """Stands in for ``torch.<X>Storage``: only the element type is kept."""

    def __init__(self, dtype):
        self.dtype = dtype


class _StorageReference:
    """A storage the object pickle points to; its bytes follow the pickles."""

    def __init__(self, key, dtype, size):
        self.key, self.dtype, self.size = key, dtype, size


class _TensorReference:
    """What ``torch._utils._rebuild_tensor_v2`` was asked to build: a strided view of a storage."""

    def __init__(self, storage, offset, shape, strides):
        self.storage, self.offset, self.shape, self.strides = storage, offset, tuple(shape), tuple(strides)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    if not isinstance(storage, _StorageReference):
        raise pickle.UnpicklingError('a tensor that does not point to a storage')
    return _TensorReference(storage, storage_offset, size, stride)


def _allowed_globals():
    allowed = {('collections', 'OrderedDict'): collections.OrderedDict,
               ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor}
    allowed.update({('torch', name): _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()})
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the allow-listed globals, and storages as references; nothing is executed."""

    _ALLOWED = _allowed_globals()

    def __init__(self, stream):
        super().__init__(stream)
        self.storages = {}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError('it refers to {}.{}, which a weight file has no need of'.format(
                module, name))
        return self._ALLOWED[(module, name)]

    def persistent_load(self, saved_id):
        if not (isinstance(saved_id, tuple) and len(saved_id) >= 5 and saved_id[0] == 'storage'
                and isinstance(saved_id[1], _StorageType) and isinstance(saved_id[4], int)):
            raise pickle.UnpicklingError('an unexpected persistent reference {!r}'.format(saved_id[:2]))
        key = str(saved_id[2])
        if key not in self.storages:
            self.storages[key] = _StorageReference(key, saved_id[1].dtype, saved_id[4])
        return self.storages[key]


def read_state_dict(path):
    """The tensors of a legacy PyTorch state dict, as ``{name: np.ndarray}`` in file order.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    WeightFileError
        If the file is not a legacy PyTorch file of plain tensors (corrupt, truncated, hostile).
    """
    with open(path, 'rb') as weight_file:
        content = weight_file.read()
    try:
        return _parsed(content)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            struct.error) as error:
        raise WeightFileError(path, str(error) or type(error).__name__) from None


def _parsed(content):
    stream = io.BytesIO(content)
    if _RestrictedUnpickler(stream).load() != _MAGIC_NUMBER:
        raise ValueError('not a legacy PyTorch file (wrong magic number)')
    if _RestrictedUnpickler(stream).load() != _PROTOCOL_VERSION:
        raise ValueError('unsupported PyTorch protocol version')
    _RestrictedUnpickler(stream).load()  # system info: endianness and type sizes, little-endian assumed
    unpickler = _RestrictedUnpickler(stream)
    state = unpickler.load()
    keys = _RestrictedUnpickler(stream).load()
    if not isinstance(state, dict) or not all(isinstance(value, _TensorReference) for value in state.values()):
        raise ValueError('expected a dict of tensors (a state dict)')
    if not isinstance(keys, list) or set(map(str, keys)) != set(unpickler.storages):
        raise ValueError('the storage list does not match the tensors')
    buffers = _storage_buffers(content, stream.tell(), [unpickler.storages[str(key)] for key in keys])
    return collections.OrderedDict((name, _tensor_array(tensor, buffers)) for name, tensor in state.items())


def _storage_buffers(content, position, storages):
    """Each storage's elements, read from the bytes that follow the pickles."""
    buffers = {}
    for storage in storages:
        (count,) = struct.unpack_from('<q', content, position)
        position += 8
        if count != storage.size:
            raise ValueError('storage {} holds {} elements, the tensors expect {}'.format(
                storage.key, count, storage.size))
        end = position + count * storage.dtype.itemsize
        if end > len(content):
            raise ValueError('truncated: storage {} ends past the end of the file'.format(storage.key))
        buffers[storage.key] = np.frombuffer(content, dtype=storage.dtype, count=count, offset=position)
        position = end
    return buffers


def _tensor_array(tensor, buffers):
    """A copy of a tensor's elements as a native-endian array of its shape."""
    flat = buffers[tensor.storage.key]
    if tensor.shape and (min(tensor.shape) == 0 or not all(isinstance(s, int) and s >= 0 for s in tensor.strides)):
        raise ValueError('a tensor with shape {} and strides {}'.format(tensor.shape, tensor.strides))
    last = tensor.offset + sum((size - 1) * stride for size, stride in zip(tensor.shape, tensor.strides))
    if tensor.offset < 0 or last >= flat.size:
        raise ValueError('a tensor reaches outside its storage {}'.format(tensor.storage.key))
    itemsize = flat.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(flat[tensor.offset:], shape=tensor.shape,
                                           strides=[stride * itemsize for stride in tensor.strides])
    return np.array(view, dtype=flat.dtype.newbyteorder('='))
