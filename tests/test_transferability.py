"""xfer.transferability: LogME, H-score, LEEP and NCE worked by hand, and rankings of the real LeNet."""
import mxnet as mx
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from xfer.model_handler import ModelHandler
from xfer.transferability import (RankedScore, TransferabilityRanking, candidate_layers, h_score, leep, logme, nce,
                                  plot_layer_ranking, rank_layers, rank_sources)
from tests.conftest import LENET_LAYERS

LENET_DIMENSIONS = {'conv1': 32 * 24 * 24, 'act1': 32 * 24 * 24, 'pool1': 32 * 12 * 12, 'conv2': 64 * 8 * 8,
                    'act2': 64 * 8 * 8, 'pool2': 64 * 4 * 4, 'flatten': 1024, 'fc1': 128, 'act3': 128, 'fc2': 5}


def _labelled_features(rng, samples, dimensions, classes, signal):
    """Gaussian noise features whose first ``classes`` columns are shifted by ``signal`` for their class."""
    labels = np.arange(samples) % classes
    features = rng.standard_normal((samples, dimensions))
    features[:, :classes] += signal * np.eye(classes)[labels]
    return features, labels


def _evidence(features, targets, alpha, beta):
    """log N(y; 0, I / beta + F F^T / alpha): the evidence of Bayesian linear regression, directly."""
    covariance = np.eye(len(targets)) / beta + features @ features.T / alpha
    return multivariate_normal(np.zeros(len(targets)), covariance).logpdf(targets)


def _direct_logme(features, labels):
    """LogME by the paper's fixed-point iteration with explicit matrix inverses (precisions kept in 1e-12..1e12)."""
    samples, dimensions = features.shape
    scores = []
    for label in np.unique(labels):
        targets = (labels == label).astype(float)
        alpha = beta = 1.0
        for _ in range(5000):
            inverse = np.linalg.inv(alpha * np.eye(dimensions) + beta * features.T @ features)
            weights = beta * inverse @ features.T @ targets
            gamma = dimensions - alpha * np.trace(inverse)
            new_alpha, new_beta = np.clip([gamma / (weights @ weights),
                                           (samples - gamma) / np.sum((features @ weights - targets) ** 2)],
                                          1e-12, 1e12)
            if np.isclose(new_alpha, alpha, rtol=1e-13, atol=0) and np.isclose(new_beta, beta, rtol=1e-13, atol=0):
                break
            alpha, beta = new_alpha, new_beta
        scores.append(_evidence(features, targets, alpha, beta) / samples)
    return np.mean(scores)


def _direct_h_score(features, labels):
    """tr(pinv(cov f) cov(E[f | y])) with every sample replaced by its class mean, directly."""
    class_means = np.array([features[labels == label].mean(axis=0) for label in labels])
    return np.trace(np.linalg.pinv(np.cov(features.T, bias=True)) @ np.cov(class_means.T, bias=True))


# ======================================================================================= NCE
def test_nce_of_a_relabelling_is_zero():
    assert nce([0, 0, 1, 1, 2, 2], [7, 7, 3, 3, 5, 5]) == pytest.approx(0, abs=1e-12)


def test_nce_of_independent_labels_is_minus_the_target_entropy():
    source_labels = np.tile([0, 1, 2], 3)
    labels = np.repeat([0, 1, 1], 3)  # every source class sees target classes 0, 1, 1
    assert nce(source_labels, labels) == pytest.approx(np.log(1 / 3) / 3 + 2 * np.log(2 / 3) / 3, rel=1e-12)


def test_nce_worked_by_hand():
    # P(y, z): (0, 0) = 1/2, (1, 0) = 1/4, (1, 1) = 1/4; P(y | z = 0) = (2/3, 1/3), P(y = 1 | z = 1) = 1
    expected = np.log(2 / 3) / 2 + np.log(1 / 3) / 4
    assert nce([0, 0, 0, 1], [0, 0, 1, 1]) == pytest.approx(expected, rel=1e-12)


