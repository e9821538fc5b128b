"""BnnClassifier: Monte Carlo predictions of a Bayesian MLP, checked against the Gluon network run sample by sample."""
import mxnet as mx
import numpy as np
import pytest
from scipy.special import softmax

from xfer.bnn_classifier import PREDICTION_SEED, BnnClassifier, l2_normalize
from xfer.prob import FunctionalNetwork, GaussianVariationalPosterior
from xfer.sampled_mlp import SampledMlp

N_IN, N_CLASSES = 6, 3


def _classifier(sigma=0.3, num_layers=1):
    model = SampledMlp(N_IN, N_CLASSES, num_layers, n_hidden=5)
    means = [np.random.default_rng(index).normal(size=shape) for index, shape in enumerate(model.shapes)]
    posterior = GaussianVariationalPosterior(means, [np.array([[sigma]])], model.shapes, mx.cpu())
    return BnnClassifier(model, posterior, l2_normalize)


@pytest.fixture
def features():
    return np.random.default_rng(7).normal(size=(11, N_IN)).astype(np.float32)


def _reference_probabilities(classifier, features, num_samples):
    """Softmax averaged over the same seeded samples, each run through the Gluon network on its own."""
    model, posterior = classifier.model, classifier.var_posterior
    network = model.gluon_network()
    network.initialize(ctx=mx.cpu())
    functional = FunctionalNetwork(network)
    mean = np.concatenate([array.asnumpy().ravel() for array in posterior.get_mean()])
    sigma = np.concatenate([array.asnumpy().ravel() for array in posterior.get_sigma()])
    noise = np.random.default_rng(PREDICTION_SEED).standard_normal((num_samples, model.num_params), dtype=np.float32)
    data = mx.nd.array(l2_normalize(features))
    total = 0
    for flat in mean + sigma * noise:
        pieces = np.split(flat, np.cumsum([int(np.prod(shape)) for shape in model.shapes])[:-1])
        sample = [mx.nd.array(piece.reshape(shape)) for piece, shape in zip(pieces, model.shapes)]
        total = total + softmax(functional(data, sample).asnumpy(), axis=1)
    return total / num_samples


def test_l2_normalize_gives_unit_rows_and_keeps_zero_rows():
    features = np.array([[3.0, 4.0], [0.0, 0.0], [-1.0, 0.0]])

    np.testing.assert_allclose(l2_normalize(features), [[0.6, 0.8], [0.0, 0.0], [-1.0, 0.0]])


@pytest.mark.parametrize('num_layers', [0, 1, 2])
def test_predict_averages_the_softmax_of_the_gluon_network_over_seeded_samples(features, num_layers):
    classifier = _classifier(num_layers=num_layers)

    labels, probabilities = classifier.predict(features, num_samples_mc_prediction=7)

    np.testing.assert_allclose(probabilities, _reference_probabilities(classifier, features, 7), atol=1e-5)
    np.testing.assert_array_equal(labels, probabilities.argmax(axis=1))


def test_probabilities_are_distributions(features):
    labels, probabilities = _classifier().predict(features, context=mx.cpu(0))

    assert probabilities.shape == (len(features), N_CLASSES) and labels.shape == (len(features),)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_predictions_are_repeatable_and_do_not_touch_the_global_random_state(features):
    classifier = _classifier()
    np.random.seed(3)
    expected_draw = np.random.random()
    np.random.seed(3)

    first = classifier.predict(features, 20)
    second = classifier.predict(features, 20)

    np.testing.assert_array_equal(first[1], second[1])
    assert np.random.random() == expected_draw


def test_rows_are_predicted_independently_of_the_other_rows(features):
    classifier = _classifier()

    _, together = classifier.predict(features, 20)
    _, alone = classifier.predict(features[3:4], 20)

    np.testing.assert_allclose(alone[0], together[3], rtol=1e-6)


def test_a_near_certain_posterior_predicts_like_its_mean_network(features):
    classifier = _classifier(sigma=1e-6)

    _, probabilities = classifier.predict(features, 5)

    np.testing.assert_allclose(probabilities, _reference_probabilities(_classifier(sigma=1e-6), features, 1),
                               atol=1e-5)


def test_no_rows_give_empty_predictions():
    labels, probabilities = _classifier().predict(np.zeros((0, N_IN)))

    assert labels.shape == (0,) and probabilities.shape == (0, N_CLASSES)


def test_features_of_the_wrong_width_are_refused():
    with pytest.raises(ValueError, match=r'Expected features of shape \(n, 6\), got shape \(4, 5\)'):
        _classifier().predict(np.zeros((4, 5)))


@pytest.mark.parametrize('num_samples', [0, -2, 2.5, True])
def test_the_number_of_samples_must_be_a_positive_integer(features, num_samples):
    with pytest.raises(ValueError, match='num_samples_mc_prediction must be a positive integer, got {}'.format(
            num_samples)):
        _classifier().predict(features, num_samples)


def test_a_posterior_over_other_shapes_is_refused():
    model = SampledMlp(N_IN, N_CLASSES, 1, 5)
    posterior = GaussianVariationalPosterior([np.zeros(1)], [np.ones(1)], [(5, N_IN)], mx.cpu())

    with pytest.raises(ValueError, match=r'The posterior is over shapes \[\(5, 6\)\], but the model has weights'):
        BnnClassifier(model, posterior, l2_normalize)
