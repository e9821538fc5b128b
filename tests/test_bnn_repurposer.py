"""BnnRepurposer on real digits: annealing, arguments, training, predictions, saving and loading."""
import json
import os
import re

import mxnet as mx
import numpy as np
import pytest

import xfer
from xfer import BnnRepurposer, datasets
from xfer.bnn_classifier import BnnClassifier
from xfer.bnn_repurposer import kl_annealing_weights
from xfer.serialization import SavedFileError

from tests.conftest import load_source_module
from tests.saved_files import companion, companion_names, reseal

#: A short training that still learns: likelihood only for 5 epochs, KL weight rising over the next 5.
QUICK = dict(num_epochs=20, learning_rate=0.01, start_annealing=5, end_annealing=10)


def _iterator(images, labels):
    return mx.io.NDArrayIter(images, labels, batch_size=50, label_name='softmax_label')


@pytest.fixture(scope='module')
def digits():
    """300 training and 200 held-out real MNIST digits, all ten classes (LeNet was trained on 0-4)."""
    images, labels = datasets.load_mnist_5k()
    order = np.random.default_rng(0).permutation(len(labels))
    return (images[order[:300]], labels[order[:300]]), (images[order[300:500]], labels[order[300:500]])


@pytest.fixture(scope='module')
def fitted(digits):
    mx.random.seed(0)
    repurposer = BnnRepurposer(load_source_module('lenet_mnist04'), ['fc1'], **QUICK)
    repurposer.repurpose(_iterator(*digits[0]))
    return repurposer


@pytest.fixture
def test_iterator(digits):
    return _iterator(*digits[1])


# --- KL annealing schedule -------------------------------------------------------------------------------

def test_default_schedule_is_flat_for_a_tenth_of_the_epochs_then_rises_over_the_next_tenth():
    weights = kl_annealing_weights(50)

    assert weights[:6] == [0.0] * 6
    np.testing.assert_allclose(weights[5:11], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert weights[10:] == [1.0] * 40


def test_schedule_rises_linearly_between_the_given_epochs():
    np.testing.assert_allclose(kl_annealing_weights(8, start_annealing=2, end_annealing=6),
                               [0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0])


@pytest.mark.parametrize('num_epochs, expected', [
    (1, [0.0]),  # start 0, end 1: the only epoch has the likelihood alone
    (5, [0.0, 1.0, 1.0, 1.0, 1.0]),  # end = start + max(10% of epochs, 1)
])
def test_schedule_rises_over_at_least_one_epoch(num_epochs, expected):
    assert kl_annealing_weights(num_epochs) == expected


@pytest.mark.parametrize('arguments, message', [
    (dict(num_epochs=10, start_annealing=10), r'start_annealing \(10\) must be smaller than num_epochs \(10\)'),
    (dict(num_epochs=10, start_annealing=2, end_annealing=11),
     r'end_annealing \(11\) must not exceed num_epochs \(10\)'),
    (dict(num_epochs=10, start_annealing=4, end_annealing=4),
     r'end_annealing \(4\) must be larger than start_annealing \(4\)'),
    (dict(num_epochs=100, start_annealing=95),
     r'end_annealing \(105, the default start_annealing \+ max\(num_epochs // 10, 1\)\) must not exceed num_epochs'),
    (dict(num_epochs=10, start_annealing=-1), r'start_annealing must be an integer of at least 0, got -1'),
])
def test_constructor_refuses_impossible_annealing(lenet_module, arguments, message):
    with pytest.raises(ValueError, match=message):
        BnnRepurposer(lenet_module, ['fc1'], **arguments)


# --- arguments -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('name, value', [
    ('sigma', 0.0), ('sigma', -1.0), ('learning_rate', float('nan')), ('num_layers', -1), ('n_hidden', 0),
    ('num_samples_mc', 0), ('batch_size', 2.5), ('num_epochs', 0), ('num_epochs', True),
    ('num_samples_mc_prediction', 0), ('verbose', -1), ('verbose', 'yes'),
])
def test_constructor_refuses_bad_values_naming_them(lenet_module, name, value):
    with pytest.raises(ValueError, match=r'{} must be .*got {}'.format(name, re.escape(repr(value)))):
        BnnRepurposer(lenet_module, ['fc1'], **{name: value})


