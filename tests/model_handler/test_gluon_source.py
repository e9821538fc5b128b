"""Gluon HybridBlocks as sources: converted with their params, layers named as Gluon names them."""
import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn

import xfer
from xfer.model_handler import ModelHandler, gluon_to_module


@pytest.fixture
def gluon_net():
    """A small conv net in the style of the seed tutorial, initialised and run once."""
    mx.random.seed(0)
    net = nn.HybridSequential(prefix='net_')
    with net.name_scope():
        net.add(nn.Conv2D(6, 5, prefix='conv1_'), nn.BatchNorm(prefix='bn1_'), nn.Activation('relu', prefix='act1_'),
                nn.MaxPool2D(prefix='pool1_'), nn.Flatten(prefix='flat_'), nn.Dense(16, prefix='fc1_'),
                nn.Dense(5, prefix='fc2_'))
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 1, 28, 28)))
    return net


def test_layers_keep_the_names_gluon_shows(gluon_net):
    handler = ModelHandler(gluon_net)
    assert handler.layer_names[:4] == ['net_conv1', 'net_bn1', 'net_act1', 'net_pool1']
    assert handler.layer_names[-2:] == ['net_fc1', 'net_fc2']
    assert handler.get_layer_parameters(['net_conv1', 'net_bn1']) == [
        'net_conv1_weight', 'net_conv1_bias', 'net_bn1_gamma', 'net_bn1_beta', 'net_bn1_running_mean',
        'net_bn1_running_var']
    assert sorted(handler.aux_params) == ['net_bn1_running_mean', 'net_bn1_running_var']


def test_features_equal_the_gluon_forward_pass(gluon_net, mnist_digits):
    images = mnist_digits[0][:40]
    expected = gluon_net(mx.nd.array(images)).asnumpy()
    features, _ = ModelHandler(gluon_net).get_layer_output(mx.io.NDArrayIter(images, batch_size=16), ['net_fc2'])
    np.testing.assert_allclose(features['net_fc2'], expected, rtol=1e-5, atol=1e-6)


def test_the_module_holds_a_copy_of_the_params(gluon_net):
    module = gluon_to_module(gluon_net)
    assert isinstance(module, mx.mod.Module) and not module.binded
    module._arg_params['net_fc2_bias'][:] = 7
    assert (gluon_net.collect_params()['net_fc2_bias'].data().asnumpy() != 7).all()


def test_an_uninitialised_block_is_refused():
    with pytest.raises(ValueError, match='not initialised or have unknown shapes'):
        gluon_to_module(nn.Dense(3))
    with pytest.raises(TypeError, match='Expected a gluon.HybridBlock, got Module'):
        gluon_to_module(mx.mod.Module(mx.sym.var('data'), label_names=None))


def test_a_meta_model_repurposer_takes_a_block(gluon_net, mnist_digits, tmp_path):
    images, labels = mnist_digits
    iterator = mx.io.NDArrayIter(images[:120], labels[:120], batch_size=20, label_name='softmax_label')
    repurposer = xfer.LrRepurposer(gluon_net, ['net_fc1'])
    repurposer.repurpose(iterator)
    probabilities = repurposer.predict_probability(iterator)
    repurposer.save_repurposer('from_gluon', str(tmp_path))
    np.testing.assert_array_equal(xfer.load('from_gluon', str(tmp_path)).predict_probability(iterator),
                                  probabilities)