def test_nce_is_between_minus_the_target_entropy_and_zero():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200)
    source_labels = np.where(rng.random(200) < 0.6, labels, rng.integers(0, 6, 200))
    entropy = -np.sum(np.bincount(labels) / 200 * np.log(np.bincount(labels) / 200))
    assert -entropy < nce(source_labels, labels) < 0


# ====================================================================================== LEEP
def test_leep_worked_by_hand():
    probabilities = np.array([[0.8, 0.2], [0.4, 0.6], [0.1, 0.9]])
    labels = np.array([0, 1, 1])
    joint = np.zeros((2, 2))
    for row, label in zip(probabilities, labels):
        joint[label] += row / 3
    conditional = joint / joint.sum(axis=0)
    expected = np.mean([np.log(sum(conditional[label, z] * row[z] for z in range(2)))
                        for row, label in zip(probabilities, labels)])
    assert leep(probabilities, labels) == pytest.approx(expected, rel=1e-12)


def test_leep_of_one_hot_predictions_equals_nce():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 100)
    source_labels = np.where(rng.random(100) < 0.5, labels, rng.integers(0, 5, 100))
    assert leep(np.eye(5)[source_labels], labels) == pytest.approx(nce(source_labels, labels), rel=1e-12)


def test_leep_is_at_most_zero_and_higher_for_informative_predictions():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 4, 300)
    uninformative = rng.dirichlet(np.ones(6), size=300)
    informative = 0.2 * uninformative + 0.8 * np.eye(6)[labels]
    assert leep(informative, labels) > leep(uninformative, labels)
    assert leep(uninformative, labels) <= 0 and leep(informative, labels) <= 0
    assert leep(np.eye(4)[labels], labels) == pytest.approx(0, abs=1e-12)


# ===================================================================================== LogME
@pytest.mark.parametrize('samples, dimensions, signal', [(40, 5, 1.0), (40, 5, 0.0), (20, 30, 1.0)])
def test_logme_agrees_with_the_direct_fixed_point(samples, dimensions, signal):
    features, labels = _labelled_features(np.random.default_rng(3), samples, dimensions, 3, signal)
    assert logme(features, labels) == pytest.approx(_direct_logme(features, labels), abs=1e-6)


def test_logme_is_the_maximum_over_a_grid_of_precisions():
    features, labels = _labelled_features(np.random.default_rng(4), 30, 4, 2, 1.5)
    grid = np.logspace(-3, 3, 13)
    best_per_class = [max(_evidence(features, (labels == label).astype(float), alpha, beta)
                          for alpha in grid for beta in grid) for label in (0, 1)]
    grid_score = np.mean(best_per_class) / len(labels)
    assert grid_score <= logme(features, labels) + 1e-12
    assert logme(features, labels) - grid_score < 0.02


def test_logme_orders_features_by_how_much_they_say_about_the_labels():
    rng = np.random.default_rng(5)
    scores = [logme(*_labelled_features(rng, 300, 20, 5, signal)) for signal in (0.0, 0.5, 2.0, 8.0)]
    assert scores == sorted(scores)
    labels = np.arange(300) % 5
    assert logme(np.eye(5)[labels], labels) > scores[-1]


def test_logme_is_invariant_to_scale_rotation_sample_order_and_class_names():
    rng = np.random.default_rng(6)
    features, labels = _labelled_features(rng, 60, 8, 3, 1.0)
    rotation, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    order = rng.permutation(60)
    score = logme(features, labels)
    assert logme(1000 * features, labels) == pytest.approx(score, rel=1e-8)
    assert logme(features @ rotation, labels) == pytest.approx(score, rel=1e-8)
    assert logme(features[order], labels[order]) == pytest.approx(score, rel=1e-8)
    assert logme(features, 10 * labels + 4) == pytest.approx(score, rel=1e-8)


def test_logme_is_the_same_through_the_gram_matrix_of_either_side():
    features, labels = _labelled_features(np.random.default_rng(7), 30, 10, 3, 1.0)
    padded = np.hstack([features, np.zeros((30, 40))])  # 50 columns > 30 rows: eigendecomposes F F^T
    assert logme(padded, labels) == pytest.approx(logme(features, labels), rel=1e-8)


