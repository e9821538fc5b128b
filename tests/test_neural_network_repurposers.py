"""Fine-tuning repurposers on real digits: target networks, frozen/re-initialised/scaled params, history."""
import mxnet as mx
import numpy as np
import pytest

import xfer
from xfer.model_handler import ModelHandler
from tests.conftest import LENET_LAYERS


@pytest.fixture(scope='module')
def digits_5_to_9(mnist_digits):
    images, labels = mnist_digits
    keep = labels >= 5
    return images[keep], labels[keep] - 5


def _iterator(images, labels, batch_size=20, label_name='softmax_label'):
    return mx.io.NDArrayIter(images, labels, batch_size=batch_size, label_name=label_name)


def _params(module):
    arg_params, aux_params = module.get_params()
    return {name: value.asnumpy() for name, value in dict(arg_params, **aux_params).items()}


def test_fine_tune_keeps_layers_up_to_the_transfer_layer(lenet_module, digits_5_to_9):
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(lenet_module, 'act3', 5, num_epochs=1)
    repurposer.repurpose(_iterator(*digits_5_to_9))
    handler = ModelHandler(repurposer.target_model)
    assert handler.layer_names == LENET_LAYERS[:LENET_LAYERS.index('act3') + 1] + ['fc_target', 'softmax']
    assert repurposer.target_model.get_params()[0]['fc_target_weight'].shape == (5, 128)


def test_the_output_is_named_after_the_label(lenet_module, digits_5_to_9):
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(lenet_module, 'fc1', 5, num_epochs=1)
    repurposer.repurpose(_iterator(*digits_5_to_9, label_name='digit_label'))
    assert repurposer.target_model.symbol.list_outputs() == ['digit_output']
    assert 'digit_label' in repurposer.target_model.symbol.list_arguments()
    assert repurposer.predict_probability(_iterator(*digits_5_to_9)).shape == (len(digits_5_to_9[1]), 5)


def test_an_unknown_transfer_layer_is_named(lenet_module, digits_5_to_9):
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(lenet_module, 'fc7', 5)
    with pytest.raises(ValueError, match="transfer_layer_name 'fc7' is not a layer of the source model"):
        repurposer.repurpose(_iterator(*digits_5_to_9))


def test_random_freeze_freezes_and_reinitialises(lenet_module, digits_5_to_9):
    source = ModelHandler(lenet_module).arg_params
    mx.random.seed(1)
    repurposer = xfer.NeuralNetworkRandomFreezeRepurposer(lenet_module, 5, ['conv1', 'conv2'], ['fc1'], num_epochs=2,
                                                          optimizer_params={'learning_rate': 0.05})
    repurposer.repurpose(_iterator(*digits_5_to_9))
    trained = _params(repurposer.target_model)
    for name in ['conv1_weight', 'conv1_bias', 'conv2_weight', 'conv2_bias']:
        np.testing.assert_array_equal(trained[name], source[name].asnumpy())
    assert np.abs(trained['fc1_weight'] - source['fc1_weight'].asnumpy()).mean() > 0.01
    assert ModelHandler(repurposer.target_model).layer_names == LENET_LAYERS[:-2] + ['fc_target', 'softmax']


@pytest.mark.parametrize('layers, message', [
    (dict(fixed_layers='conv1', random_layers=[]), 'fixed_layers must be a list of layer names, got str'),
    (dict(fixed_layers=[], random_layers=None), 'random_layers must be a list of layer names, got NoneType'),
])
def test_random_freeze_needs_lists(lenet_module, layers, message):
    with pytest.raises(TypeError, match=message):
        xfer.NeuralNetworkRandomFreezeRepurposer(lenet_module, 5, **layers)


def test_random_freeze_names_unknown_layers(lenet_module, digits_5_to_9):
    repurposer = xfer.NeuralNetworkRandomFreezeRepurposer(lenet_module, 5, ['conv1', 'conv3'], [])
    with pytest.raises(ValueError, match="Layer 'conv3' is not in the model"):
        repurposer.repurpose(_iterator(*digits_5_to_9))
    dropped = xfer.NeuralNetworkRandomFreezeRepurposer(lenet_module, 5, [], ['fc2'])
    with pytest.raises(ValueError, match="Layer 'fc2' is not in the model"):
        dropped.repurpose(_iterator(*digits_5_to_9))


def _distance_moved(lenet_module, digits, multiplier):
    mx.random.seed(2)
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(lenet_module, 'fc1', 5, num_epochs=1,
                                                      optimizer_params={'learning_rate': 0.02},
                                                      transferred_learning_rate_multiplier=multiplier)
    repurposer.repurpose(_iterator(*digits, batch_size=len(digits[1])))
    source, trained = ModelHandler(lenet_module).arg_params, _params(repurposer.target_model)
    return {name: np.abs(trained[name] - source[name].asnumpy()).sum() for name in ['conv1_weight', 'fc1_weight']}


def test_transferred_layers_move_a_tenth_as_far_with_multiplier_0_1(lenet_module, digits_5_to_9):
    full = _distance_moved(lenet_module, digits_5_to_9, 1.0)
    tenth = _distance_moved(lenet_module, digits_5_to_9, 0.1)
    for name in full:
        assert full[name] > 0
        assert tenth[name] / full[name] == pytest.approx(0.1, rel=0.02)


