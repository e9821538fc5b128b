"""One contract that every repurposer passes, in the style of scikit-learn's estimator checks.

A repurposer joins by one line in REPURPOSER_FACTORIES: a factory taking the source model. The target
labels are the digits themselves, {3, 7, 9}: they neither start at 0 nor are contiguous, so a repurposer
that confuses class indices with labels (before or after a save -> load round trip) fails here.
"""
import json
import os

import mxnet as mx
import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

import xfer
from xfer import serialization
from tests.conftest import load_source_module
from tests.saved_files import companion_names

FEATURE_LAYERS = ['fc1']
TARGET_CLASSES = [3, 7, 9]
#: A network's softmax column is the label itself, so it needs one output per label value up to the largest.
NETWORK_OUTPUTS = max(TARGET_CLASSES) + 1


class KnnRepurposer(xfer.MetaModelRepurposer):
    """The talk's custom repurposer: k nearest neighbours on source features, written as a user would."""

    def __init__(self, source_model, feature_layer_names, context_function=mx.cpu, num_devices=1, n_neighbors=5):
        super().__init__(source_model, feature_layer_names, context_function, num_devices)
        self.n_neighbors = n_neighbors

    def get_params(self):
        return dict(super().get_params(), n_neighbors=self.n_neighbors)

    def _train_model_from_features(self, features, labels, feature_indices_per_layer):
        return KNeighborsClassifier(n_neighbors=self.n_neighbors).fit(features, labels)

    def _predict_probability_from_features(self, features):
        return self.target_model.predict_proba(features)

    def _predict_label_from_features(self, features):
        return self.target_model.predict(features)

    def serialize(self, file_prefix):
        model = self.target_model  # scikit-learn keeps the training data but no public name for it
        return {'features': serialization.encode_array(model._fit_X),
                'labels': serialization.encode_array(model.classes_[model._y])}  # _y: indices into classes_

    def deserialize(self, input_dict):
        path, saved = input_dict['file_prefix'] + '.json', input_dict['target_model']
        features = serialization.decode_array(saved['features'], path, 'features')
        labels = serialization.decode_array(saved['labels'], path, 'labels')
        self.target_model = KNeighborsClassifier(n_neighbors=self.n_neighbors).fit(features, labels)


REPURPOSER_FACTORIES = {
    'lr': lambda source: xfer.LrRepurposer(source, FEATURE_LAYERS),
    'svm': lambda source: xfer.SvmRepurposer(source, FEATURE_LAYERS, enable_probability_estimates=True),
    'svm_rbf': lambda source: xfer.SvmRepurposer(source, ['fc1', 'pool2'], kernel='rbf', gamma=0.01,
                                                 enable_probability_estimates=True),
    'knn': lambda source: KnnRepurposer(source, FEATURE_LAYERS, n_neighbors=3),
    'gp': lambda source: xfer.GpRepurposer(source, FEATURE_LAYERS, max_function_evaluations=10),
    'bnn': lambda source: xfer.BnnRepurposer(source, FEATURE_LAYERS, num_epochs=30, learning_rate=0.01),
    'fine_tune': lambda source: xfer.NeuralNetworkFineTuneRepurposer(
        source, 'fc1', NETWORK_OUTPUTS, num_epochs=4, optimizer='adam', optimizer_params={'learning_rate': 2e-3}),
    'random_freeze': lambda source: xfer.NeuralNetworkRandomFreezeRepurposer(
        source, NETWORK_OUTPUTS, ['conv1'], ['fc1'], num_epochs=4, optimizer='adam',
        optimizer_params={'learning_rate': 2e-3}),
}
#: Repurposers that train a network (the others train a meta-model on extracted features).
NEURAL_NETWORKS = {'fine_tune', 'random_freeze'}
#: Repurposers whose probability column ``j`` is label ``j`` (the others: the ``j``-th smallest training label).
COLUMN_IS_LABEL = NEURAL_NETWORKS | {'bnn'}
#: Repurposers whose predicted label is not defined as the most probable class (Platt scaling).
LABEL_NOT_ARGMAX = {'svm', 'svm_rbf'}


@pytest.fixture(scope='module')
def target_task(mnist_digits):
    """Digits 3, 7 and 9 labelled as themselves: 60 to train on, the rest (38) to test."""
    images, labels = mnist_digits
    keep = np.isin(labels, TARGET_CLASSES)
    images, labels = images[keep], labels[keep]
    assert set(labels[:60]) == set(TARGET_CLASSES)
    return (images[:60], labels[:60]), (images[60:], labels[60:])


