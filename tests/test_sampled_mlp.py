"""SampledMlp: the batched network equals its Gluon twin run sample by sample."""
import mxnet as mx
import numpy as np
import pytest

from xfer.prob import FunctionalNetwork
from xfer.sampled_mlp import SampledMlp, compile_graph, flatten_concat


def _split_sample(flat, shapes):
    pieces = np.split(flat, np.cumsum([int(np.prod(shape)) for shape in shapes])[:-1])
    return [mx.nd.array(piece.reshape(shape)) for piece, shape in zip(pieces, shapes)]


@pytest.mark.parametrize('num_layers, expected_shapes', [
    (0, [(3, 4), (3,)]),
    (1, [(5, 4), (5,), (3, 5), (3,)]),
    (2, [(5, 4), (5,), (5, 5), (5,), (3, 5), (3,)]),
])
def test_shapes_follow_the_gluon_twin(num_layers, expected_shapes):
    model = SampledMlp(n_in=4, n_classes=3, num_layers=num_layers, n_hidden=5)
    network = model.gluon_network()
    network.initialize()

    assert model.shapes == expected_shapes == FunctionalNetwork(network).shapes
    assert model.num_params == sum(int(np.prod(shape)) for shape in expected_shapes)
    assert model.architecture() == {'n_in': 4, 'n_classes': 3, 'num_layers': num_layers, 'n_hidden': 5}


@pytest.mark.parametrize('num_layers', [0, 1, 2])
def test_logits_of_all_samples_equal_the_gluon_twin_run_per_sample(num_layers):
    model = SampledMlp(n_in=4, n_classes=3, num_layers=num_layers, n_hidden=5)
    network = model.gluon_network()
    network.initialize()
    twin = FunctionalNetwork(network)
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(6, model.num_params)).astype(np.float32)
    data = mx.nd.array(rng.normal(size=(7, 4)))

    logits = compile_graph(model.logits(mx.sym.var('data'), mx.sym.var('weights')))(
        data=data, weights=mx.nd.array(weights))

    assert logits.shape == (6, 7, 3)
    for index, flat in enumerate(weights):
        np.testing.assert_allclose(logits[index].asnumpy(), twin(data, _split_sample(flat, model.shapes)).asnumpy(),
                                   rtol=1e-5, atol=1e-5)


def test_flatten_concat_lays_arrays_end_to_end():
    flat = flatten_concat([mx.nd.array([[1, 2], [3, 4]]), mx.nd.array([5])])

    np.testing.assert_array_equal(flat.asnumpy(), [1, 2, 3, 4, 5])
