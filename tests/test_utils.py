"""xfer.utils: context functions to and from their saved names, and unit-length feature rows."""
import mxnet as mx
import numpy as np
import pytest

from xfer.utils import as_context_function, deserialize_ctx_fn, l2_normalize_rows, serialize_ctx_fn


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


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_rows_are_scaled_to_unit_length_in_their_own_dtype(dtype):
    features = np.array([[3.0, 4.0], [0.0, 0.0], [-1e-3, 0.0]], dtype=dtype)
    normalized = l2_normalize_rows(features)
    assert normalized.dtype == dtype
    np.testing.assert_allclose(normalized, [[0.6, 0.8], [0.0, 0.0], [-1.0, 0.0]], rtol=1e-6)