def _iterator(images, labels, batch_size=16):
    return mx.io.NDArrayIter(images, labels, batch_size=batch_size, label_name='softmax_label')


@pytest.fixture(scope='module', params=sorted(REPURPOSER_FACTORIES))
def fitted(request, target_task):
    """Each repurposer, repurposed once on the target task (shared by the checks below), from seeded
    generators so that its result does not depend on which tests ran before."""
    mx.random.seed(0)
    np.random.seed(0)
    repurposer = REPURPOSER_FACTORIES[request.param](load_source_module('lenet_mnist04'))
    repurposer.repurpose(_iterator(*target_task[0]))
    return request.param, repurposer


def test_predictions_have_the_right_shapes_and_are_probabilities(fitted, target_task):
    name, repurposer = fitted
    test_images, test_labels = target_task[1]
    probabilities = repurposer.predict_probability(_iterator(test_images, test_labels))
    labels = repurposer.predict_label(_iterator(test_images, test_labels))
    column_labels = np.arange(NETWORK_OUTPUTS) if name in COLUMN_IS_LABEL else np.array(TARGET_CLASSES)
    assert probabilities.shape == (len(test_labels), len(column_labels))
    assert labels.shape == (len(test_labels),)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)
    if name not in LABEL_NOT_ARGMAX:
        np.testing.assert_array_equal(labels, column_labels[probabilities.argmax(axis=1)])
    assert (labels == test_labels).mean() > 0.6


def test_predicted_labels_are_training_labels_before_and_after_save_then_load(fitted, target_task, tmp_path):
    name, repurposer = fitted
    test_iterator = _iterator(*target_task[1])
    repurposer.save_repurposer('labels', str(tmp_path))
    loaded = xfer.load('labels', str(tmp_path), source_model=repurposer.source_model)
    for predicted in (repurposer.predict_label(test_iterator), loaded.predict_label(test_iterator)):
        assert set(predicted) <= set(TARGET_CLASSES)
        assert (predicted == target_task[1][1]).mean() > 0.6


def test_repurpose_records_the_training_shapes(fitted):
    _, repurposer = fitted
    assert repurposer.target_model is not None
    assert [(d.name, d.shape) for d in repurposer.provide_data] == [('data', (16, 1, 28, 28))]
    assert [(d.name, d.shape) for d in repurposer.provide_label] == [('softmax_label', (16,))]


def test_get_params_rebuilds_an_unfitted_twin(fitted):
    _, repurposer = fitted
    params = repurposer.get_params()
    assert params['context_function'] == 'cpu' and params['num_devices'] == 1
    twin = type(repurposer)(repurposer.source_model, **params)
    assert twin.get_params() == params
    assert twin.target_model is None and twin.context_function is mx.cpu
    json.dumps(params)


@pytest.mark.parametrize('with_source', [True, False])
def test_save_then_load_predicts_identically(fitted, target_task, tmp_path, with_source):
    _, repurposer = fitted
    test_iterator = _iterator(*target_task[1])
    repurposer.save_repurposer('saved', str(tmp_path), save_source_model=with_source)
    assert os.path.isfile(tmp_path / 'saved.json')
    listed = companion_names(str(tmp_path / 'saved.json'))
    assert ('_source-symbol.json' in listed and '_source-0000.params' in listed) == with_source
    loaded = xfer.load('saved', str(tmp_path), source_model=None if with_source else repurposer.source_model)
    assert type(loaded) is type(repurposer)
    assert loaded.get_params() == repurposer.get_params()
    np.testing.assert_array_equal(loaded.predict_probability(test_iterator),
                                  repurposer.predict_probability(test_iterator))
    np.testing.assert_array_equal(loaded.predict_label(test_iterator), repurposer.predict_label(test_iterator))
    saved = json.loads((tmp_path / 'saved.json').read_text())
    assert saved['repurposer_class'] == type(repurposer).__name__
    assert saved['version'] == xfer.__version__
    assert saved['parameters'] == repurposer.get_params()
    assert saved['provide_data'] == [['data', [16, 1, 28, 28]]]
    assert saved['last_layer_name'] == 'softmax'


