"""xfer.utils: context functions to and from their saved names."""
import mxnet as mx
import pytest

from xfer.utils import as_context_function, deserialize_ctx_fn, serialize_ctx_fn


def test_context_functions_round_trip():
    assert serialize_ctx_fn(mx.cpu) == 'cpu' and serialize_ctx_fn(mx.gpu) == 'gpu'
    assert serialize_ctx_fn(mx.context.cpu) == 'cpu'
    assert deserialize_ctx_fn('cpu') is mx.cpu and deserialize_ctx_fn('gpu') is mx.gpu
    assert as_context_function('gpu') is mx.gpu and as_context_function(mx.cpu) is mx.cpu


@pytest.mark.parametrize('bad', [mx.cpu(), 'cpu', len, None])
def test_serialize_rejects_anything_else(bad):
    with pytest.raises(ValueError, match='Unknown context function'):
        serialize_ctx_fn(bad)


@pytest.mark.parametrize('bad', ['tpu', 'CPU', mx.cpu, 0])
def test_deserialize_rejects_anything_else(bad):
    with pytest.raises(ValueError, match='Unknown context function name'):
        deserialize_ctx_fn(bad)
