"""Xfer 1.1's public-API ModelHandler expectations, restated for xfer (its private helpers are not ported).

The network mirrors the one Xfer 1.1's own tests used: two convolutions, a pooling layer, a
fully connected layer and a softmax output, all with MXNet's default-style names.
"""
from collections import OrderedDict

import mxnet as mx
import numpy as np
import pytest

from xfer.model_handler import ModelHandler, exceptions

LAYER_TYPES = OrderedDict([('conv1', 'Convolution'), ('act1', 'Activation'), ('conv2', 'Convolution'),
                           ('act2', 'Activation'), ('pool1', 'Pooling'), ('flatten1', 'Flatten'),
                           ('fullyconnected0', 'FullyConnected'), ('softmaxoutput1', 'SoftmaxOutput')])
LABEL = 'softmaxoutput1_label'
IMAGE_SHAPE = (3, 12, 12)


def _test_network():
    data = mx.sym.var('data')
    net = mx.sym.Convolution(data, name='conv1', kernel=(3, 3), num_filter=2)
    net = mx.sym.Activation(net, name='act1', act_type='relu')
    net = mx.sym.Convolution(net, name='conv2', kernel=(3, 3), num_filter=8)
    net = mx.sym.Activation(net, name='act2', act_type='relu')
    net = mx.sym.Pooling(net, name='pool1', kernel=(2, 2), stride=(2, 2), pool_type='max')
    net = mx.sym.Flatten(net, name='flatten1')
    net = mx.sym.FullyConnected(net, name='fullyconnected0', num_hidden=4)
    return mx.sym.SoftmaxOutput(net, name='softmaxoutput1')


def _trained_module():
    module = mx.mod.Module(_test_network(), label_names=[LABEL])
    module.bind(data_shapes=[('data', (2,) + IMAGE_SHAPE)], label_shapes=[(LABEL, (2,))])
    mx.random.seed(3)
    module.init_params(mx.init.Normal(0.5))
    arg_params, aux_params = module.get_params()
    stored = mx.mod.Module(_test_network(), label_names=[LABEL])
    stored._arg_params, stored._aux_params = arg_params, aux_params
    stored.params_initialized = True
    return stored


@pytest.fixture
def handler():
    return ModelHandler(_trained_module(), mx.context.cpu, 1, 'data')


def _internal_outputs(handler):
    return handler.symbol.get_internals().list_outputs()


def _images(count=6):
    return np.random.default_rng(1).random((count,) + IMAGE_SHAPE).astype(np.float32)


def test_layer_names_and_the_ordered_layer_type_dict(handler):
    assert handler.layer_names == list(LAYER_TYPES)
    assert isinstance(handler.layer_type_dict, OrderedDict)
    assert list(handler.layer_type_dict.items()) == list(LAYER_TYPES.items())


def test_layer_types_and_type_matching_ignore_case(handler):
    assert [handler.get_layer_type(name) for name in LAYER_TYPES] == list(LAYER_TYPES.values())
    with pytest.raises(ValueError):
        handler.get_layer_type('fake_layer_name')
    assert handler.get_layer_names_matching_type('CONVOLUTION') == ['conv1', 'conv2']
    assert handler.get_layer_names_matching_type('activation') == ['act1', 'act2']
    assert handler.get_layer_names_matching_type('fullyconnected') == ['fullyconnected0']
    assert handler.get_layer_names_matching_type('BatchNorm') == []


def test_a_bound_module_and_a_module_without_params_can_be_edited():
    bound = mx.mod.Module(_test_network(), label_names=[LABEL])
    bound.bind(data_shapes=[('data', (2,) + IMAGE_SHAPE)], label_shapes=[(LABEL, (2,))])
    bound.init_params()
    for module in (bound, mx.mod.Module(_test_network(), label_names=[LABEL])):
        handler = ModelHandler(module, mx.context.cpu, 1)
        if not module.binded:
            assert handler.arg_params == {} and handler.aux_params == {}
        handler.drop_layer_top()
        handler.drop_layer_bottom()
        assert handler.layer_names == list(LAYER_TYPES)[1:-1]


@pytest.mark.parametrize('count, removed', [
    (1, {'softmaxoutput1_output', 'softmaxoutput1_label'}),
    (3, {'flatten1_output', 'fullyconnected0_weight', 'fullyconnected0_bias', 'fullyconnected0_output',
         'softmaxoutput1_label', 'softmaxoutput1_output'}),
])
def test_drop_layer_top_removes_exactly_those_layers(handler, count, removed):
    before = _internal_outputs(handler)
    handler.drop_layer_top(count)
    assert set(before).symmetric_difference(_internal_outputs(handler)) == removed
    assert list(handler.layer_type_dict) == list(LAYER_TYPES)[:-count]


