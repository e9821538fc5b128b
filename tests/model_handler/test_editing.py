"""ModelHandler edits, proven by running the edited networks on real digits."""
import mxnet as mx
import numpy as np
import pytest

from xfer.model_handler import ModelHandler
from xfer.model_handler.exceptions import ModelError
from tests.conftest import LENET_LAYERS, MLP_LAYERS, forward


def _internal_output(module_or_handler, layer_name, data):
    """What the original network computes at ``layer_name`` for ``data``."""
    handler = ModelHandler(module_or_handler)
    internals = handler.symbol.get_internals()
    return forward(internals[layer_name + '_output'], handler.arg_params, handler.aux_params, data)


@pytest.mark.parametrize('count, new_top', [(1, 'fc2'), (2, 'act3'), (4, 'flatten'), (10, 'conv1')])
def test_drop_layer_top_outputs_what_the_original_computed_there(lenet_module, mnist_digits, count, new_top):
    images = mnist_digits[0][:20]
    expected = _internal_output(lenet_module, new_top, images)
    handler = ModelHandler(lenet_module)
    handler.drop_layer_top(count)
    assert handler.layer_names == LENET_LAYERS[:len(LENET_LAYERS) - count]
    assert handler.symbol.list_outputs() == [new_top + '_output']
    np.testing.assert_allclose(forward(handler.symbol, handler.arg_params, handler.aux_params, images),
                               expected, rtol=1e-5, atol=1e-6)


def test_drop_layer_top_drops_unused_params(lenet_module, mlp_module):
    handler = ModelHandler(lenet_module)
    handler.drop_layer_top(3)
    assert sorted(handler.arg_params) == sorted(['conv1_weight', 'conv1_bias', 'conv2_weight', 'conv2_bias',
                                                 'fc1_weight', 'fc1_bias'])
    mlp = ModelHandler(mlp_module)
    mlp.drop_layer_top(5)
    assert mlp.aux_params == {} and 'fc2_weight' not in mlp.arg_params


@pytest.mark.parametrize('count', [11, 12, 50])
def test_dropping_every_layer_is_a_model_error(lenet_module, count):
    handler = ModelHandler(lenet_module)
    with pytest.raises(ModelError, match='Cannot drop {} layers: the model has only 11'.format(count)):
        handler.drop_layer_top(count)
    with pytest.raises(ModelError, match='the model has only 11'):
        handler.drop_layer_bottom(count)
    assert handler.layer_names == LENET_LAYERS


@pytest.mark.parametrize('bad, error, message', [(0, ValueError, 'at least 1, got 0'),
                                                 (-2, ValueError, 'at least 1, got -2'),
                                                 ('2', TypeError, "must be an int, got '2'"),
                                                 (1.0, TypeError, 'must be an int, got 1.0')])
def test_drop_count_must_be_a_positive_int(lenet_module, bad, error, message):
    handler = ModelHandler(lenet_module)
    with pytest.raises(error, match=message):
        handler.drop_layer_top(bad)
    with pytest.raises(error, match=message):
        handler.drop_layer_bottom(bad)


def test_drop_layer_bottom_makes_the_first_remaining_layer_read_the_data(lenet_module, mnist_digits):
    images = mnist_digits[0][:20]
    pooled = _internal_output(lenet_module, 'pool1', images)
    expected = _internal_output(lenet_module, 'fc2', images)
    handler = ModelHandler(lenet_module)
    handler.drop_layer_bottom(3)
    handler.drop_layer_top(1)
    assert handler.layer_names == LENET_LAYERS[3:-1]
    assert handler.symbol.list_arguments()[:2] == ['data', 'conv2_weight']
    assert 'conv1_weight' not in handler.arg_params
    np.testing.assert_allclose(forward(handler.symbol, handler.arg_params, handler.aux_params, pooled),
                               expected, rtol=1e-4, atol=1e-5)


def test_resnet_drop_top_through_a_residual_merge_names_the_layers(resnet_module):
    handler = ModelHandler(resnet_module)
    names = handler.layer_names
    merge = [name for name in names if handler.get_layer_type(name) == 'elemwise_add'][-1]
    above_merge = len(names) - 1 - names.index(merge)
    handler.drop_layer_top(above_merge)
    assert handler.layer_names[-1] == merge
    before = handler.symbol.tojson()
    with pytest.raises(ModelError, match="Cannot drop layer '{}' from the top: it merges".format(merge)) as error:
        handler.drop_layer_top(1)
    assert 'stage4' in str(error.value)
    assert handler.symbol.tojson() == before


