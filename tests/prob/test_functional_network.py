"""Tests of FunctionalNetwork, which runs a Gluon net on supplied parameters."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from xfer.prob import FunctionalNetwork


def _mlp(ctx):
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(4, activation='relu', in_units=3), gluon.nn.Dense(2, in_units=4))
    net.initialize(ctx=ctx)
    return net


def test_shapes_follow_collect_params_order(ctx):
    network = FunctionalNetwork(_mlp(ctx))

    assert network.shapes == [(4, 3), (4,), (2, 4), (2,)]


def test_own_parameters_reproduce_the_net(ctx):
    net = _mlp(ctx)
    data = mx.nd.random.normal(shape=(5, 3), ctx=ctx)

    outputs = FunctionalNetwork(net)(data, [param.data() for param in
                                            net.collect_params().values()])

    np.testing.assert_allclose(outputs.asnumpy(), net(data).asnumpy(), rtol=1e-6)


def test_gradients_reach_the_supplied_parameters_only(ctx):
    net = _mlp(ctx)
    network = FunctionalNetwork(net)
    params = [mx.nd.random.uniform(0.1, 1.0, shape=shape, ctx=ctx) for shape in network.shapes]
    for param in params:
        param.attach_grad()
    before = [param.data().asnumpy() for param in net.collect_params().values()]

    with autograd.record():
        total = mx.nd.sum(network(mx.nd.ones((5, 3), ctx=ctx), params))
    total.backward()

    np.testing.assert_allclose(params[3].grad.asnumpy(), [5.0, 5.0])
    assert all(np.abs(param.grad.asnumpy()).sum() > 0 for param in params)
    for original, param in zip(before, net.collect_params().values()):
        np.testing.assert_array_equal(param.data().asnumpy(), original)


def test_needs_a_hybrid_block(ctx):
    with pytest.raises(TypeError, match='FunctionalNetwork needs a gluon HybridBlock, got '
                                        'Sequential'):
        FunctionalNetwork(gluon.nn.Sequential())


def test_needs_known_parameter_shapes(ctx):
    net = gluon.nn.Dense(2)
    net.initialize(ctx=ctx)

    with pytest.raises(ValueError, match=r"Parameters \['dense\d+_weight'\] have unknown shapes; "
                                         'give in_units'):
        FunctionalNetwork(net)


def test_wrong_number_of_parameters_is_named(ctx):
    network = FunctionalNetwork(_mlp(ctx))

    with pytest.raises(ValueError, match=r'Expected 4 parameter arrays \(.*\), got 1'):
        network(mx.nd.ones((1, 3)), [mx.nd.ones((4, 3))])

