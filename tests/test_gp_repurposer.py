"""GpRepurposer on real MNIST digits and LeNet features: training, predictions, saving, tampered files."""
import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from scipy.optimize import check_grad
from scipy.special import expit
from scipy.stats import norm

import xfer
from xfer.gp_repurposer import _fit_odds_temperature, class_probabilities
from xfer.serialization import SavedFileError
from xfer.shared_kernel_gp_trainer import EpSites, ep_sites, leave_one_out_probabilities
from tests.conftest import load_source_module
from tests.saved_files import companion, reseal

NUM_TRAIN = 120  # above 100, so the GPs are sparse
EVALUATIONS = 10
TWO_CLASSES = [3, 7]


def _iterator(images, labels):
    return mx.io.NDArrayIter(images, labels, batch_size=32, label_name='softmax_label')


@pytest.fixture(scope='module')
def digits(mnist_digits):
    """(train images, train labels), (test images, test labels): all ten digits."""
    images, labels = mnist_digits
    return (images[:NUM_TRAIN], labels[:NUM_TRAIN]), (images[NUM_TRAIN:2 * NUM_TRAIN], labels[NUM_TRAIN:2 * NUM_TRAIN])


@pytest.fixture(scope='module')
def fitted(digits):
    """A GpRepurposer trained on 120 digits of all ten classes, LeNet 'fc1' features."""
    repurposer = xfer.GpRepurposer(load_source_module('lenet_mnist04'), ['fc1'],
                                   max_function_evaluations=EVALUATIONS)
    repurposer.repurpose(_iterator(*digits[0]))
    return repurposer


@pytest.fixture(scope='module')
def two_class_digits(mnist_digits):
    """40 training and 40 test digits of two classes."""
    images, labels = mnist_digits
    keep = np.isin(labels, TWO_CLASSES)
    images, labels = images[keep], labels[keep]
    return (images[:40], labels[:40]), (images[40:80], labels[40:80])


@pytest.fixture(scope='module')
def two_class_two_layers(two_class_digits):
    """A GpRepurposer on two classes, features of two layers (so the kernel is a sum), L2-normalised."""
    repurposer = xfer.GpRepurposer(load_source_module('lenet_mnist04'), ['fc1', 'fc2'],
                                   max_function_evaluations=EVALUATIONS, apply_l2_norm=True)
    repurposer.repurpose(_iterator(*two_class_digits[0]))
    return repurposer


def test_accuracy_is_far_above_chance(fitted, digits):
    images, labels = digits[1]
    accuracy = np.mean(fitted.predict_label(_iterator(images, labels)) == labels)
    assert accuracy > 0.6  # chance is 0.1


def test_probabilities_are_normalised_and_labels_are_their_argmax(fitted, digits):
    iterator = _iterator(*digits[1])
    probabilities = fitted.predict_probability(iterator)
    assert probabilities.shape == (NUM_TRAIN, 10)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(fitted.predict_label(iterator), np.argmax(probabilities, axis=1))


def test_one_sparse_classifier_per_class_with_100_inducing_inputs(fitted, digits):
    labels = digits[0][1]
    assert len(fitted.target_model) == 10
    np.testing.assert_array_equal(fitted.classes, np.arange(10))
    for digit, classifier in enumerate(fitted.target_model):
        assert type(classifier).__name__ == 'SparseGPClassification'
        assert classifier.Z.shape == (100, 128)
        assert classifier.X.shape == (NUM_TRAIN, 128)
        np.testing.assert_array_equal(classifier.Y[:, 0], labels == digit)  # one against the rest


def test_classifiers_share_the_optimised_kernel(fitted):
    parameters = [classifier.kern.param_array for classifier in fitted.target_model]
    for other in parameters[1:]:
        np.testing.assert_array_equal(other, parameters[0])
    kernel = fitted.target_model[0].kern
    assert type(kernel).__name__ == 'RBF' and kernel.name == 'fc1'
    np.testing.assert_array_equal(kernel.active_dims, np.arange(128))