def test_constructor_refuses_an_unknown_bnn_context_function(lenet_module):
    with pytest.raises(ValueError, match='Unknown context function'):
        BnnRepurposer(lenet_module, ['fc1'], bnn_context_function=mx.context.Context)


def test_get_params_returns_exactly_the_constructor_arguments(lenet_module):
    arguments = dict(feature_layer_names=['fc1', 'fc2'], context_function='cpu', num_devices=1,
                     bnn_context_function='cpu', sigma=10.0, num_layers=2, n_hidden=7, num_samples_mc=4,
                     learning_rate=0.01, batch_size=16, num_epochs=30, start_annealing=None, end_annealing=12,
                     num_samples_mc_prediction=50, verbose=1)

    repurposer = BnnRepurposer(lenet_module, **arguments)

    assert repurposer.get_params() == arguments
    assert repurposer.bnn_context_function is mx.cpu
    twin = BnnRepurposer(lenet_module, **repurposer.get_params())
    assert twin.get_params() == arguments and twin.target_model is None


def test_default_params_name_the_context_functions(lenet_module):
    params = BnnRepurposer(lenet_module, ['fc1']).get_params()

    assert params['context_function'] == params['bnn_context_function'] == 'cpu'
    assert (params['sigma'], params['num_layers'], params['n_hidden'], params['num_samples_mc']) == (100.0, 1, 10, 3)
    assert (params['learning_rate'], params['batch_size'], params['num_epochs']) == (1e-3, 20, 200)
    assert (params['start_annealing'], params['end_annealing']) == (None, None)
    assert (params['num_samples_mc_prediction'], params['verbose']) == (100, 0)


# --- training and predicting ------------------------------------------------------------------------------

def test_training_on_real_digits_is_clearly_better_than_chance(fitted, digits, test_iterator):
    assert isinstance(fitted.target_model, BnnClassifier)
    assert np.mean(fitted.predict_label(test_iterator) == digits[1][1]) > 0.6


def test_history_has_one_entry_per_epoch_and_the_loss_falls_once_the_kl_weight_is_full(fitted):
    assert len(fitted.train_acc) == len(fitted.average_loss) == QUICK['num_epochs']
    full_weight = fitted.average_loss[QUICK['end_annealing']:]
    assert all(later < earlier for earlier, later in zip(full_weight, full_weight[1:]))
    assert fitted.average_loss[1] < fitted.average_loss[0]
    assert fitted.train_acc[-1] > fitted.train_acc[0] + 0.3


def test_probabilities_are_distributions_and_labels_their_argmax(fitted, test_iterator):
    probabilities = fitted.predict_probability(test_iterator)
    labels = fitted.predict_label(test_iterator)

    assert probabilities.shape == (200, 10) and labels.shape == (200,)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(labels, probabilities.argmax(axis=1))


def test_training_is_repeatable_under_an_mxnet_seed(digits):
    def train():
        mx.random.seed(5)
        repurposer = BnnRepurposer(load_source_module('lenet_mnist04'), ['fc1'], num_epochs=2)
        repurposer.repurpose(_iterator(digits[0][0][:60], digits[0][1][:60]))
        return repurposer.average_loss

    assert train() == train()


def test_predicting_before_repurposing_says_to_repurpose(lenet_module, test_iterator):
    with pytest.raises(ValueError, match=r'call repurpose\(train_iterator\) first'):
        BnnRepurposer(lenet_module, ['fc1']).predict_probability(test_iterator)


@pytest.mark.parametrize('verbose', [1, True])
def test_verbose_prints_one_line_per_epoch(digits, capsys, verbose):
    repurposer = BnnRepurposer(load_source_module('lenet_mnist04'), ['fc1'], num_epochs=3, verbose=verbose)

    repurposer.repurpose(_iterator(digits[0][0][:40], digits[0][1][:40]))

    lines = capsys.readouterr().out.splitlines()
    assert [line.split(':')[0] for line in lines] == ['Epoch 1/3', 'Epoch 2/3', 'Epoch 3/3']
    assert lines[-1].startswith('Epoch 3/3: average loss {:.4f}, train accuracy {:.4f}, KL weight 1.000'.format(
        repurposer.average_loss[-1], repurposer.train_acc[-1]))