@pytest.mark.parametrize('count, removed', [
    (1, {'conv1_bias', 'conv1_weight', 'conv1_output'}),
    (3, {'conv1_bias', 'conv1_weight', 'conv1_output', 'act1_output', 'conv2_bias', 'conv2_output',
         'conv2_weight'}),
])
def test_drop_layer_bottom_removes_exactly_those_layers(handler, count, removed):
    before = _internal_outputs(handler)
    handler.drop_layer_bottom(count)
    assert set(before).symmetric_difference(_internal_outputs(handler)) == removed
    assert list(handler.layer_type_dict) == list(LAYER_TYPES)[count:]


@pytest.mark.parametrize('method', ['drop_layer_top', 'drop_layer_bottom'])
def test_dropping_all_layers_or_more_is_a_model_error(handler, method):
    for count in (len(LAYER_TYPES), len(LAYER_TYPES) + 1):
        with pytest.raises(exceptions.ModelError):
            getattr(handler, method)(count)


def test_drop_layer_top_of_a_network_with_two_outputs_is_a_model_error():
    data = mx.sym.var('data')
    trunk = mx.sym.FullyConnected(data, name='fc3', num_hidden=10)
    heads = [mx.sym.SoftmaxOutput(mx.sym.FullyConnected(trunk, name='fc4_{}'.format(i), num_hidden=10),
                                  name='softmax{}'.format(i)) for i in (1, 2)]
    handler = ModelHandler(mx.mod.Module(mx.sym.Group(heads), label_names=['softmax1_label', 'softmax2_label']))
    with pytest.raises(exceptions.ModelError):
        handler.drop_layer_top()


def _split_network_handler():
    """Flatten, then two branches of fully connected layers summed, then a softmax."""
    flat = mx.sym.flatten(mx.sym.var('data'), name='flatten0')
    branch_a = mx.sym.FullyConnected(flat, num_hidden=5, name='a_1')
    branch_a = mx.sym.FullyConnected(branch_a, num_hidden=5, name='a_2')
    branch_a = mx.sym.FullyConnected(branch_a, num_hidden=5, name='a_3')
    branch_b = mx.sym.FullyConnected(flat, num_hidden=5, name='b_1')
    branch_b = mx.sym.FullyConnected(branch_b, num_hidden=5, name='b_2')
    return ModelHandler(mx.mod.Module(mx.sym.SoftmaxOutput(branch_a + branch_b, name='softmax')))


def test_drop_layer_top_stops_at_the_merge_of_two_branches():
    handler = _split_network_handler()
    handler.drop_layer_top()
    for count in (1, 2):
        with pytest.raises(exceptions.ModelError):
            handler.drop_layer_top(count)


def test_drop_layer_bottom_of_a_branch_point_makes_both_branches_read_the_data():
    handler = _split_network_handler()
    handler.drop_layer_bottom()
    assert 'flatten0' not in handler.layer_names
    assert handler.get_layers_reading('a_1') == ['a_2'] and handler.get_layers_reading('b_1') == ['b_2']
    assert handler.symbol.infer_shape(data=(3, 7))[1] == [(3, 5)]  # both branches now read the data directly
    for count in (1, 2):
        with pytest.raises(exceptions.ModelError):
            handler.drop_layer_bottom(count)


def test_add_layer_top_one_at_a_time_or_as_a_list(handler):
    handler.drop_layer_top()
    before = _internal_outputs(handler)
    new_outputs = ['fc1_weight', 'fc1_bias', 'fc1_output', 'conv1_1_weight', 'conv1_1_bias', 'conv1_1_output']
    twin = ModelHandler(_trained_module())
    twin.drop_layer_top()
    handler.add_layer_top([mx.sym.FullyConnected(name='fc1', num_hidden=5)])
    handler.add_layer_top(mx.sym.Convolution(name='conv1_1', kernel=(3, 3), num_filter=10))  # one symbol
    twin.add_layer_top([mx.sym.FullyConnected(name='fc1', num_hidden=5),
                        mx.sym.Convolution(name='conv1_1', kernel=(3, 3), num_filter=10)])
    assert _internal_outputs(handler) == before + new_outputs
    assert _internal_outputs(twin) == before + new_outputs
    assert list(handler.layer_type_dict)[-2:] == ['fc1', 'conv1_1']


def test_add_layer_top_above_the_output_layer_is_a_model_error(handler):
    with pytest.raises(exceptions.ModelError):
        handler.add_layer_top(mx.sym.FullyConnected(num_hidden=5))