def test_features_are_centred_on_the_training_mean(fitted, digits):
    features = fitted.get_features_from_source_model(_iterator(*digits[0])).features
    np.testing.assert_allclose(fitted.feature_mean, features.mean(axis=0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fitted.target_model[0].X, features - fitted.feature_mean, rtol=1e-6, atol=1e-6)


def test_optimisation_history_is_kept_and_stays_within_budget(fitted):
    history = fitted.optimization_history
    assert history and all(run for run in history)
    assert sum(len(run) for run in history) <= EVALUATIONS
    assert min(history[0]) < history[0][0]
    assert np.all(np.isfinite(np.concatenate(history)))
    assert fitted.negative_log_likelihoods.shape == (10,)
    np.testing.assert_allclose(fitted.negative_log_likelihoods,
                               [-classifier.log_likelihood() for classifier in fitted.target_model])


def test_two_classes_give_one_exact_gp_with_a_summed_kernel(two_class_two_layers, two_class_digits):
    repurposer = two_class_two_layers
    images, labels = two_class_digits[1]
    (classifier,) = repurposer.target_model
    np.testing.assert_array_equal(classifier.Z, classifier.X)  # every point is an inducing input: the exact GP
    assert [part.name for part in classifier.kern.parts] == ['fc1', 'fc2']
    np.testing.assert_array_equal(classifier.kern.parts[0].active_dims, np.arange(128))
    np.testing.assert_array_equal(classifier.kern.parts[1].active_dims, np.arange(128, 133))
    probabilities = repurposer.predict_probability(_iterator(images, labels))
    positive = classifier.predict(repurposer._normalized(
        repurposer.get_features_from_source_model(_iterator(images, labels)).features) - repurposer.feature_mean)[0]
    log_odds = (np.log(positive) - np.log1p(-positive)) / repurposer.odds_temperature
    np.testing.assert_allclose(probabilities, np.hstack([1 - expit(log_odds), expit(log_odds)]))
    predicted = repurposer.predict_label(_iterator(images, labels))
    assert set(predicted) <= set(TWO_CLASSES)
    assert np.mean(predicted == labels) > 0.8


def test_one_vs_rest_probabilities_combine_as_tempered_odds():
    # Odds 1 and 3 give 1/4 and 3/4; at temperature 1/2 the odds are squared: 1 and 9.
    np.testing.assert_allclose(class_probabilities(np.array([[0.5, 0.75]]), 1.0), [[0.25, 0.75]])
    np.testing.assert_allclose(class_probabilities(np.array([[0.5, 0.75]]), 0.5), [[0.1, 0.9]])
    np.testing.assert_allclose(class_probabilities(np.array([[0.75], [0.5]]), 1.0), [[0.25, 0.75], [0.5, 0.5]])


def test_leave_one_out_probability_is_the_probit_of_the_cavity():
    # Posterior N(1, 1/2) with a site of precision 1 and natural mean 1: the cavity has precision 2 - 1 = 1
    # and natural mean 1 * 2 - 1 = 1, so it is N(1, 1) and the prediction is Phi(1 / sqrt(1 + 1)).
    sites = EpSites(np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([1.0, -0.5]), np.array([0.5, 0.25]), 0.0)
    np.testing.assert_allclose(leave_one_out_probabilities(sites), norm.cdf([1 / np.sqrt(2), -0.5 / np.sqrt(1.25)]))


def test_odds_temperature_maximises_the_leave_one_out_likelihood(fitted, digits):
    labels = digits[0][1]
    positive = np.stack([leave_one_out_probabilities(ep_sites(classifier)) for classifier in fitted.target_model], 1)

    def log_likelihood(temperature):
        return np.log(class_probabilities(positive, temperature)[np.arange(len(labels)), labels]).sum()

    temperature = fitted.odds_temperature
    assert 0.05 < temperature < 20
    assert log_likelihood(temperature) > max(log_likelihood(temperature * 1.2), log_likelihood(temperature / 1.2))
    assert log_likelihood(temperature) > log_likelihood(1.0)


def test_without_a_second_example_of_any_class_the_temperature_is_one():
    sites = [EpSites(np.ones(3), np.ones(3), np.zeros(3), np.full(3, 0.5), 0.0)] * 3
    assert _fit_odds_temperature(sites, np.eye(3)) == 1.0


def test_l2_norm_is_applied_before_centring(two_class_two_layers, two_class_digits):
    repurposer = two_class_two_layers
    features = repurposer.get_features_from_source_model(_iterator(*two_class_digits[0])).features
    normalised = features / np.linalg.norm(features, axis=1, keepdims=True)
    np.testing.assert_allclose(repurposer.feature_mean, normalised.mean(axis=0), rtol=1e-5, atol=1e-7)
    rows = repurposer.target_model[0].X + repurposer.feature_mean
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-6)


