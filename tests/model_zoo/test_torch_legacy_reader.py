"""The legacy PyTorch reader: tensors come back exactly, and nothing in a file is ever executed."""
import io
import pickle
import struct
import sys
import types

import numpy as np
import pytest

from xfer.model_zoo.torch_legacy_reader import WeightFileError, read_state_dict

MAGIC_NUMBER = 0x1950a86a20f9469cfc6c


@pytest.fixture
def fake_torch(monkeypatch):
    """Stand-ins importable as ``torch.FloatStorage`` and ``torch._utils._rebuild_tensor_v2``, so that
    the standard pickler writes the globals a real legacy file holds (torch itself is not needed)."""
    torch = types.ModuleType('torch')
    utils = types.ModuleType('torch._utils')

    class FloatStorage:
        pass

    class LongStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError('never called while writing')

    for stand_in, module in ((FloatStorage, 'torch'), (LongStorage, 'torch'), (_rebuild_tensor_v2, 'torch._utils')):
        stand_in.__module__, stand_in.__qualname__ = module, stand_in.__name__
    torch.FloatStorage, torch.LongStorage, torch._utils, utils._rebuild_tensor_v2 = (
        FloatStorage, LongStorage, utils, _rebuild_tensor_v2)
    monkeypatch.setitem(sys.modules, 'torch', torch)
    monkeypatch.setitem(sys.modules, 'torch._utils', utils)
    return torch


class _Tensor:
    """What a legacy file stores for a tensor: a strided view of a storage."""

    def __init__(self, key, storage_type, offset, shape, strides):
        self.key, self.storage_type, self.offset, self.shape, self.strides = key, storage_type, offset, shape, strides

    def __reduce__(self):
        return sys.modules['torch._utils']._rebuild_tensor_v2, (_StorageId(self), self.offset, self.shape,
                                                                 self.strides, False, {})


class _StorageId:
    def __init__(self, tensor):
        self.tensor = tensor


def write_legacy_file(path, tensors, storages):
    """A legacy ``.pth`` file: ``tensors`` name -> _Tensor, ``storages`` key -> flat numpy array."""
    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _StorageId):
                tensor = obj.tensor
                return ('storage', tensor.storage_type, tensor.key, 'cpu', storages[tensor.key].size, None)
            return None

    stream = io.BytesIO()
    for header in (MAGIC_NUMBER, 1001, {'protocol_version': 1001, 'little_endian': True}):
        pickle.dump(header, stream, protocol=2)
    Pickler(stream, protocol=2).dump(dict(tensors))
    pickle.dump(sorted(storages), stream, protocol=2)
    for key in sorted(storages):
        stream.write(struct.pack('<q', storages[key].size))
        stream.write(storages[key].astype(storages[key].dtype.newbyteorder('<')).tobytes())
    with open(path, 'wb') as weight_file:
        weight_file.write(stream.getvalue())


def test_tensors_come_back_with_their_values_shapes_strides_and_offsets(tmp_path, fake_torch):
    flat = np.arange(24, dtype=np.float32) * 0.5
    path = str(tmp_path / 'weights.pth')
    write_legacy_file(path, {
        'conv.weight': _Tensor('0', fake_torch.FloatStorage, 0, (2, 3, 4), (12, 4, 1)),
        'transposed': _Tensor('0', fake_torch.FloatStorage, 0, (4, 6), (1, 4)),
        'slice': _Tensor('0', fake_torch.FloatStorage, 5, (3,), (2,)),
        'steps': _Tensor('1', fake_torch.LongStorage, 0, (), ()),
    }, {'0': flat, '1': np.array([7], dtype=np.int64)})
    tensors = read_state_dict(path)
    assert list(tensors) == ['conv.weight', 'transposed', 'slice', 'steps']
    np.testing.assert_array_equal(tensors['conv.weight'], flat.reshape(2, 3, 4))
    np.testing.assert_array_equal(tensors['transposed'], flat.reshape(6, 4).T)
    np.testing.assert_array_equal(tensors['slice'], flat[[5, 7, 9]])
    assert tensors['steps'].dtype == np.int64 and tensors['steps'] == 7


def test_a_file_that_asks_for_a_function_is_refused_without_running_it(tmp_path):
    witness = tmp_path / 'ran'
    hostile = (pickle.dumps(MAGIC_NUMBER, protocol=2) + pickle.dumps(1001, protocol=2)
               + pickle.dumps({}, protocol=2) + b'cos\nsystem\n(Vtouch ' + str(witness).encode() + b'\ntR.')
    path = tmp_path / 'hostile.pth'
    path.write_bytes(hostile)
    with pytest.raises(WeightFileError, match=r'hostile\.pth.*os\.system'):
        read_state_dict(str(path))
    assert not witness.exists()


def test_a_truncated_file_is_an_error_naming_it(tmp_path, fake_torch):
    path = str(tmp_path / 'weights.pth')
    write_legacy_file(path, {'w': _Tensor('0', fake_torch.FloatStorage, 0, (10,), (1,))},
                      {'0': np.ones(10, dtype=np.float32)})
    with open(path, 'rb') as weight_file:
        content = weight_file.read()
    for cut, problem in ((len(content) - 4, 'truncated'), (30, '')):
        broken = tmp_path / 'cut{}.pth'.format(cut)
        broken.write_bytes(content[:cut])
        with pytest.raises(WeightFileError, match=r'cut{}\.pth.*{}'.format(cut, problem)):
            read_state_dict(str(broken))


def test_a_tensor_reaching_outside_its_storage_is_refused(tmp_path, fake_torch):
    path = str(tmp_path / 'weights.pth')
    write_legacy_file(path, {'w': _Tensor('0', fake_torch.FloatStorage, 4, (10,), (1,))},
                      {'0': np.ones(10, dtype=np.float32)})
    with pytest.raises(WeightFileError, match='outside its storage'):
        read_state_dict(path)


def test_not_a_pytorch_file(tmp_path):
    path = tmp_path / 'notes.pth'
    path.write_bytes(pickle.dumps('hello', protocol=2))
    with pytest.raises(WeightFileError, match=r'notes\.pth.*magic number'):
        read_state_dict(str(path))
