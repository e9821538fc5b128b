"""Files in the layout Xfer 1.1 wrote load on xfer, safely and with a warning, and predict as they did.

The fixtures are written here from Xfer 1.1's documented layout (``sklearn_model_to_dict``'s
``[dtype name, values]`` arrays and ``['tuple', values]`` tuples; MXNet checkpoints under fixed
names; no ``target_model`` for neural networks), not by Xfer itself.
"""
import json
import os

import mxnet as mx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

import xfer
from xfer.model_handler import ModelHandler
from xfer.serialization import SavedFileError
from tests.conftest import load_source_module

CLASSES = [2, 5, 7]
XFER11_VERSION = '1.1.0'


@pytest.fixture(scope='module')
def task(mnist_digits):
    images, labels = mnist_digits
    keep = np.isin(labels, CLASSES)
    images, labels = images[keep][:60], np.searchsorted(CLASSES, labels[keep][:60])
    return (images[:40], labels[:40]), images[40:]


def _iterator(images, labels=None, batch_size=10):
    return mx.io.NDArrayIter(images, labels, batch_size=batch_size, label_name='softmax_label')


def _fc1_features(images):
    return ModelHandler(load_source_module('lenet_mnist04')).get_layer_output(_iterator(images), ['fc1'])[0]['fc1']


def _array(value):
    return [str(value.dtype), value.tolist()]


def _write_xfer11_save(directory, name, repurposer_class, parameters, extra, source=True):
    """The JSON and source checkpoint as Xfer 1.1's ``save_repurposer`` laid them out."""
    module = load_source_module('lenet_mnist04')
    content = dict({'parameters': parameters, 'provide_data': [['data', [10, 1, 28, 28]]],
                    'provide_label': [['softmax_label', [10]]], 'version': XFER11_VERSION,
                    'repurposer_class': repurposer_class, 'last_layer_name': 'softmax'}, **extra)
    with open(os.path.join(directory, name + '.json'), 'w') as json_file:
        json.dump(content, json_file)
    if source:
        mx.model.save_checkpoint(os.path.join(directory, name + '_source'), 0, module.symbol,
                                 *module.get_params())


def _meta_parameters(**extra):
    return dict({'context_function': 'cpu', 'num_devices': 1, 'feature_layer_names': ['fc1']}, **extra)


def _load_with_warning(directory, name, **kwargs):
    with pytest.warns(UserWarning, match='{}.json was written by Xfer 1.1'.format(name)):
        return xfer.load(name, str(directory), **kwargs)


@pytest.mark.parametrize('classes', [3, 2])  # two classes: Xfer 1.1's multinomial model gave softmax(-d, d)
def test_an_lr_repurposer_saved_by_xfer_11_predicts_as_its_model(task, tmp_path, classes):
    (images, labels), test_images = task
    images, labels = images[labels < classes], labels[labels < classes]
    model = LogisticRegression(fit_intercept=False, multi_class='multinomial', class_weight='balanced', tol=1e-4,
                               max_iter=500).fit(_fc1_features(images), labels)
    attributes = {'coef_': _array(model.coef_), 'intercept_': _array(model.intercept_),
                  'classes_': _array(model.classes_), 'n_iter_': _array(model.n_iter_.astype(np.int32))}
    old_params = {'C': 1.0, 'class_weight': 'balanced', 'dual': False, 'fit_intercept': False,
                  'multi_class': 'multinomial', 'solver': 'sag', 'tol': 0.0001, 'random_state': 1}
    _write_xfer11_save(tmp_path, 'lr', 'LrRepurposer', _meta_parameters(tol=1e-4, c=1.0, n_jobs=-1),
                       {'target_model': {'model': {'parameters': old_params, 'attributes': attributes}}})
    loaded = _load_with_warning(tmp_path, 'lr')
    assert isinstance(loaded, xfer.LrRepurposer) and loaded.selected_feature_layer_names == ['fc1']
    np.testing.assert_allclose(loaded.predict_probability(_iterator(test_images)),
                               model.predict_proba(_fc1_features(test_images)), rtol=1e-6)
    np.testing.assert_array_equal(loaded.predict_label(_iterator(test_images)),
                                  model.predict(_fc1_features(test_images)))
    loaded.save_repurposer('resaved', str(tmp_path))  # in xfer's layout now, and still predicting the same
    np.testing.assert_array_equal(xfer.load('resaved', str(tmp_path)).predict_probability(_iterator(test_images)),
                                  loaded.predict_probability(_iterator(test_images)))