def test_shared_objective_gradient_matches_finite_differences(two_class_digits, fitted):
    from xfer.shared_kernel_gp_trainer import SharedKernelGpTrainer
    features = fitted.get_features_from_source_model(_iterator(*two_class_digits[0]))
    inputs = features.features - features.features.mean(axis=0)
    targets = np.stack([features.labels == TWO_CLASSES[0], features.labels == TWO_CLASSES[1]], axis=1)
    trainer = SharedKernelGpTrainer(inputs.astype(np.float64), targets.astype(np.float64),
                                    features.feature_indices_per_layer, 1)
    classifiers = trainer._build_classifiers(_NoProgress())
    point = np.array([0.3, -0.2])
    error = check_grad(lambda x: trainer._summed_objective(classifiers, x)[0],
                       lambda x: trainer._summed_objective(classifiers, x)[1], point, epsilon=1e-6)
    assert error < 1e-4 * np.linalg.norm(trainer._summed_objective(classifiers, point)[1])


def test_log_normal_prior_adds_half_the_squared_scaled_log_factors(two_class_digits, fitted, monkeypatch):
    from xfer import shared_kernel_gp_trainer
    features = fitted.get_features_from_source_model(_iterator(*two_class_digits[0]))
    inputs = features.features - features.features.mean(axis=0)
    targets = (features.labels == TWO_CLASSES[1]).astype(np.float64)[:, np.newaxis]
    trainer = shared_kernel_gp_trainer.SharedKernelGpTrainer(inputs.astype(np.float64), targets,
                                                             features.feature_indices_per_layer, 1)
    classifiers = trainer._build_classifiers(_NoProgress())
    point = np.array([0.6, -0.4])
    with_prior = trainer._summed_objective(classifiers, point)
    monkeypatch.setattr(shared_kernel_gp_trainer, 'LOG_PARAMETER_PRIOR_SCALE', np.inf)
    without_prior = trainer._summed_objective(classifiers, point)
    scale = 0.5  # the module's LOG_PARAMETER_PRIOR_SCALE
    assert with_prior[0] - without_prior[0] == pytest.approx(0.5 * (0.6 ** 2 + 0.4 ** 2) / scale ** 2)
    np.testing.assert_allclose(with_prior[1] - without_prior[1], point / scale ** 2)


def test_get_params_are_the_constructor_arguments(lenet_module):
    repurposer = xfer.GpRepurposer(lenet_module, ['fc1'], num_devices=1, max_function_evaluations=7,
                                   apply_l2_norm=True)
    params = repurposer.get_params()
    assert params == {'context_function': 'cpu', 'num_devices': 1, 'feature_layer_names': ['fc1'],
                      'max_function_evaluations': 7, 'apply_l2_norm': True}
    assert xfer.GpRepurposer(lenet_module, **params).get_params() == params


@pytest.mark.parametrize('arguments, error, message', [
    ({'max_function_evaluations': 0}, ValueError, 'at least 1, got 0'),
    ({'max_function_evaluations': 'ten'}, TypeError, "'ten'"),
    ({'max_function_evaluations': True}, TypeError, 'True'),
    ({'apply_l2_norm': 'yes'}, TypeError, "'yes'"),
])
def test_bad_arguments_are_named(lenet_module, arguments, error, message):
    with pytest.raises(error, match=message):
        xfer.GpRepurposer(lenet_module, ['fc1'], **arguments)


def test_predicting_before_repurpose_says_what_to_do(lenet_module, digits):
    with pytest.raises(ValueError, match='repurpose'):
        xfer.GpRepurposer(lenet_module, ['fc1']).predict_probability(_iterator(*digits[1]))


def test_a_single_class_is_refused(lenet_module, mnist_digits):
    images, labels = mnist_digits
    keep = labels == 4
    with pytest.raises(ValueError, match='at least two classes'):
        xfer.GpRepurposer(lenet_module, ['fc1'], max_function_evaluations=2).repurpose(
            _iterator(images[keep], labels[keep]))


@pytest.mark.parametrize('save_source_model', [True, False])
def test_saved_and_loaded_predictions_are_identical(fitted, digits, tmp_path, save_source_model):
    fitted.save_repurposer('gp', str(tmp_path), save_source_model=save_source_model)
    source = None if save_source_model else load_source_module('lenet_mnist04')
    loaded = xfer.load('gp', str(tmp_path), source_model=source)
    iterator = _iterator(*digits[1])
    np.testing.assert_array_equal(loaded.predict_probability(iterator), fitted.predict_probability(iterator))
    np.testing.assert_array_equal(loaded.predict_label(iterator), fitted.predict_label(iterator))
    assert loaded.get_params() == fitted.get_params()
    assert loaded.optimization_history == fitted.optimization_history
    assert loaded.odds_temperature == fitted.odds_temperature
    np.testing.assert_array_equal(loaded.negative_log_likelihoods, fitted.negative_log_likelihoods)