def test_resnet_drop_bottom_of_a_branch_point_rewires_each_branch_then_refuses(resnet_module):
    handler = ModelHandler(resnet_module)
    stem = handler.layer_names[:4]
    assert [handler.get_layer_type(name) for name in stem] == ['Convolution', 'BatchNorm', 'Activation', 'Pooling']
    handler.drop_layer_bottom(3)
    readers_of_pool = handler.get_layers_reading(stem[3])
    assert len(readers_of_pool) == 2
    handler.drop_layer_bottom(1)  # Xfer 1.1's semantics: every reader of the dropped layer reads the data
    assert stem[3] not in handler.layer_names
    before = handler.symbol.tojson()
    with pytest.raises(ModelError, match="the data input 'data' feeds 2 layers") as error:
        handler.drop_layer_bottom(1)
    assert all(name in str(error.value) for name in readers_of_pool)
    assert handler.symbol.tojson() == before


def test_resnet_drops_above_the_merges_keep_its_numbers(resnet_module, resnet_parts):
    images = np.random.default_rng(1).random((4, 3, 32, 32), dtype=np.float32)
    handler = ModelHandler(resnet_module)
    pool_name = handler.layer_names[-3]
    symbol, arg_params, aux_params = resnet_parts
    expected = forward(symbol.get_internals()[pool_name + '_output'], arg_params, aux_params, images)
    handler.drop_layer_top(2)
    np.testing.assert_allclose(forward(handler.symbol, handler.arg_params, handler.aux_params, images),
                               expected, rtol=1e-5, atol=1e-6)


def test_several_outputs_make_top_edits_ambiguous(two_output_module):
    handler = ModelHandler(two_output_module)
    with pytest.raises(ModelError, match=r"the model has 2 outputs \['head_a', 'head_b'\]"):
        handler.drop_layer_top(1)
    with pytest.raises(ModelError, match='the model has 2 outputs'):
        handler.add_layer_top([mx.sym.FullyConnected(name='fc_new', num_hidden=2)])


def test_data_read_by_several_layers_makes_bottom_drop_ambiguous(two_output_module):
    data = mx.sym.var('data')
    twin = mx.sym.Group([mx.sym.FullyConnected(data, name='left', num_hidden=2),
                         mx.sym.FullyConnected(data, name='right', num_hidden=2)])
    handler = ModelHandler(two_output_module)
    handler.update_sym(twin)
    with pytest.raises(ModelError, match=r"data input 'data' feeds 2 layers \['left', 'right'\]"):
        handler.drop_layer_bottom(1)


def test_add_layer_top_wires_new_layers_onto_the_output(lenet_module, mnist_digits):
    images = mnist_digits[0][:8]
    handler = ModelHandler(lenet_module)
    handler.drop_layer_top(2)
    handler.add_layer_top([mx.sym.FullyConnected(name='fc_new', num_hidden=4),
                           mx.sym.SoftmaxOutput(name='softmax')])
    assert handler.layer_names == LENET_LAYERS[:-2] + ['fc_new', 'softmax']
    assert handler.get_layer_parameters(['fc_new']) == ['fc_new_weight', 'fc_new_bias']
    assert 'softmax_label' in handler.symbol.list_arguments()
    arg_shapes, out_shapes, _ = handler.symbol.infer_shape(data=(8, 1, 28, 28))
    assert out_shapes == [(8, 4)]
    assert dict(zip(handler.symbol.list_arguments(), arg_shapes))['fc_new_weight'] == (4, 128)
    arg_params = dict(handler.arg_params, fc_new_weight=mx.nd.ones((4, 128)), fc_new_bias=mx.nd.zeros(4))
    probabilities = forward(handler.symbol, arg_params, handler.aux_params, images)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_add_layer_top_above_a_loss_layer_is_a_model_error(lenet_module):
    handler = ModelHandler(lenet_module)
    with pytest.raises(ModelError, match="Cannot add layers above 'softmax': that is a loss/output"):
        handler.add_layer_top([mx.sym.FullyConnected(name='fc_new', num_hidden=4)])
    handler.drop_layer_top(1)
    with pytest.raises(ModelError, match="Cannot add layers above 'softmax_new'"):
        handler.add_layer_top([mx.sym.SoftmaxOutput(name='softmax_new'),
                               mx.sym.FullyConnected(name='fc_more', num_hidden=2)])
    assert handler.layer_names == LENET_LAYERS[:-1]