def test_an_svm_repurposer_saved_by_xfer_11_predicts_as_its_model(task, tmp_path):
    (images, labels), test_images = task
    model = SVC(kernel='linear', gamma='auto', probability=True, random_state=1).fit(_fc1_features(images), labels)
    attributes = {'support_': _array(model.support_), 'support_vectors_': _array(model.support_vectors_),
                  'n_support_': _array(model._n_support), 'dual_coef_': _array(model.dual_coef_),
                  '_dual_coef_': _array(model._dual_coef_), 'intercept_': _array(model.intercept_),
                  '_intercept_': _array(model._intercept_), 'probA_': _array(model._probA),
                  'probB_': _array(model._probB), 'fit_status_': model.fit_status_,
                  'shape_fit_': ['tuple', list(model.shape_fit_)], '_gamma': float(model._gamma),
                  '_sparse': False, 'classes_': _array(model.classes_), 'class_weight_': _array(model.class_weight_),
                  '_impl': 'c_svc'}
    _write_xfer11_save(tmp_path, 'svm', 'SvmRepurposer',
                       _meta_parameters(c=1.0, kernel='linear', gamma='auto', enable_probability_estimates=True),
                       {'target_model': {'model': {'parameters': {'C': 1.0, 'kernel': 'linear'},
                                                   'attributes': attributes}}})
    loaded = _load_with_warning(tmp_path, 'svm')
    np.testing.assert_allclose(loaded.predict_probability(_iterator(test_images)),
                               model.predict_proba(_fc1_features(test_images)), rtol=1e-6)
    np.testing.assert_array_equal(loaded.predict_label(_iterator(test_images)),
                                  model.predict(_fc1_features(test_images)))


@pytest.mark.parametrize('kind', ['fine_tune', 'random_freeze'])
def test_a_network_repurposer_saved_by_xfer_11_predicts_as_it_did(task, tmp_path, kind):
    (images, labels), test_images = task
    source = load_source_module('lenet_mnist04')
    common = {'context_function': 'cpu', 'num_devices': 1, 'optimizer': 'sgd',
              'optimizer_params': {'learning_rate': 0.001}, 'batch_size': 10, 'num_epochs': 1}
    if kind == 'fine_tune':
        parameters = dict(common, transfer_layer_name='fc1', target_class_count=3)
        trained = xfer.NeuralNetworkFineTuneRepurposer(source, 'fc1', 3, batch_size=10, num_epochs=1)
    else:
        parameters = dict(common, target_class_count=3, fixed_layers=['conv1'], random_layers=[],
                          num_layers_to_drop=2)
        trained = xfer.NeuralNetworkRandomFreezeRepurposer(source, 3, ['conv1'], [], batch_size=10, num_epochs=1)
    trained.repurpose(_iterator(images, labels))
    name = type(trained).__name__
    _write_xfer11_save(tmp_path, 'net', name, parameters, {'last_layer_name_target': 'softmax'}, source=False)
    mx.model.save_checkpoint(str(tmp_path / 'net'), 0, trained.target_model.symbol, *trained.target_model.get_params())
    loaded = _load_with_warning(tmp_path, 'net', source_model=source)
    assert type(loaded).__name__ == name and loaded.history == {}
    np.testing.assert_array_equal(loaded.predict_probability(_iterator(test_images)),
                                  trained.predict_probability(_iterator(test_images)))


def test_a_dtype_name_in_an_xfer_11_file_is_never_evaluated(task, tmp_path):
    marker = tmp_path / 'pwned'
    attributes = {'coef_': ["__import__('pathlib').Path('{}').touch()".format(marker), [[1.0]]],
                  'intercept_': ['float64', [0.0]], 'classes_': ['int64', [0, 1]]}
    _write_xfer11_save(tmp_path, 'lr', 'LrRepurposer', _meta_parameters(),
                       {'target_model': {'model': {'parameters': {}, 'attributes': attributes}}})
    with pytest.warns(UserWarning, match='Xfer 1.1'), pytest.raises(SavedFileError,
                                                                    match="'coef_' has an unknown dtype"):
        xfer.load('lr', str(tmp_path))
    assert not marker.exists()