def test_summed_kernel_survives_saving(two_class_two_layers, two_class_digits, tmp_path):
    two_class_two_layers.save_repurposer('gp2', str(tmp_path))
    loaded = xfer.load('gp2', str(tmp_path))
    iterator = _iterator(*two_class_digits[1])
    np.testing.assert_array_equal(loaded.predict_probability(iterator),
                                  two_class_two_layers.predict_probability(iterator))
    assert loaded.apply_l2_norm is True


@pytest.fixture
def saved(fitted, tmp_path):
    """The fitted repurposer saved (without source) in tmp_path: the paths of its JSON and npz files."""
    fitted.save_repurposer('gp', str(tmp_path), save_source_model=False)
    return str(tmp_path / 'gp.json'), companion(str(tmp_path / 'gp.json'), '_gp.npz')


def _load(saved):
    return xfer.load('gp', os.path.dirname(saved[0]), source_model=load_source_module('lenet_mnist04'))


def _rewrite_npz(path, change):
    with np.load(path) as arrays:
        contents = dict(arrays)
    change(contents)
    np.savez(path, **contents)
    reseal(os.path.join(os.path.dirname(path), 'gp.json'))


def test_missing_npz_is_named(saved):
    os.remove(saved[1])
    with pytest.raises(FileNotFoundError, match=r'gp\.[0-9a-f]{16}_gp.npz'):
        _load(saved)


@pytest.mark.parametrize('change, message', [
    (lambda arrays: arrays.pop('site_precisions'), 'site_precisions'),
    (lambda arrays: arrays.update(kernel_parameters=np.ones(3)), 'kernel_parameters'),
    (lambda arrays: arrays.update(feature_mean=np.ones(5)), 'feature_mean'),
    (lambda arrays: arrays.update(inducing_inputs=np.ones((100, 3))), 'inducing_inputs'),
    (lambda arrays: arrays.update(classes=np.array(['a', 'b'])), 'classes'),
    (lambda arrays: arrays.update(kernel_parameters=-arrays['kernel_parameters']), 'non-positive'),
    (lambda arrays: arrays.update(site_precisions=arrays['site_precisions'][:, :-1]), 'site_precisions'),
])
def test_tampered_npz_is_named(saved, change, message):
    _rewrite_npz(saved[1], change)
    with pytest.raises(SavedFileError, match=message) as raised:
        _load(saved)
    assert raised.value.path == saved[1]


def test_corrupt_npz_is_named(saved):
    with open(saved[1], 'wb') as npz_file:
        npz_file.write(b'not an npz file')
    reseal(saved[0])
    with pytest.raises(SavedFileError) as raised:
        _load(saved)
    assert raised.value.path == saved[1]


@pytest.mark.parametrize('change, message', [
    (lambda target: target.pop('feature_indices_per_layer'), 'feature_indices_per_layer'),
    (lambda target: target.update(feature_indices_per_layer=[['fc1', 'all']]), 'feature_indices_per_layer'),
    (lambda target: target.update(feature_indices_per_layer=[['fc1', list(range(500))]]), 'columns beyond'),
    (lambda target: target.update(optimization_history=[['high']]), 'optimization_history'),
    (lambda target: target.clear(), 'missing'),
])
def test_tampered_json_is_named(saved, change, message):
    with open(saved[0]) as json_file:
        content = json.load(json_file)
    change(content['target_model'])
    with open(saved[0], 'w') as json_file:
        json.dump(content, json_file)
    with pytest.raises(SavedFileError, match=message) as raised:
        _load(saved)
    assert raised.value.path in saved


def test_importing_xfer_does_not_import_gpy():
    code = 'import sys, xfer; xfer.GpRepurposer; assert "GPy" not in sys.modules, "GPy was imported"'
    subprocess.run([sys.executable, '-c', code], check=True, cwd=os.path.dirname(os.path.dirname(__file__)))


class _NoProgress:
    """Stands in for the progress bar when calling the trainer's steps directly."""

    def set_postfix_str(self, text):
        pass