def test_quiet_training_prints_nothing(digits, capsys):
    BnnRepurposer(load_source_module('lenet_mnist04'), ['fc1'], num_epochs=2).repurpose(
        _iterator(digits[0][0][:40], digits[0][1][:40]))

    captured = capsys.readouterr()
    assert captured.out == '' and captured.err == ''


# --- saving and loading -------------------------------------------------------------------------------------

@pytest.fixture
def saved(fitted, tmp_path):
    fitted.save_repurposer('bnn', str(tmp_path))
    return str(tmp_path)


def test_saving_writes_the_posterior_beside_the_json(saved):
    assert sorted(os.listdir(saved)) == sorted(['bnn.json'] + [
        os.path.basename(companion(os.path.join(saved, 'bnn.json'), suffix))
        for suffix in ('_posterior.json', '_posterior_params.npz', '_source-0000.params', '_source-symbol.json')])
    assert companion_names(os.path.join(saved, 'bnn.json')) == [
        '_posterior.json', '_posterior_params.npz', '_source-0000.params', '_source-symbol.json']
    with open(os.path.join(saved, 'bnn.json')) as json_file:
        target = json.load(json_file)['target_model']
    assert target['architecture'] == {'n_in': 128, 'n_classes': 10, 'num_layers': 1, 'n_hidden': 10}
    assert target['normalizer'] == 'l2' and len(target['average_loss']) == QUICK['num_epochs']


def test_loaded_repurposer_predicts_exactly_like_the_saved_one(fitted, saved, test_iterator):
    loaded = xfer.load('bnn', saved)

    assert type(loaded) is BnnRepurposer and loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.predict_probability(test_iterator), fitted.predict_probability(test_iterator))
    assert loaded.train_acc == fitted.train_acc and loaded.average_loss == fitted.average_loss


def test_a_truncated_posterior_array_file_is_named(saved):
    path = companion(os.path.join(saved, 'bnn.json'), '_posterior_params.npz')
    with open(path, 'rb') as npz_file:
        content = npz_file.read()
    with open(path, 'wb') as npz_file:
        npz_file.write(content[:len(content) // 2])
    reseal(os.path.join(saved, 'bnn.json'))

    with pytest.raises(SavedFileError, match='Bad saved file {}'.format(path)):
        xfer.load('bnn', saved)


@pytest.mark.parametrize('file_name, edit', [
    ('_posterior.json', lambda text: text[:len(text) // 2]),
    ('_posterior.json', lambda text: text.replace('GaussianVariationalPosterior', 'Pickle')),
    ('_posterior_params.npz', None),
])
def test_a_tampered_posterior_file_is_named(saved, file_name, edit):
    path = companion(os.path.join(saved, 'bnn.json'), file_name)
    if edit is None:  # swap in arrays of the wrong shapes
        np.savez(path, **{name: np.zeros(3) for name in np.load(path).files})
    else:
        with open(path) as text_file:
            text = text_file.read()
        with open(path, 'w') as text_file:
            text_file.write(edit(text))
    reseal(os.path.join(saved, 'bnn.json'))

    with pytest.raises(SavedFileError, match='Bad saved file {}'.format(path)):
        xfer.load('bnn', saved)


def test_a_tampered_architecture_is_caught(saved):
    path = os.path.join(saved, 'bnn.json')
    with open(path) as json_file:
        content = json.load(json_file)
    content['target_model']['architecture']['n_hidden'] = 12
    with open(path, 'w') as json_file:
        json.dump(content, json_file)

    with pytest.raises(SavedFileError, match=r'bnn\.[0-9a-f]{16}_posterior.json: the posterior is over shapes'):
        xfer.load('bnn', saved)


def test_a_missing_posterior_file_is_named(saved):
    os.remove(companion(os.path.join(saved, 'bnn.json'), '_posterior_params.npz'))

    with pytest.raises(FileNotFoundError, match='_posterior_params.npz'):
        xfer.load('bnn', saved)
