"""ModelHandler: construction, inspection, drawing, saving and the summary table."""
import json

import graphviz
import mxnet as mx
import numpy as np
import pytest

from xfer.model_handler import ModelHandler, consts
from tests.conftest import LENET_LAYERS, MLP_LAYERS


def test_layer_names_are_operators_in_graph_order(lenet_module, mlp_module):
    assert ModelHandler(lenet_module).layer_names == LENET_LAYERS
    assert ModelHandler(mlp_module).layer_names == MLP_LAYERS


def test_params_are_copied_from_a_loaded_module(lenet_module):
    handler = ModelHandler(lenet_module)
    stored, _ = lenet_module.get_params() if lenet_module.binded else (lenet_module._arg_params, None)
    assert sorted(handler.arg_params) == sorted(stored)
    np.testing.assert_array_equal(handler.arg_params['conv1_weight'].asnumpy(),
                                  stored['conv1_weight'].asnumpy())
    handler.arg_params['conv1_weight'][:] = 0
    assert np.abs(stored['conv1_weight'].asnumpy()).sum() > 0


def test_params_are_taken_from_a_bound_module(resnet_module, resnet_parts):
    handler = ModelHandler(resnet_module)
    _, arg_params, aux_params = resnet_parts
    assert sorted(handler.arg_params) == sorted(arg_params)
    assert sorted(handler.aux_params) == sorted(aux_params)


def test_unbound_module_without_params_gives_empty_params():
    module = mx.mod.Module(mx.sym.FullyConnected(mx.sym.var('data'), name='fc', num_hidden=2), label_names=None)
    handler = ModelHandler(module)
    assert handler.arg_params == {} and handler.aux_params == {}
    assert handler.layer_names == ['fc']


def test_edits_never_touch_the_module(lenet_module):
    before = lenet_module.symbol.tojson()
    handler = ModelHandler(lenet_module)
    handler.drop_layer_top(3)
    assert lenet_module.symbol.tojson() == before
    assert 'fc2_weight' in lenet_module._arg_params


@pytest.mark.parametrize('bad', [None, 'model', mx.sym.var('data')])
def test_constructor_rejects_what_is_not_a_module(bad):
    with pytest.raises(TypeError, match='module must be an mxnet.mod.Module or a gluon.HybridBlock'):
        ModelHandler(bad)


def test_constructor_rejects_unknown_data_name(lenet_module):
    with pytest.raises(ValueError, match="no data input named 'pixels'"):
        ModelHandler(lenet_module, data_name='pixels')


@pytest.mark.parametrize('num_devices', [0, -1, 1.5, True])
def test_constructor_rejects_bad_device_count(lenet_module, num_devices):
    with pytest.raises(ValueError, match='num_devices must be an integer of at least 1'):
        ModelHandler(lenet_module, num_devices=num_devices)


def test_get_layer_type(lenet_module, mlp_module):
    handler = ModelHandler(lenet_module)
    assert handler.get_layer_type('conv1') == consts.CONVOLUTION
    assert handler.get_layer_type('act1') == 'Activation'
    assert handler.get_layer_type('pool2') == 'Pooling'
    assert handler.get_layer_type('softmax') == 'SoftmaxOutput'
    assert ModelHandler(mlp_module).get_layer_type('bn2') == 'BatchNorm'
    with pytest.raises(ValueError, match="Layer 'conv9' is not in the model"):
        handler.get_layer_type('conv9')


def test_get_layer_names_matching_type_ignores_case(lenet_module):
    handler = ModelHandler(lenet_module)
    assert handler.get_layer_names_matching_type('Convolution') == ['conv1', 'conv2']
    assert handler.get_layer_names_matching_type('fullyconnected') == ['fc1', 'fc2']
    assert handler.get_layer_names_matching_type('ACTIVATION') == ['act1', 'act2', 'act3']
    assert handler.get_layer_names_matching_type('LSTM') == []


def test_get_layers_reading_follows_the_graph(lenet_module):
    handler = ModelHandler(lenet_module)
    assert handler.get_layers_reading('conv1') == ['act1']
    assert handler.get_layers_reading('fc2') == ['softmax']
    assert handler.get_layers_reading('softmax') == []
    with pytest.raises(ValueError, match="Layer 'conv9' is not in the model"):
        handler.get_layers_reading('conv9')