@pytest.mark.parametrize('attributes, reason', [
    ({'coef_': ['float64', [[float('nan')] * 128] * 3], 'intercept_': ['float64', [0.0] * 3],
      'classes_': ['int64', [0, 1, 2]]}, "'coef_' holds NaN"),
    ({'coef_': ['float64', [[0.0] * 128] * 3], 'intercept_': ['float64', [0.0] * 3],
      'classes_': ['<U3', ['cat', 'dog', 'cow']]}, "'classes_' has dtype <U3, not a numeric one"),
    ({'coef_': ['float64', [[0.0] * 128] * 3], 'intercept_': ['float64', [0.0] * 3]}, "lacks its attribute 'classes_'"),
    ({'coef_': ['float64', [[0.0] * 128, [0.0]]], 'intercept_': ['float64', [0.0] * 3],
      'classes_': ['int64', [0, 1, 2]]}, 'rows of unequal length'),
])
def test_a_tampered_xfer_11_model_is_refused(tmp_path, attributes, reason):
    _write_xfer11_save(tmp_path, 'lr', 'LrRepurposer', _meta_parameters(),
                       {'target_model': {'model': {'parameters': {}, 'attributes': attributes}}})
    with pytest.warns(UserWarning, match='Xfer 1.1'), pytest.raises(SavedFileError, match='lr.json: .*' + reason):
        xfer.load('lr', str(tmp_path))


def _gpy_classifier(features, targets, lengthscale):
    import GPy
    kernel = GPy.kern.RBF(features.shape[1], lengthscale=lengthscale, name='fc1')
    model = GPy.models.SparseGPClassification(features, targets.reshape(-1, 1).astype(np.float64), kernel=kernel,
                                              Z=features[::4].copy())
    return model


def test_a_gp_repurposer_saved_by_xfer_11_predicts_as_its_models(task, tmp_path):
    (images, labels), test_images = task
    features = _fc1_features(images).astype(np.float64)
    feature_mean = features.mean(axis=0)
    models = [_gpy_classifier(features - feature_mean, labels == index, lengthscale=20.0 + 5 * index)
              for index in range(len(CLASSES))]  # one-vs-rest, each with its own kernel as Xfer 1.1 trained them
    _write_xfer11_save(tmp_path, 'gp', 'GpRepurposer',
                       _meta_parameters(max_function_evaluations=100, apply_l2_norm=False),
                       {'target_model': [model.to_dict(save_data=True) for model in models],
                        'feature_mean': feature_mean.tolist(), 'optimizer': 'lbfgs', 'num_inducing_sparse_gp': 100})
    loaded = _load_with_warning(tmp_path, 'gp')

    test_features = _fc1_features(test_images).astype(np.float64) - feature_mean
    scores = np.hstack([model.predict(test_features)[0] for model in models])
    expected = scores / scores.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loaded.predict_probability(_iterator(test_images)), expected, rtol=1e-6)
    np.testing.assert_array_equal(loaded.predict_label(_iterator(test_images)), np.argmax(expected, axis=1))
    with pytest.raises(ValueError, match='each have their own kernel'):
        loaded.save_repurposer('again', str(tmp_path))


def test_an_xfer_11_gp_of_two_classifiers_is_refused(task, tmp_path):
    (images, labels), _ = task
    features = _fc1_features(images).astype(np.float64)
    models = [_gpy_classifier(features, labels == index, lengthscale=20.0) for index in range(2)]
    _write_xfer11_save(tmp_path, 'gp', 'GpRepurposer', _meta_parameters(apply_l2_norm=False),
                       {'target_model': [model.to_dict(save_data=True) for model in models],
                        'feature_mean': features.mean(0).tolist()})
    with pytest.warns(UserWarning, match='Xfer 1.1'), pytest.raises(
            SavedFileError, match='gp.json: Xfer 1.1 saved one GP classifier for two classes .* this file holds 2'):
        xfer.load('gp', str(tmp_path))