def test_new_layer_names_must_be_new(lenet_module):
    handler = ModelHandler(lenet_module)
    handler.drop_layer_top(1)
    with pytest.raises(ValueError, match="A layer named 'fc1' is already in the model"):
        handler.add_layer_top([mx.sym.FullyConnected(name='fc1', num_hidden=4)])
    with pytest.raises(ValueError, match="A layer named 'extra' is already in the model"):
        handler.add_layer_top([mx.sym.Activation(name='extra', act_type='relu'),
                               mx.sym.Activation(name='extra', act_type='tanh')])
    with pytest.raises(ValueError, match="A layer named 'conv1' is already in the model"):
        handler.add_layer_bottom([mx.sym.Convolution(name='conv1', kernel=(1, 1), num_filter=1)])
    assert handler.layer_names == LENET_LAYERS[:-1]


@pytest.mark.parametrize('method', ['add_layer_top', 'add_layer_bottom'])
def test_add_layer_arguments_are_checked(lenet_module, method):
    handler = ModelHandler(lenet_module)
    handler.drop_layer_top(1)
    add = getattr(handler, method)
    with pytest.raises(TypeError, match='layer_list must be a list, got str'):
        add('relu')
    with pytest.raises(TypeError, match=r'layer_list\[1\] must be an mxnet.sym.Symbol, got str'):
        add([mx.sym.Activation(name='new_act', act_type='relu'), 'relu'])
    with pytest.raises(ValueError, match='layer_list is empty'):
        add([])
    assert handler.layer_names == LENET_LAYERS[:-1]


def test_add_layer_bottom_inserts_between_data_and_first_layer(lenet_module, mnist_digits):
    images = mnist_digits[0][:8]
    handler = ModelHandler(lenet_module)
    handler.add_layer_bottom([mx.sym.Pooling(name='shrink', kernel=(2, 2), stride=(2, 2), pool_type='avg'),
                              mx.sym.UpSampling(name='grow', scale=2, sample_type='nearest', num_args=1)])
    assert handler.layer_names == ['shrink', 'grow'] + LENET_LAYERS
    assert handler.symbol.list_arguments()[0] == 'data'
    assert handler.symbol.infer_shape(data=(8, 1, 28, 28))[1] == [(8, 5)]
    blocky = images.reshape(8, 1, 14, 2, 14, 2).mean(axis=(3, 5)).repeat(2, axis=2).repeat(2, axis=3)
    expected = _internal_output(lenet_module, 'softmax', blocky)
    np.testing.assert_allclose(forward(handler.symbol, handler.arg_params, handler.aux_params, images),
                               expected, rtol=1e-4, atol=1e-6)


def test_add_layer_bottom_as_in_the_talk_then_train(lenet_module, mnist_iterator):
    handler = ModelHandler(lenet_module)
    handler.drop_layer_bottom(1)
    handler.add_layer_bottom([mx.sym.Convolution(name='convolution1', kernel=(5, 5), num_filter=32)])
    assert handler.layer_names[:2] == ['convolution1', 'act1']
    module = handler.get_module(mnist_iterator)
    module.fit(mnist_iterator, num_epoch=1)
    assert module.get_params()[0]['convolution1_weight'].shape == (32, 1, 5, 5)


def test_a_loss_layer_cannot_be_added_at_the_bottom(lenet_module):
    handler = ModelHandler(lenet_module)
    with pytest.raises(ModelError, match=r"Cannot add layer 'early_loss' at the bottom.*'early_loss_label'"):
        handler.add_layer_bottom([mx.sym.SoftmaxOutput(name='early_loss')])


def test_update_sym_replaces_the_network_and_drops_unused_params(mlp_module):
    handler = ModelHandler(mlp_module)
    trunk = handler.symbol.get_internals()['fc2_output']
    handler.update_sym(mx.sym.FullyConnected(trunk, name='fc_out', num_hidden=3))
    assert handler.layer_names == MLP_LAYERS[:5] + ['fc_out']
    assert sorted(handler.arg_params) == ['fc1_bias', 'fc1_weight', 'fc2_bias', 'fc2_weight']
    assert handler.aux_params == {}
    with pytest.raises(TypeError, match='new_symbol must be an mxnet.sym.Symbol, got dict'):
        handler.update_sym({'nodes': []})
    with pytest.raises(ValueError, match="no data input named 'data'"):
        handler.update_sym(mx.sym.FullyConnected(mx.sym.var('x'), name='other', num_hidden=2))
    assert handler.layer_names == MLP_LAYERS[:5] + ['fc_out']