def test_logme_of_zero_features_is_the_evidence_of_pure_noise():
    labels = np.array([0, 0, 0, 1, 1, 2])
    class_sizes = np.array([3, 2, 1])
    expected = np.mean(0.5 * (np.log(6 / class_sizes) - 1 - np.log(2 * np.pi)))
    assert logme(np.zeros((6, 4)), labels) == pytest.approx(expected, rel=1e-12)


# =================================================================================== H-score
def test_h_score_of_the_one_hot_labels_is_classes_minus_one():
    labels = np.arange(100) % 4
    assert h_score(np.eye(4)[labels], labels) == pytest.approx(3, rel=1e-4)


def test_h_score_of_noise_is_near_zero():
    features, labels = _labelled_features(np.random.default_rng(8), 500, 5, 3, 0.0)
    assert 0 <= h_score(features, labels) < 0.1


@pytest.mark.parametrize('samples, dimensions', [(80, 6), (20, 50)])
def test_h_score_agrees_with_the_direct_pseudo_inverse_formula(samples, dimensions):
    features, labels = _labelled_features(np.random.default_rng(9), samples, dimensions, 3, 1.0)
    assert h_score(features, labels) == pytest.approx(_direct_h_score(features, labels), rel=1e-4)


def test_h_score_of_constant_features_is_zero():
    assert h_score(np.ones((10, 3)), np.arange(10) % 2) == 0.0


# ============================================================================== input errors
@pytest.mark.parametrize('score', [logme, h_score])
@pytest.mark.parametrize('features, labels, error, message', [
    (np.zeros(5), [0, 1, 0, 1, 0], ValueError, 'features must be 2-D'),
    (np.zeros((1, 3)), [0], ValueError, 'at least 2 samples'),
    ([[0.0, np.nan], [1.0, 2.0]], [0, 1], ValueError, r'non-finite values \(NaN or inf\), the first at \(0, 1\)'),
    ([['a', 'b'], ['c', 'd']], [0, 1], TypeError, 'features must hold real numbers'),
    (np.zeros((3, 2)), [0.0, 1.0, 0.0], TypeError, 'labels must hold integer class ids, got dtype float64'),
    (np.zeros((3, 2)), [[0, 1, 0]], ValueError, 'labels must be a non-empty 1-D array'),
    (np.zeros((3, 2)), [0, 1], ValueError, 'labels has 2 entries but features has 3 rows'),
    (np.zeros((3, 2)), [4, 4, 4], ValueError, r'at least 2 classes, got only \[4\]'),
])
def test_feature_scores_reject_bad_inputs(score, features, labels, error, message):
    with pytest.raises(error, match=message):
        score(features, labels)


@pytest.mark.parametrize('shrinkage', [0, -1e-3, '1e-6', True])
def test_h_score_rejects_bad_shrinkage(shrinkage):
    with pytest.raises(ValueError, match='shrinkage must be a number > 0'):
        h_score(np.eye(4), [0, 1, 0, 1], shrinkage=shrinkage)


@pytest.mark.parametrize('probabilities, message', [
    ([0.5, 0.5], 'must be 2-D'),
    ([[1.2, -0.2], [0.5, 0.5]], r'must be >= 0, got -0.2 at row 0, column 1'),
    ([[0.5, 0.5], [0.5, 0.4]], r'must sum to 1 \(softmax outputs\); row 1 sums to 0.9'),
    ([[0.5, 0.5], [np.inf, 0.0]], 'non-finite'),
])
def test_leep_rejects_bad_probabilities(probabilities, message):
    with pytest.raises(ValueError, match=message):
        leep(probabilities, [0, 1])


def test_nce_rejects_bad_source_labels():
    with pytest.raises(TypeError, match='source_labels must hold integer class ids'):
        nce([0.5, 1.5], [0, 1])
    with pytest.raises(ValueError, match='labels has 2 entries but source_labels has 3 rows'):
        nce([0, 1, 1], [0, 1])