def test_an_xfer_11_gp_with_l2_normalisation_is_refused_with_the_reason(task, tmp_path):
    (images, labels), _ = task
    features = _fc1_features(images).astype(np.float64)
    model = _gpy_classifier(features, labels == 0, lengthscale=20.0)
    _write_xfer11_save(tmp_path, 'gp', 'GpRepurposer', _meta_parameters(apply_l2_norm=True),
                       {'target_model': [model.to_dict(save_data=True)], 'feature_mean': features.mean(0).tolist()})
    with pytest.warns(UserWarning, match='Xfer 1.1'), pytest.raises(
            SavedFileError, match='gp.json: Xfer 1.1 L2-normalised GP features after centring them, xfer before'):
        xfer.load('gp', str(tmp_path))


def _pickled_parameters(arrays, name):
    """An object array of initialised gluon Parameters, as Xfer 1.1's posterior kept them."""
    parameters = np.empty(len(arrays), dtype=object)
    for index, array in enumerate(arrays):
        parameter = mx.gluon.Parameter(name, shape=array.shape, init=mx.init.Constant(0.0))
        parameter.initialize(ctx=mx.cpu())
        parameter.set_data(mx.nd.array(array))
        parameters[index] = parameter
    return parameters


def _write_xfer11_bnn(directory, means, rhos, shapes, dim_input, num_classes):
    parameters = _meta_parameters(bnn_context_function='cpu', sigma=100.0, num_layers=1, n_hidden=6,
                                  num_samples_mc=3, learning_rate=0.001, batch_size=20, num_epochs=10,
                                  start_annealing=1, end_annealing=2, verbose=0, num_samples_mc_prediction=50)
    _write_xfer11_save(directory, 'bnn', 'BnnRepurposer', parameters,
                       {'annealing_weight': 1.0, 'dim_input': dim_input, 'num_classes': num_classes})
    with open(os.path.join(directory, 'bnn_posterior.json'), 'w') as json_file:
        json.dump({'shape': [list(shape) for shape in shapes], 'ctx': [[0, 1]]}, json_file)
    np.savez(os.path.join(directory, 'bnn_posterior_params'), mean=_pickled_parameters(means, 'mean'),
             rho=_pickled_parameters(rhos, 'rho'))


def test_a_bnn_repurposer_saved_by_xfer_11_predicts_with_its_posterior(task, tmp_path):
    (_, _), test_images = task
    rng = np.random.default_rng(0)
    shapes = [(6, 128), (6,), (3, 6), (3,)]  # Dense(6, relu) then Dense(3), weight before bias, as Gluon orders them
    means = [rng.normal(size=shape).astype(np.float32) for shape in shapes]
    rhos = [np.full(shape, -12.0, np.float32) for shape in shapes]  # sigma ~ 6e-6: sampling barely moves the weights
    _write_xfer11_bnn(tmp_path, means, rhos, shapes, dim_input=128, num_classes=3)
    loaded = _load_with_warning(tmp_path, 'bnn')

    features = _fc1_features(test_images)
    features = features / np.linalg.norm(features, axis=1, keepdims=True)
    logits = np.maximum(features @ means[0].T + means[1], 0) @ means[2].T + means[3]
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loaded.predict_probability(_iterator(test_images)), expected, atol=1e-4)
    raw = loaded.target_model.var_posterior.gaussian.raw_arrays()
    for index in range(len(shapes)):
        np.testing.assert_array_equal(raw['mean_{}'.format(index)], means[index])
        np.testing.assert_array_equal(raw['rho_{}'.format(index)], rhos[index])


def test_a_pickle_in_an_xfer_11_posterior_cannot_run_code(task, tmp_path):
    marker = tmp_path / 'pwned'

    class Exploit:
        def __reduce__(self):
            return (os.system, ('touch {}'.format(marker),))

    shapes = [(6, 128), (6,), (3, 6), (3,)]
    _write_xfer11_bnn(tmp_path, [np.zeros(shape, np.float32) for shape in shapes],
                      [np.zeros(shape, np.float32) for shape in shapes], shapes, dim_input=128, num_classes=3)
    exploit = np.empty(1, dtype=object)
    exploit[0] = Exploit()
    with open(os.path.join(tmp_path, 'bnn_posterior_params.npz'), 'wb') as npz_file:
        np.savez(npz_file, mean=exploit, rho=exploit)
    with pytest.warns(UserWarning, match='Xfer 1.1'), pytest.raises(
            SavedFileError,
            match=r"bnn_posterior_params.npz: 'mean' cannot be read safely: (posix|nt|os).system is not allowed"):
        xfer.load('bnn', str(tmp_path))
    assert not marker.exists()