def test_the_training_metrics_of_one_batch_epochs_are_numbers(lenet_module, digits_5_to_9):
    # MXNet's Speedometer, also called after each batch, must not reset the metric the history reads.
    images, labels = digits_5_to_9
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(lenet_module, 'fc1', 5, num_epochs=3, batch_size=20)
    repurposer.repurpose(_iterator(images[:20], labels[:20]))
    assert all(np.isfinite(repurposer.history['train_loss'])) and len(repurposer.history['train_loss']) == 3
    assert all(0 <= accuracy <= 1 for accuracy in repurposer.history['train_accuracy'])


def test_history_and_the_best_epoch_by_validation(lenet_module, digits_5_to_9):
    images, labels = digits_5_to_9
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(lenet_module, 'fc1', 5, num_epochs=6, optimizer='adam',
                                                      optimizer_params={'learning_rate': 1e-3})
    validation = _iterator(images[80:], labels[80:])
    repurposer.repurpose(_iterator(images[:80], labels[:80]), validation_iterator=validation)
    history = repurposer.history
    assert history['epoch'] == list(range(6))
    assert len(history['train_loss']) == len(history['validation_accuracy']) == 6
    assert history['train_loss'][-1] < history['train_loss'][0]
    best = int(np.argmax(history['validation_accuracy']))
    assert repurposer.best_epoch == best
    kept = (repurposer.predict_label(validation) == labels[80:]).mean()
    assert kept == pytest.approx(history['validation_accuracy'][best], abs=1e-6)


def test_patience_stops_training_early(lenet_module, digits_5_to_9):
    images, labels = digits_5_to_9
    # a learning rate too small to move any weight (0 itself is refused): the accuracy never improves
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(lenet_module, 'fc1', 5, num_epochs=30,
                                                      optimizer_params={'learning_rate': 1e-30})
    repurposer.repurpose(_iterator(images[:80], labels[:80]), validation_iterator=_iterator(images[80:], labels[80:]),
                         patience=2)
    assert repurposer.history['epoch'] == [0, 1, 2] and repurposer.best_epoch == 0
    with pytest.raises(ValueError, match='patience=2 needs a validation_iterator'):
        repurposer.repurpose(_iterator(images, labels), patience=2)


def test_two_devices_train_and_predict(lenet_module, digits_5_to_9):
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(lenet_module, 'fc1', 5, num_devices=2, num_epochs=3,
                                                      optimizer='adam')
    repurposer.repurpose(_iterator(*digits_5_to_9))
    assert repurposer.target_model._context == [mx.cpu(0), mx.cpu(1)]
    labels = repurposer.predict_label(_iterator(*digits_5_to_9))
    assert (labels == digits_5_to_9[1]).mean() > 0.6


def test_a_gluon_source_is_fine_tuned(digits_5_to_9):
    net = mx.gluon.nn.HybridSequential(prefix='g_')
    with net.name_scope():
        net.add(mx.gluon.nn.Conv2D(4, 5, activation='relu', prefix='conv_'), mx.gluon.nn.Flatten(prefix='flat_'),
                mx.gluon.nn.Dense(8, prefix='hidden_'), mx.gluon.nn.Dense(3, prefix='out_'))
    net.initialize()
    net.hybridize()
    net(mx.nd.zeros((1, 1, 28, 28)))
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(net, 'g_hidden', 5, num_epochs=1)
    repurposer.repurpose(_iterator(*digits_5_to_9))
    assert ModelHandler(repurposer.target_model).layer_names[-3:] == ['g_hidden', 'fc_target', 'softmax']


def test_progressive_fine_tuning_unfreezes_stage_by_stage(lenet_module, digits_5_to_9, monkeypatch):
    """Stage 0 trains only the head; stage 1 adds fc1; conv layers, in no stage, never move."""
    fixed_per_stage = []
    original = ModelHandler.get_module

    def recording_get_module(handler, iterator, fixed_layer_parameters=None, **kwargs):
        fixed_per_stage.append(sorted(fixed_layer_parameters or []))
        return original(handler, iterator, fixed_layer_parameters=fixed_layer_parameters, **kwargs)

    monkeypatch.setattr(ModelHandler, 'get_module', recording_get_module)
    source = ModelHandler(lenet_module).arg_params
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(lenet_module, 'act3', 5, num_epochs=2, optimizer='adam',
                                                      transferred_learning_rate_multiplier=0.1,
                                                      unfreeze_stages=[['fc1']])
    repurposer.repurpose(_iterator(*digits_5_to_9))
    convolutions = ['conv1_bias', 'conv1_weight', 'conv2_bias', 'conv2_weight']
    assert fixed_per_stage == [sorted(convolutions + ['fc1_bias', 'fc1_weight']), convolutions]
    assert repurposer.history['epoch'] == [0, 1, 2, 3]
    trained = _params(repurposer.target_model)
    for name in convolutions:
        np.testing.assert_array_equal(trained[name], source[name].asnumpy())
    assert np.abs(trained['fc1_weight'] - source['fc1_weight'].asnumpy()).max() > 0
    assert repurposer.get_params()['unfreeze_stages'] == [['fc1']]


def test_unfreeze_stages_are_checked(lenet_module, digits_5_to_9):
    with pytest.raises(TypeError, match='unfreeze_stages must be a list of lists of layer names'):
        xfer.NeuralNetworkFineTuneRepurposer(lenet_module, 'fc1', 5, unfreeze_stages=['fc1'])
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(lenet_module, 'fc1', 5, unfreeze_stages=[['fc2']])
    with pytest.raises(ValueError, match="Layer 'fc2' is not in the model"):
        repurposer.repurpose(_iterator(*digits_5_to_9))