# ================================================================== rankings of the real LeNet
@pytest.fixture
def counted_layer_output(monkeypatch):
    """Records the layer names of every ModelHandler.get_layer_output call."""
    calls = []
    original = ModelHandler.get_layer_output

    def counting(handler, data_iterator, layer_names):
        calls.append(list(layer_names))
        return original(handler, data_iterator, layer_names)

    monkeypatch.setattr(ModelHandler, 'get_layer_output', counting)
    return calls


def test_rank_layers_scores_every_layer_below_the_output_in_one_pass(lenet_module, mnist_iterator,
                                                                     counted_layer_output):
    ranking = rank_layers(lenet_module, mnist_iterator)
    assert counted_layer_output == [LENET_LAYERS[:-1]]
    assert {row.name: row.dimension for row in ranking} == LENET_DIMENSIONS
    scores = [row.score for row in ranking]
    assert scores == sorted(scores, reverse=True) and np.all(np.isfinite(scores))
    by_name = {row.name: row.score for row in ranking}
    assert by_name['pool2'] == pytest.approx(by_name['flatten'], rel=1e-9)  # flatten only reshapes pool2
    assert ranking.method == 'logme' and ranking.names[0] == ranking[0].name


def test_rank_layers_with_h_score_on_named_layers(lenet_module, mnist_iterator, counted_layer_output):
    ranking = rank_layers(lenet_module, mnist_iterator, layer_names=['fc1', 'fc2'], method='h_score')
    assert counted_layer_output == [['fc1', 'fc2']]
    assert sorted(ranking.names) == ['fc1', 'fc2']
    assert all(0 <= row.score <= 9 + 1e-9 for row in ranking)  # at most classes - 1


def test_rank_layers_needs_labels_and_a_feature_method(lenet_module, mnist_digits):
    unlabelled = mx.io.NDArrayIter(mnist_digits[0][:64], batch_size=32)
    with pytest.raises(ValueError, match='provides no labels'):
        rank_layers(lenet_module, unlabelled, layer_names=['fc2'])
    with pytest.raises(ValueError, match=r"method must be one of \['h_score', 'logme'\], got 'leep'"):
        rank_layers(lenet_module, unlabelled, method='leep')


def test_candidate_layers_can_skip_maps_that_are_only_pooled_later(lenet_module):
    handler = ModelHandler(lenet_module)
    assert candidate_layers(handler) == LENET_LAYERS[:-1]
    assert candidate_layers(handler, skip_superseded=True) == ['pool1', 'pool2', 'flatten', 'fc1', 'act3', 'fc2']


def test_candidate_layers_can_skip_outputs_that_only_a_batch_norm_reads(mlp_module):
    handler = ModelHandler(mlp_module)
    assert handler.get_layer_type('bn2') == 'BatchNorm' and handler.get_layers_reading('fc2') == ['bn2']
    assert candidate_layers(handler) == ['flatten', 'fc1', 'act1', 'fc2', 'act2', 'fc3']
    # act2, which reads bn2's normalised fc2, stays
    assert candidate_layers(handler, skip_superseded=True) == ['flatten', 'fc1', 'act1', 'act2', 'fc3']


def test_superseded_layers_are_those_only_pooled_or_joined_later():
    data = mx.sym.var('data')
    shared = mx.sym.Activation(mx.sym.Convolution(data, kernel=(3, 3), num_filter=2, name='conv_a'), act_type='relu',
                               name='act_a')
    pooled = mx.sym.Pooling(shared, kernel=(2, 2), stride=(2, 2), pool_type='max', name='pool_a')
    only_pooled = mx.sym.Pooling(mx.sym.Convolution(data, kernel=(3, 3), num_filter=2, name='conv_c'), kernel=(2, 2),
                                 stride=(2, 2), pool_type='avg', name='pool_c')
    unpooled = mx.sym.FullyConnected(shared, num_hidden=3, name='fc_b')
    joined = mx.sym.concat(mx.sym.flatten(pooled, name='flat_a'), mx.sym.flatten(only_pooled, name='flat_c'),
                           unpooled, name='joined')
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(joined, num_hidden=2, name='fc_out'), name='softmax')
    module = mx.mod.Module(net)
    module.bind(data_shapes=[('data', (1, 1, 6, 6))], label_shapes=[('softmax_label', (1,))])
    module.init_params()
    handler = ModelHandler(module)
    assert candidate_layers(handler) == ['conv_a', 'act_a', 'pool_a', 'flat_a', 'conv_c', 'pool_c', 'flat_c', 'fc_b',
                                         'joined', 'fc_out']
    # act_a is also read unpooled (by fc_b); every branch ends in the concatenation 'joined'.
    assert candidate_layers(handler, skip_superseded=True) == ['conv_a', 'act_a', 'joined', 'fc_out']