def test_meta_models_save_their_source_by_default_and_networks_do_not(fitted, tmp_path):
    name, repurposer = fitted
    repurposer.save_repurposer('by_default', str(tmp_path))
    listed = companion_names(str(tmp_path / 'by_default.json'))
    assert ('_source-symbol.json' in listed) == (name not in NEURAL_NETWORKS)
    assert ('-symbol.json' in listed and '-0000.params' in listed) == (name in NEURAL_NETWORKS)


@pytest.mark.parametrize('name', sorted(REPURPOSER_FACTORIES))
def test_using_it_before_repurpose_says_to_repurpose_first(name, lenet_module, mnist_iterator, tmp_path):
    repurposer = REPURPOSER_FACTORIES[name](lenet_module)
    assert repurposer.target_model is None
    error = TypeError if name in NEURAL_NETWORKS else ValueError
    for call in (lambda: repurposer.predict_probability(mnist_iterator),
                 lambda: repurposer.predict_label(mnist_iterator),
                 lambda: repurposer.save_repurposer('early', str(tmp_path))):
        with pytest.raises(error, match=r'call repurpose\(train_iterator\) first'):
            call()
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize('name', sorted(REPURPOSER_FACTORIES))
def test_a_source_that_is_not_a_module_is_rejected(name, mnist_iterator):
    message = 'source_model must be an mxnet.mod.Module or a gluon.HybridBlock, got str'
    with pytest.raises(TypeError, match=message):
        repurposer = REPURPOSER_FACTORIES[name]('lenet.params')
        assert name in NEURAL_NETWORKS, 'meta-model repurposers check their source at construction'
        repurposer.repurpose(mnist_iterator)


@pytest.mark.parametrize('layers, error, message', [
    ('fc1', TypeError, r"feature_layer_names must be a list of layer names, 'auto' or 'auto:N' \(N >= 1\), got 'fc1'"),
    (('fc1',), TypeError, 'feature_layer_names must be a list of layer names, got tuple'),
    ([], ValueError, 'feature_layer_names is empty'),
    (['fc1', 'fc9'], ValueError, r"feature_layer_names \['fc9'\] are not layers of the source model"),
])
def test_feature_layer_names_are_checked(lenet_module, layers, error, message):
    for factory in (xfer.LrRepurposer, xfer.SvmRepurposer, xfer.GpRepurposer, xfer.BnnRepurposer, KnnRepurposer):
        with pytest.raises(error, match=message):
            factory(lenet_module, layers)


def test_features_of_several_layers_sit_side_by_side(lenet_module, mnist_iterator):
    repurposer = xfer.LrRepurposer(lenet_module, ['fc2', 'pool1', 'fc1'])
    data = repurposer.get_features_from_source_model(mnist_iterator)
    assert list(data.feature_indices_per_layer) == ['fc2', 'pool1', 'fc1']
    widths = {name: len(indices) for name, indices in data.feature_indices_per_layer.items()}
    assert widths == {'fc2': 5, 'pool1': 32 * 12 * 12, 'fc1': 128}
    assert data.features.shape == (300, 5 + 4608 + 128)
    alone, labels = repurposer._model_handler.get_layer_output(mnist_iterator, ['fc1'])
    np.testing.assert_allclose(data.features[:, data.feature_indices_per_layer['fc1']], alone['fc1'],
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(data.labels, labels)


def test_svm_without_probability_estimates_says_how_to_get_them(lenet_module, target_task):
    repurposer = xfer.SvmRepurposer(lenet_module, FEATURE_LAYERS)
    repurposer.repurpose(_iterator(*target_task[0]))
    assert repurposer.predict_label(_iterator(*target_task[1])).shape == (len(target_task[1][1]),)
    with pytest.raises(ValueError, match='build it with enable_probability_estimates=True'):
        repurposer.predict_probability(_iterator(*target_task[1]))


def test_training_needs_labels(lenet_module, target_task):
    unlabelled = mx.io.NDArrayIter(target_task[0][0], batch_size=16)
    with pytest.raises(ValueError, match='The training iterator provides no labels'):
        xfer.LrRepurposer(lenet_module, FEATURE_LAYERS).repurpose(unlabelled)


def test_lr_is_balanced_l2_multinomial_logistic_regression(lenet_module, target_task):
    repurposer = xfer.LrRepurposer(lenet_module, FEATURE_LAYERS, c=0.5)
    repurposer.repurpose(_iterator(*target_task[0]))
    model = repurposer.target_model
    assert model.penalty == 'l2' and model.class_weight == 'balanced' and model.C == 0.5 and model.tol == 1e-4
    assert model.coef_.shape == (len(TARGET_CLASSES), 128)