def test_get_layer_parameters(lenet_module, mlp_module):
    handler = ModelHandler(lenet_module)
    assert handler.get_layer_parameters(['conv1']) == ['conv1_weight', 'conv1_bias']
    assert handler.get_layer_parameters(['fc2', 'conv1', 'act1']) == [
        'conv1_weight', 'conv1_bias', 'fc2_weight', 'fc2_bias']
    assert handler.get_layer_parameters(['softmax', 'pool1']) == []
    assert ModelHandler(mlp_module).get_layer_parameters(['bn2']) == [
        'bn2_gamma', 'bn2_beta', 'bn2_moving_mean', 'bn2_moving_var']
    with pytest.raises(TypeError, match='layer_names must be a list, got str'):
        handler.get_layer_parameters('conv1')
    with pytest.raises(ValueError, match="Layer 'fc9' is not in the model"):
        handler.get_layer_parameters(['fc9'])


def test_visualize_net_draws_every_layer(lenet_module):
    drawing = ModelHandler(lenet_module).visualize_net()
    assert isinstance(drawing, graphviz.Digraph)
    for name in LENET_LAYERS:
        assert name in drawing.source


def test_save_symbol_round_trip(lenet_module, tmp_path):
    handler = ModelHandler(lenet_module)
    handler.drop_layer_top(2)
    handler.save_symbol(str(tmp_path / 'cut'))
    saved = mx.sym.load(str(tmp_path / 'cut-symbol.json'))
    assert json.loads(saved.tojson())['nodes'] == json.loads(handler.symbol.tojson())['nodes']


def _summary_lines(handler, shape):
    lines = []
    handler.summary(shape, print_fn=lines.append)
    return lines


def test_summary_lists_types_shapes_and_param_counts(lenet_module):
    handler = ModelHandler(lenet_module)
    lines = _summary_lines(handler, (1, 1, 28, 28))
    rows = {line.split()[0]: line.split() for line in lines[2:-2]}
    assert list(rows) == LENET_LAYERS
    assert rows['conv1'][1] == 'Convolution'
    assert ' '.join(rows['conv1'][2:6]) == '(1, 32, 24, 24)'
    assert rows['conv1'][6] == str(32 * 1 * 5 * 5 + 32)
    assert ' '.join(rows['flatten'][2:4]) == '(1, 1024)'
    assert rows['fc1'][-2] == str(1024 * 128 + 128)
    total = sum(value.size for value in handler.arg_params.values())
    assert lines[-1] == 'Total params: {:,}  (trainable: {:,}, frozen: 0)'.format(total, total)


def test_summary_shows_frozen_layers_after_get_module(mlp_module, mnist_iterator):
    handler = ModelHandler(mlp_module)
    frozen = handler.get_layer_parameters(['fc1', 'bn2'])
    handler.get_module(mnist_iterator, fixed_layer_parameters=frozen + ['fc2_weight'])
    rows = {line.split()[0]: line.split()[-1] for line in _summary_lines(handler, (1, 1, 28, 28))[2:-2]}
    assert rows['fc1'] == 'no' and rows['bn2'] == 'no'
    assert rows['fc2'] == 'partly' and rows['fc3'] == 'yes' and rows['act1'] == '-'


def test_layers_inside_residual_blocks_are_those_a_skip_bypasses():
    data = mx.sym.var('data')
    stem = mx.sym.FullyConnected(data, num_hidden=4, name='stem')
    inner = mx.sym.FullyConnected(mx.sym.Activation(stem, act_type='relu', name='inner_act'), num_hidden=4,
                                  name='inner_fc')
    block = mx.sym.elemwise_add(inner, stem, name='block_add')
    branches = mx.sym.concat(mx.sym.FullyConnected(block, num_hidden=2, name='branch_a'),
                             mx.sym.FullyConnected(block, num_hidden=2, name='branch_b'), name='joined')
    module = mx.mod.Module(mx.sym.SoftmaxOutput(mx.sym.FullyConnected(branches, num_hidden=2, name='head'), name='softmax'))
    handler = ModelHandler(module)
    assert handler.get_layers_inside_residual_blocks() == ['inner_act', 'inner_fc']  # branches are no skip


def test_layers_read_only_by_batch_norm_are_those_every_reader_normalises():
    data = mx.sym.var('data')
    normalised = mx.sym.Convolution(data, kernel=(3, 3), num_filter=2, name='normalised')
    bn = mx.sym.BatchNorm(normalised, name='bn')
    also_raw = mx.sym.Convolution(bn, kernel=(1, 1), num_filter=2, name='also_raw')
    both = mx.sym.elemwise_add(mx.sym.BatchNorm(also_raw, name='bn_b'), also_raw, name='both')
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(both, num_hidden=2, name='fc'), name='softmax')
    handler = ModelHandler(mx.mod.Module(net))
    # also_raw reaches the sum un-normalised too; a BatchNorm output is read by other layers
    assert handler.get_layers_read_only_by_batch_norm() == ['normalised']
