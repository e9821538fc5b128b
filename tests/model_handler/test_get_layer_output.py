"""ModelHandler.get_layer_output: numbers, order, padding, devices and one bind per shape."""
import os
from collections import OrderedDict

import mxnet as mx
import numpy as np
import pytest

from xfer.model_handler import ModelHandler
from xfer.model_handler.exceptions import ModelArchitectureError
from xfer.model_handler.feature_buffer import FeatureBuffer
from tests.conftest import forward


def test_features_equal_a_bare_forward_pass(lenet_module, mnist_digits, mnist_iterator):
    images, labels = mnist_digits
    handler = ModelHandler(lenet_module)
    features, returned_labels = handler.get_layer_output(mnist_iterator, ['pool2', 'fc1'])
    assert isinstance(features, OrderedDict) and list(features) == ['pool2', 'fc1']
    assert features['pool2'].shape == (300, 64 * 4 * 4)
    assert features['fc1'].shape == (300, 128)
    internals = handler.symbol.get_internals()
    expected = forward(internals['fc1_output'], handler.arg_params, handler.aux_params, images)
    np.testing.assert_allclose(features['fc1'], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(returned_labels, labels)
    assert returned_labels.dtype.kind == 'i'


def test_several_layers_at_once_equal_one_at_a_time(mlp_module, mnist_iterator):
    handler = ModelHandler(mlp_module)
    layers = ['fc3', 'bn2', 'fc1', 'softmax']
    together, labels = handler.get_layer_output(mnist_iterator, layers)
    assert list(together) == layers
    for layer in layers:
        alone, alone_labels = handler.get_layer_output(mnist_iterator, [layer])
        np.testing.assert_array_equal(together[layer], alone[layer])
        np.testing.assert_array_equal(labels, alone_labels)


def test_padding_of_the_last_batch_is_removed(lenet_module, mnist_digits):
    images, labels = mnist_digits
    handler = ModelHandler(lenet_module)
    reference, _ = handler.get_layer_output(
        mx.io.NDArrayIter(images, labels, batch_size=100, label_name='softmax_label'), ['fc2'])
    for batch_size in [7, 32, 299, 512]:
        iterator = mx.io.NDArrayIter(images, labels, batch_size=batch_size, label_name='softmax_label')
        features, returned = handler.get_layer_output(iterator, ['fc2'])
        assert features['fc2'].shape == (300, 5)
        np.testing.assert_allclose(features['fc2'], reference['fc2'], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(returned, labels)


def test_an_iterator_of_unknown_length_is_gathered_whole(lenet_module, mnist_digits):
    images, labels = mnist_digits
    iterator = mx.io.NDArrayIter(images, labels, batch_size=32, label_name='softmax_label',
                                 last_batch_handle='discard')
    features, returned = ModelHandler(lenet_module).get_layer_output(iterator, ['fc2'])
    assert features['fc2'].shape == (288, 5)
    np.testing.assert_array_equal(returned, labels[:288])


def test_softmax_outputs_are_probabilities_that_classify_digits(lenet_module, mnist_digits, mnist_iterator):
    features, labels = ModelHandler(lenet_module).get_layer_output(mnist_iterator, ['softmax'])
    probabilities = features['softmax']
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    seen = labels < 5
    assert (probabilities[seen].argmax(axis=1) == labels[seen]).mean() > 0.9


def test_an_unlabelled_iterator_gives_no_labels(lenet_module, mnist_digits):
    iterator = mx.io.NDArrayIter(mnist_digits[0][:40], batch_size=16)
    features, labels = ModelHandler(lenet_module).get_layer_output(iterator, ['fc1'])
    assert features['fc1'].shape == (40, 128) and labels is None


def test_the_module_is_bound_once_while_shapes_repeat(lenet_module, mnist_digits, mnist_iterator, monkeypatch):
    binds = []
    original_bind = mx.mod.Module.bind

    def counting_bind(module, *args, **kwargs):
        binds.append(module)
        return original_bind(module, *args, **kwargs)

    monkeypatch.setattr(mx.mod.Module, 'bind', counting_bind)
    handler = ModelHandler(lenet_module)
    first, _ = handler.get_layer_output(mnist_iterator, ['fc1'])
    second, _ = handler.get_layer_output(mnist_iterator, ['fc1'])
    assert len(binds) == 1
    np.testing.assert_array_equal(first['fc1'], second['fc1'])
    handler.get_layer_output(mnist_iterator, ['fc1', 'fc2'])
    handler.get_layer_output(mx.io.NDArrayIter(mnist_digits[0], batch_size=64), ['fc1', 'fc2'])
    assert len(binds) == 3


def test_edits_and_new_params_are_seen_by_the_next_extraction(lenet_module, mnist_iterator):
    handler = ModelHandler(lenet_module)
    before, _ = handler.get_layer_output(mnist_iterator, ['fc1'])
    handler.arg_params['fc1_bias'] = handler.arg_params['fc1_bias'] + 1
    after, _ = handler.get_layer_output(mnist_iterator, ['fc1'])
    np.testing.assert_allclose(after['fc1'], before['fc1'] + 1, rtol=1e-5, atol=1e-5)
    handler.drop_layer_top(3)
    assert handler.get_layer_output(mnist_iterator, ['fc1'])[0]['fc1'].shape == (300, 128)


def test_two_devices_split_each_batch_and_agree(lenet_module, mnist_iterator):
    one, labels = ModelHandler(lenet_module).get_layer_output(mnist_iterator, ['fc1'])
    handler = ModelHandler(lenet_module, context_function=mx.cpu, num_devices=2)
    two, two_labels = handler.get_layer_output(mnist_iterator, ['fc1'])
    np.testing.assert_allclose(two['fc1'], one['fc1'], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(two_labels, labels)
    module = handler._feature_module_cache[1][0]
    assert module._context == [mx.cpu(0), mx.cpu(1)]
    assert [executor.arg_dict['data'].shape[0] for executor in module._exec_group.execs] == [16, 16]


def test_resnet_features_from_a_residual_net(resnet_module, resnet_parts):
    images = np.random.default_rng(2).random((10, 3, 32, 32), dtype=np.float32)
    handler = ModelHandler(resnet_module)
    pool = handler.layer_names[-3]
    features, labels = handler.get_layer_output(mx.io.NDArrayIter(images, batch_size=4), [pool])
    assert features[pool].shape == (10, 512) and labels is None
    symbol, arg_params, aux_params = resnet_parts
    expected = forward(symbol.get_internals()[pool + '_output'], arg_params, aux_params, images)
    np.testing.assert_allclose(features[pool], expected.reshape(10, -1), rtol=1e-4, atol=1e-5)


def test_arguments_are_checked(lenet_module, mnist_digits, mnist_iterator):
    handler = ModelHandler(lenet_module)
    with pytest.raises(TypeError, match='Expected an mxnet.io.DataIter, a numpy array, .* got dict'):
        handler.get_layer_output({'data': mnist_digits[0]}, ['fc1'])
    with pytest.raises(TypeError, match='layer_names must be a list, got str'):
        handler.get_layer_output(mnist_iterator, 'fc1')
    with pytest.raises(ValueError, match="Layer 'fc7' is not in the model"):
        handler.get_layer_output(mnist_iterator, ['fc1', 'fc7'])
    with pytest.raises(ValueError, match='layer_names is empty'):
        handler.get_layer_output(mnist_iterator, [])


def test_missing_or_misshapen_params_are_architecture_errors(lenet_module, mnist_iterator):
    handler = ModelHandler(lenet_module)
    del handler.arg_params['conv2_bias']
    with pytest.raises(ModelArchitectureError, match=r"needs params \['conv2_bias'\] that the handler does not"):
        handler.get_layer_output(mnist_iterator, ['fc1'])
    assert handler.get_layer_output(mnist_iterator, ['pool1'])[0]['pool1'].shape == (300, 32 * 12 * 12)
    handler.arg_params['conv2_bias'] = mx.nd.zeros(49)
    with pytest.raises(ModelArchitectureError, match=r"Param 'conv2_bias' has shape \(49,\) but the network"):
        handler.get_layer_output(mnist_iterator, ['fc1'])


def test_feature_buffer_grows_and_trims_without_losing_rows():
    rng = np.random.default_rng(0)
    batches = [rng.random((n, 2, 3), dtype=np.float32) for n in [5, 1, 17, 4]]
    for expected_rows in [None, 3, 27, 40]:
        buffer = FeatureBuffer(expected_rows)
        for batch in batches:
            buffer.append_ndarray(mx.nd.array(batch), len(batch))
        np.testing.assert_array_equal(buffer.result(), np.concatenate(batches).reshape(27, 6))
    assert FeatureBuffer().result().shape == (0, 0)


@pytest.mark.parametrize('layers, below_relu', [(['act1', 'conv1'], 'conv1'), (['conv1', 'act1'], 'conv1'),
                                               (['pool1', 'conv1', 'act1'], 'conv1'), (['act3', 'fc1'], 'fc1'),
                                               (['fc1', 'act3'], 'fc1'), (['fc1', 'act3', 'fc2'], 'fc1')])
def test_a_layer_asked_for_with_the_layer_above_is_not_fused_into_it(lenet_module, mnist_iterator, layers,
                                                                     below_relu):
    """MXNet's MKL-DNN fusion (conv + relu, fc + relu) must not leak into requested outputs."""
    handler = ModelHandler(lenet_module)
    together, _ = handler.get_layer_output(mnist_iterator, layers)
    for layer in layers:
        alone, _ = handler.get_layer_output(mnist_iterator, [layer])
        np.testing.assert_allclose(together[layer], alone[layer], rtol=1e-4, atol=1e-4)
    assert (together[below_relu] < 0).any()


def test_feature_buffer_copies_ndarrays_without_their_padding():
    rng = np.random.default_rng(1)
    batches = [rng.random((8, 3, 2), dtype=np.float32) for _ in range(3)]
    buffer = FeatureBuffer(expected_rows=20)
    for batch, rows in zip(batches, [8, 8, 4]):
        buffer.append_ndarray(mx.nd.array(batch), rows)
    expected = np.concatenate([batches[0], batches[1], batches[2][:4]]).reshape(20, 6)
    np.testing.assert_array_equal(buffer.result(), expected)


def test_several_layers_are_extracted_unfused_without_mxnet_logging_it(lenet_module, mnist_iterator, capfd,
                                                                       monkeypatch):
    """The subgraph backend is off only while binding a multi-layer module, and MXNet's notice about it is dropped."""
    monkeypatch.delenv('MXNET_SUBGRAPH_BACKEND', raising=False)
    seen = []
    original = mx.mod.Module.bind
    monkeypatch.setattr(mx.mod.Module, 'bind', lambda module, *args, **kwargs: seen.append(
        os.environ.get('MXNET_SUBGRAPH_BACKEND')) or original(module, *args, **kwargs))
    features, _ = ModelHandler(lenet_module).get_layer_output(mnist_iterator, ['conv1', 'act1', 'fc1'])
    assert (features['conv1'] < 0).any() and (features['act1'] >= 0).all()
    assert seen == ['NONE']
    assert 'MXNET_SUBGRAPH_BACKEND' not in os.environ
    assert 'MXNET_SUBGRAPH_BACKEND' not in capfd.readouterr().err
