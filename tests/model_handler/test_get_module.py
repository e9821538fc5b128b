"""ModelHandler.get_module: copied, frozen and re-initialised params, proven by real training."""
import mxnet as mx
import numpy as np
import pytest

from xfer.model_handler import ModelHandler
from xfer.model_handler.exceptions import ModelArchitectureError


def _params(module):
    arg_params, aux_params = module.get_params()
    return {name: value.asnumpy() for name, value in dict(arg_params, **aux_params).items()}


def _train(module, iterator, batches=4):
    """A few real SGD steps in training mode."""
    module.init_optimizer(optimizer='sgd', optimizer_params={'learning_rate': 0.1})
    iterator.reset()
    for _, batch in zip(range(batches), iterator):
        module.forward_backward(batch)
        module.update()


def test_trained_params_are_copied_in(lenet_module, mnist_iterator):
    handler = ModelHandler(lenet_module)
    module = handler.get_module(mnist_iterator)
    copied = _params(module)
    assert sorted(copied) == sorted(handler.arg_params)
    for name, value in handler.arg_params.items():
        np.testing.assert_array_equal(copied[name], value.asnumpy())
    assert module.binded and module.params_initialized
    assert module.data_shapes[0].shape == (32, 1, 28, 28)


def test_fixed_params_stay_bit_for_bit_and_the_others_move(lenet_module, mnist_iterator):
    handler = ModelHandler(lenet_module)
    fixed = handler.get_layer_parameters(['conv1', 'conv2'])
    module = handler.get_module(mnist_iterator, fixed_layer_parameters=fixed)
    before = _params(module)
    _train(module, mnist_iterator)
    after = _params(module)
    for name in fixed:
        np.testing.assert_array_equal(after[name], before[name])
    for name in ['fc1_weight', 'fc2_weight', 'fc2_bias']:
        assert np.abs(after[name] - before[name]).max() > 1e-6, name


def test_random_params_are_reinitialised_not_copied(lenet_module, mnist_iterator):
    handler = ModelHandler(lenet_module)
    random = handler.get_layer_parameters(['fc1', 'fc2'])
    mx.random.seed(3)
    module = handler.get_module(mnist_iterator, random_layer_parameters=random)
    params = _params(module)
    trained = handler.arg_params['fc1_weight'].asnumpy()
    assert not np.allclose(params['fc1_weight'], trained)
    np.testing.assert_array_equal(params['fc1_bias'], 0)
    # Xavier gaussian, factor 'in', magnitude 2: std = sqrt(2 / fan_in); fc1 reads 1024 inputs.
    assert params['fc1_weight'].std() == pytest.approx(np.sqrt(2 / 1024), rel=0.05)
    np.testing.assert_array_equal(params['conv1_weight'], handler.arg_params['conv1_weight'].asnumpy())


def test_new_layers_get_xavier_params(lenet_module, mnist_iterator):
    handler = ModelHandler(lenet_module)
    handler.drop_layer_top(2)
    handler.add_layer_top([mx.sym.FullyConnected(name='fc_new', num_hidden=5), mx.sym.SoftmaxOutput(name='softmax')])
    params = _params(handler.get_module(mnist_iterator))
    assert params['fc_new_weight'].shape == (5, 128)
    assert params['fc_new_weight'].std() == pytest.approx(np.sqrt(2 / 128), rel=0.25)


def test_a_frozen_batch_norm_keeps_its_moving_statistics(mlp_module, mnist_iterator):
    handler = ModelHandler(mlp_module)
    frozen = handler.get_layer_parameters(['bn2'])
    module = handler.get_module(mnist_iterator, fixed_layer_parameters=frozen)
    before = _params(module)
    _train(module, mnist_iterator)
    after = _params(module)
    for name in frozen:
        np.testing.assert_array_equal(after[name], before[name])
    assert np.abs(after['fc2_weight'] - before['fc2_weight']).max() > 1e-6


def test_an_unfrozen_batch_norm_updates_its_moving_statistics(mlp_module, mnist_iterator):
    handler = ModelHandler(mlp_module)
    module = handler.get_module(mnist_iterator, fixed_layer_parameters=handler.get_layer_parameters(['fc1']))
    before = _params(module)
    _train(module, mnist_iterator)
    after = _params(module)
    assert np.abs(after['bn2_moving_mean'] - before['bn2_moving_mean']).max() > 1e-6
    np.testing.assert_array_equal(after['fc1_weight'], before['fc1_weight'])


def test_a_frozen_batch_norm_still_computes_what_the_source_did(mlp_module, mnist_iterator):
    handler = ModelHandler(mlp_module)
    module = handler.get_module(mnist_iterator, fixed_layer_parameters=handler.get_layer_parameters(['bn2']))
    expected, _ = handler.get_layer_output(mnist_iterator, ['softmax'])
    np.testing.assert_allclose(module.predict(mnist_iterator).asnumpy(), expected['softmax'], rtol=1e-5, atol=1e-7)


def test_unknown_param_names_are_ignored(lenet_module, mnist_iterator):
    handler = ModelHandler(lenet_module)
    module = handler.get_module(mnist_iterator, fixed_layer_parameters=['nothing_weight'],
                                random_layer_parameters=['nothing_bias'])
    np.testing.assert_array_equal(_params(module)['fc2_weight'], handler.arg_params['fc2_weight'].asnumpy())


