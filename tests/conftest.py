"""Shared fixtures: the project's trained source models, real MNIST digits and graph shapes."""
import os

os.environ.setdefault('MXNET_SUBGRAPH_VERBOSE', '0')

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from xfer import datasets  # noqa: E402

MODEL_DIR = os.path.join(os.path.dirname(__file__), 'data', 'models')
LENET_LAYERS = ['conv1', 'act1', 'pool1', 'conv2', 'act2', 'pool2', 'flatten', 'fc1', 'act3', 'fc2', 'softmax']
MLP_LAYERS = ['flatten', 'fc1', 'act1', 'dropout1', 'fc2', 'bn2', 'act2', 'fc3', 'softmax']


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: longer tests (still run in CI)')
    config.addinivalue_line('markers', 'gpu: needs a GPU; skipped without one')


def load_source_module(name):
    """A module loaded from the project's checkpoints, unbound, params stored in it."""
    return mx.mod.Module.load(os.path.join(MODEL_DIR, name), 0, label_names=['softmax_label'])


@pytest.fixture
def lenet_module():
    return load_source_module('lenet_mnist04')


@pytest.fixture
def mlp_module():
    return load_source_module('mlp_mnist04')


@pytest.fixture(scope='session')
def mnist_digits():
    """300 real MNIST digits (all ten classes, shuffled) and their labels."""
    images, labels = datasets.load_mnist_5k()
    order = np.random.default_rng(0).permutation(len(labels))[:300]
    return images[order], labels[order]


@pytest.fixture
def mnist_iterator(mnist_digits):
    """Real digits in batches of 32; 300 is no multiple of 32, so the last batch is padded."""
    images, labels = mnist_digits
    return mx.io.NDArrayIter(images, labels, batch_size=32, label_name='softmax_label')


def forward(symbol, arg_params, aux_params, data, data_name='data'):
    """A bare MXNet forward pass of ``symbol`` (inference mode), for comparing numbers."""
    label_shapes = {name: (data.shape[0],) for name in symbol.list_arguments() if name.endswith('_label')}
    executor = symbol.simple_bind(mx.cpu(), grad_req='null', **{data_name: data.shape}, **label_shapes)
    for name, array in executor.arg_dict.items():
        if name in arg_params:
            arg_params[name].copyto(array)
    for name, array in executor.aux_dict.items():
        aux_params[name].copyto(array)
    return executor.forward(is_train=False, **{data_name: mx.nd.array(data)})[0].asnumpy()


@pytest.fixture(scope='session')
def resnet_parts():
    """ResNet-18 (random weights) exported from the Gluon model zoo: symbol, arg and aux params."""
    mx.random.seed(0)
    net = mx.gluon.model_zoo.vision.resnet18_v1(classes=10)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 3, 32, 32)))
    symbol = net(mx.sym.var('data'))
    params = {name: param.data() for name, param in net.collect_params().items()}
    aux_names = set(symbol.list_auxiliary_states())
    arg_params = {k: v for k, v in params.items() if k not in aux_names}
    aux_params = {k: v for k, v in params.items() if k in aux_names}
    return symbol, arg_params, aux_params


@pytest.fixture
def resnet_module(resnet_parts):
    symbol, arg_params, aux_params = resnet_parts
    module = mx.mod.Module(symbol, label_names=None)
    module.bind(data_shapes=[('data', (2, 3, 32, 32))], for_training=False)
    module.set_params(arg_params, aux_params)
    return module


@pytest.fixture
def two_output_module():
    """A net whose shared trunk feeds two heads, grouped as two outputs."""
    data = mx.sym.var('data')
    trunk = mx.sym.FullyConnected(data, name='trunk', num_hidden=8)
    trunk = mx.sym.Activation(trunk, name='trunk_act', act_type='relu')
    head_a = mx.sym.FullyConnected(trunk, name='head_a', num_hidden=3)
    head_b = mx.sym.FullyConnected(trunk, name='head_b', num_hidden=2)
    module = mx.mod.Module(mx.sym.Group([head_a, head_b]), label_names=None)
    module.bind(data_shapes=[('data', (4, 6))], for_training=False)
    module.init_params()
    return module