def test_rank_layers_needs_a_candidate_below_the_output(mnist_iterator):
    module = mx.mod.Module(mx.sym.FullyConnected(mx.sym.var('data'), name='only', num_hidden=3), label_names=None)
    module.bind(data_shapes=[('data', (2, 4))], for_training=False)
    module.init_params()
    with pytest.raises(ValueError, match='no layer of the types .* below its output layer'):
        rank_layers(module, mnist_iterator)


@pytest.mark.parametrize('method', ['leep', 'nce'])
def test_rank_sources_scores_each_source_on_its_predictions(lenet_module, mlp_module, mnist_iterator, method):
    ranking = rank_sources({'lenet': lenet_module, 'mlp': mlp_module}, mnist_iterator, method=method)
    assert sorted(ranking.names) == ['lenet', 'mlp'] and ranking.kind == 'source'
    assert all(row.dimension == 5 for row in ranking)
    assert all(-np.log(10) <= row.score <= 0 for row in ranking)


def test_rank_sources_applies_a_softmax_to_logit_outputs(two_output_module):
    rng = np.random.default_rng(10)
    iterator = mx.io.NDArrayIter(rng.standard_normal((20, 6)), rng.integers(0, 3, 20), batch_size=4,
                                 label_name='softmax_label')
    (row,) = rank_sources({'two heads': two_output_module}, iterator).rows
    assert row.name == 'two heads' and row.dimension == 2 and row.score <= 0


def test_rank_sources_rejects_bad_arguments(lenet_module, mnist_iterator):
    with pytest.raises(TypeError, match='source_models must be a dict of name to source model, got list'):
        rank_sources([lenet_module], mnist_iterator)
    with pytest.raises(ValueError, match='source_models is empty'):
        rank_sources({}, mnist_iterator)
    with pytest.raises(ValueError, match=r"method must be one of \['leep', 'nce'\], got 'logme'"):
        rank_sources({'lenet': lenet_module}, mnist_iterator, method='logme')


# ========================================================================== ranking results
def _ranking():
    return TransferabilityRanking([RankedScore('fc1', 128, -0.2), RankedScore('conv1', 11520, -0.5),
                                   RankedScore('act3', 128, 0.1)], 'logme', 'layer')


def test_ranking_is_sorted_best_first_and_prints_as_markdown():
    ranking = _ranking()
    assert ranking.names == ['act3', 'fc1', 'conv1'] and len(ranking) == 3
    assert str(ranking) == ranking.to_markdown() == '\n'.join([
        '| rank | layer | dimension | logme |', '|---:|---|---:|---:|', '| 1 | act3 | 128 | 0.1000 |',
        '| 2 | fc1 | 128 | -0.2000 |', '| 3 | conv1 | 11520 | -0.5000 |'])


def test_plot_layer_ranking_draws_a_bar_per_layer_best_on_top():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ax = plot_layer_ranking(_ranking())
    assert [bar.get_width() for bar in ax.patches] == [0.1, -0.2, -0.5]
    assert [label.get_text() for label in ax.get_yticklabels()] == ['act3 (128)', 'fc1 (128)', 'conv1 (11520)']
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # inverted: the first (best) bar on top
    plt.close(ax.figure)
    with pytest.raises(TypeError, match='ranking must be a TransferabilityRanking, got list'):
        plot_layer_ranking([])