def test_a_param_of_the_wrong_shape_is_an_architecture_error(lenet_module, mnist_iterator):
    handler = ModelHandler(lenet_module)
    handler.drop_layer_top(2)
    handler.add_layer_top([mx.sym.FullyConnected(name='fc2', num_hidden=7), mx.sym.SoftmaxOutput(name='softmax')])
    handler.arg_params['fc2_weight'] = mx.nd.zeros((5, 128))
    with pytest.raises(ModelArchitectureError,
                       match=r"Param 'fc2_weight' has shape \(5, 128\) but the network needs shape \(7, 128\)"):
        handler.get_module(mnist_iterator)
    module = handler.get_module(mnist_iterator, random_layer_parameters=['fc2_weight'])
    assert _params(module)['fc2_weight'].shape == (7, 128)


def test_get_module_checks_its_iterator(lenet_module, mnist_digits):
    handler = ModelHandler(lenet_module)
    with pytest.raises(TypeError, match='Expected an mxnet.io.DataIter, a numpy array, .* got list'):
        handler.get_module(list(mnist_digits[0]))
    renamed = mx.io.NDArrayIter(mnist_digits[0][:10], mnist_digits[1][:10], batch_size=5, data_name='pixels')
    with pytest.raises(ValueError, match=r"iterator provides data named \['pixels'\] but the network reads 'data'"):
        handler.get_module(renamed)


def test_a_label_the_network_needs_must_come_from_the_iterator(lenet_module, mnist_digits):
    unlabelled = mx.io.NDArrayIter(mnist_digits[0][:10], batch_size=5)
    with pytest.raises(ValueError, match=r"reads labels \['softmax_label'\] that the iterator does not provide"):
        ModelHandler(lenet_module).get_module(unlabelled)


def test_module_fits_as_in_the_talk(lenet_module, mnist_iterator):
    handler = ModelHandler(lenet_module)
    handler.drop_layer_top(2)
    handler.add_layer_top([mx.sym.FullyConnected(name='fc_digits', num_hidden=10),
                           mx.sym.SoftmaxOutput(name='softmax')])
    module = handler.get_module(mnist_iterator, fixed_layer_parameters=handler.get_layer_parameters(['conv1']),
                                random_layer_parameters=handler.get_layer_parameters(['fc1']))
    module.fit(mnist_iterator, num_epoch=3, optimizer_params={'learning_rate': 0.1})
    accuracy = dict(module.score(mnist_iterator, 'acc'))['accuracy']
    assert accuracy > 0.5


@pytest.mark.gpu
def test_get_module_runs_on_a_gpu(lenet_module, mnist_iterator):
    if mx.context.num_gpus() == 0:
        pytest.skip('no GPU on this machine')
    handler = ModelHandler(lenet_module, context_function=mx.gpu)
    module = handler.get_module(mnist_iterator)
    assert module._context == [mx.gpu(0)]
    features, _ = handler.get_layer_output(mnist_iterator, ['fc1'])
    cpu_features, _ = ModelHandler(lenet_module).get_layer_output(mnist_iterator, ['fc1'])
    np.testing.assert_allclose(features['fc1'], cpu_features['fc1'], rtol=1e-4, atol=1e-5)


def _one_sgd_step_change(handler, iterator, multipliers):
    mx.random.seed(0)
    module = handler.get_module(iterator, learning_rate_multipliers=multipliers)
    before = _params(module)
    module.init_optimizer(optimizer='sgd', optimizer_params={'learning_rate': 0.05})
    iterator.reset()
    module.forward_backward(next(iter(iterator)))
    module.update()
    after = _params(module)
    return {name: after[name] - before[name] for name in before}


def test_learning_rate_multipliers_scale_each_params_step(lenet_module, mnist_iterator):
    handler = ModelHandler(lenet_module)
    transferred = handler.get_layer_parameters(['conv1', 'conv2', 'fc1'])
    full = _one_sgd_step_change(handler, mnist_iterator, None)
    tenth = _one_sgd_step_change(handler, mnist_iterator, {name: 0.1 for name in transferred})
    for name in transferred:
        np.testing.assert_allclose(tenth[name], 0.1 * full[name], rtol=1e-2, atol=1e-7)  # float32 rounding
    np.testing.assert_allclose(tenth['fc2_weight'], full['fc2_weight'], rtol=1e-5, atol=1e-9)
    assert np.abs(full['conv1_weight']).max() > 0


def test_learning_rate_multipliers_are_checked(lenet_module, mnist_iterator):
    handler = ModelHandler(lenet_module)
    with pytest.raises(TypeError, match='learning_rate_multipliers must be a dict'):
        handler.get_module(mnist_iterator, learning_rate_multipliers=[0.1])
    with pytest.raises(ValueError, match=r"learning_rate_multipliers\['fc1_weight'\] must be a number >= 0, got -1"):
        handler.get_module(mnist_iterator, learning_rate_multipliers={'fc1_weight': -1})
    handler.get_module(mnist_iterator, learning_rate_multipliers={'nothing_weight': 0.5})