def test_add_layer_bottom_puts_later_calls_below_earlier_ones(handler):
    before = _internal_outputs(handler)
    handler.add_layer_bottom([mx.sym.Convolution(name='conv1_1', kernel=(1, 1), num_filter=3)])
    handler.add_layer_bottom(mx.sym.Activation(name='relu0', act_type='relu'))
    assert _internal_outputs(handler) == ['data', 'relu0_output', 'conv1_1_weight', 'conv1_1_bias',
                                          'conv1_1_output'] + before[1:]
    listed = ModelHandler(_trained_module())
    listed.add_layer_bottom([mx.sym.Activation(name='relu0', act_type='relu'),
                             mx.sym.Convolution(name='conv1_1', kernel=(1, 1), num_filter=3)])
    assert _internal_outputs(listed) == _internal_outputs(handler)


def test_a_new_layer_with_a_name_in_the_model_is_a_value_error(handler):
    handler.drop_layer_top()
    with pytest.raises(ValueError):
        handler.add_layer_top([mx.sym.FullyConnected(name='conv2', num_hidden=5)])


def test_update_sym_keeps_the_params_of_the_new_symbol_only(handler):
    act1 = handler.symbol.get_internals()['act1_output']
    handler.update_sym(act1)
    assert handler.layer_type_dict == OrderedDict([('conv1', 'Convolution'), ('act1', 'Activation')])
    assert handler.symbol.tojson() == act1.tojson()
    assert sorted(handler.arg_params) == ['conv1_bias', 'conv1_weight'] and handler.aux_params == {}


def test_get_module_freezes_and_reinitialises_the_named_params(handler):
    iterator = mx.io.NDArrayIter(_images(), np.array([0, 0, 1, 1, 2, 2]), batch_size=2, label_name=LABEL)
    module = handler.get_module(iterator, fixed_layer_parameters=['conv1_weight', 'conv1_bias', 'conv1_foo'],
                                random_layer_parameters=['conv2_weight', 'conv2_bias', 'conv2_foo'])
    assert isinstance(module, mx.mod.Module)
    assert sorted(module._fixed_param_names) == ['conv1_bias', 'conv1_weight']  # unknown names ignored
    trained = module.get_params()[0]
    for name in ('fullyconnected0_weight', 'conv1_weight', 'fullyconnected0_bias', 'conv1_bias'):
        np.testing.assert_array_equal(trained[name].asnumpy(), handler.arg_params[name].asnumpy())
    assert not np.array_equal(trained['conv2_weight'].asnumpy(), handler.arg_params['conv2_weight'].asnumpy())


def test_get_module_with_images_of_another_size_is_an_architecture_error(handler):
    iterator = mx.io.NDArrayIter(np.zeros((2, 3, 20, 20), np.float32), np.zeros(2), batch_size=2, label_name=LABEL)
    with pytest.raises(exceptions.ModelArchitectureError):
        handler.get_module(iterator)


@pytest.mark.parametrize('batch_size', [2, 4])  # 4 pads the last batch
def test_get_layer_output_keeps_the_order_asked_and_drops_padding(handler, batch_size):
    labels = np.array([0, 0, 1, 1, 2, 2])
    iterator = mx.io.NDArrayIter(_images(), labels, batch_size=batch_size, label_name=LABEL)
    features, returned_labels = handler.get_layer_output(iterator, ['fullyconnected0', 'flatten1'])
    assert type(features) is OrderedDict and list(features) == ['fullyconnected0', 'flatten1']
    assert features['fullyconnected0'].shape == (6, 4) and features['flatten1'].shape == (6, 8 * 4 * 4)
    np.testing.assert_array_equal(returned_labels, labels)
    expected = features['flatten1'] @ handler.arg_params['fullyconnected0_weight'].asnumpy().T \
        + handler.arg_params['fullyconnected0_bias'].asnumpy()
    np.testing.assert_allclose(features['fullyconnected0'], expected, rtol=1e-4, atol=1e-4)


def test_get_layer_output_checks_its_argument_types(handler):
    iterator = mx.io.NDArrayIter(_images(), np.zeros(6), batch_size=2, label_name=LABEL)
    for bad_iterator in (None, 'iter'):
        with pytest.raises(TypeError):
            handler.get_layer_output(bad_iterator, ['fullyconnected0'])
    with pytest.raises(TypeError):
        handler.get_layer_output(iterator, 'fullyconnected0')


def test_get_layer_parameters(handler):
    assert sorted(handler.get_layer_parameters(handler.layer_names)) == [
        'conv1_bias', 'conv1_weight', 'conv2_bias', 'conv2_weight', 'fullyconnected0_bias', 'fullyconnected0_weight']
    assert sorted(handler.get_layer_parameters(['fullyconnected0'])) == ['fullyconnected0_bias',
                                                                         'fullyconnected0_weight']
    with pytest.raises(TypeError):
        handler.get_layer_parameters('fullyconnected0')


def test_save_symbol_writes_a_loadable_network(handler, tmp_path):
    prefix = str(tmp_path / 'temp-test')
    handler.save_symbol(prefix)
    saved = mx.sym.load(prefix + '-symbol.json')
    assert saved.get_internals().list_outputs() == _internal_outputs(handler)
