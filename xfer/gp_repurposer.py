"""Gaussian-process classification (GPy) on source-network features."""
import numbers
from collections import OrderedDict

import mxnet as mx
import numpy as np

from .meta_model_repurposer import MetaModelRepurposer
from .serialization import SavedFileError, read_npz, require, write_npz

_NPZ_SUFFIX = '_gp.npz'
_SITE_FIELDS = ('site_natural_means', 'site_precisions', 'posterior_means', 'posterior_variances')
_NPZ_ARRAYS = ('training_inputs', 'training_targets', 'inducing_inputs', 'feature_mean', 'classes',
               'kernel_parameters', 'log_z_tildes', 'negative_log_likelihoods') + _SITE_FIELDS


class GpRepurposer(MetaModelRepurposer):
    """One GPy Gaussian-process classifier per class (one-vs-rest; a single one for two classes).

    Features are L2-normalised per row (if ``apply_l2_norm``), then centred on the training
    mean. The kernel is a sum of RBF kernels, one per feature layer on that layer's columns.
    With more than 100 training points each classifier is a sparse GP with 100 inducing inputs
    (k-means centres of the training features); otherwise every training point is an inducing
    input, which makes it the exact GP. The class probabilities are the classifiers'
    probabilities normalised to sum to 1; the label is the most probable class.

    Unlike the original Xfer, which optimised every classifier's kernel and inducing inputs
    separately, the classifiers share the kernel hyperparameters, fitted jointly (see
    :class:`~xfer.shared_kernel_gp_trainer.SharedKernelGpTrainer`): on 500 digits of ten
    classes, several times faster at slightly better accuracy (``benchmarks/gp_speed.py``).
    A log-normal prior keeps the hyperparameters near the median-distance heuristic they
    start from unless the data say otherwise, which matters with a few labels per class. A
    progress bar shows the optimisation in a terminal or notebook.

    Parameters
    ----------
    max_function_evaluations : int, default 100
        Budget of objective evaluations for the kernel optimisation.
    apply_l2_norm : bool, default False
        Divide every feature row by its L2 norm before centring.

    Attributes
    ----------
    target_model : list of GPy.models.SparseGPClassification
        The classifiers: one per class in the order of :attr:`classes`, or one for
        ``classes[1]`` against ``classes[0]``.
    classes : np.ndarray
        The training labels, sorted; probability columns follow this order.
    feature_mean : np.ndarray
        The mean of the (normalised) training features, subtracted from every input.
    optimization_history : list of list of float
        Per round of the kernel optimisation, the sum over classifiers of the negative log
        marginal likelihood (EP sites fixed) plus the prior's penalty, at each objective evaluation.
    negative_log_likelihoods : np.ndarray
        Each classifier's final negative log marginal likelihood.
    """

    def __init__(self, source_model, feature_layer_names, context_function=mx.context.cpu, num_devices=1,
                 max_function_evaluations=100, apply_l2_norm=False):
        super().__init__(source_model, feature_layer_names, context_function, num_devices)
        self.max_function_evaluations = _check_evaluations(max_function_evaluations)
        if not isinstance(apply_l2_norm, bool):
            raise TypeError('apply_l2_norm must be True or False, got {!r}'.format(apply_l2_norm))
        self.apply_l2_norm = apply_l2_norm
        self.classes = None
        self.feature_mean = None
        self.optimization_history = []
        self.negative_log_likelihoods = None

    def get_params(self):
        return dict(super().get_params(), max_function_evaluations=self.max_function_evaluations,
                    apply_l2_norm=self.apply_l2_norm)

    def _train_model_from_features(self, features, labels, feature_indices_per_layer):
        from .shared_kernel_gp_trainer import SharedKernelGpTrainer
        labels = np.asarray(labels)
        self.classes = _classes_of(labels)
        features = self._normalized(features)
        self.feature_mean = features.mean(axis=0)
        trainer = SharedKernelGpTrainer(features - self.feature_mean, _one_vs_rest_targets(labels, self.classes),
                                        feature_indices_per_layer, self.max_function_evaluations)
        classifiers = trainer.train()
        self.optimization_history = trainer.history
        self.negative_log_likelihoods = np.array([-classifier.log_likelihood() for classifier in classifiers])
        return classifiers

    def _trained_feature_count(self):
        return self.feature_mean.size

    def _predict_probability_from_features(self, features):
        features = self._normalized(features)
        inputs = features - self.feature_mean
        positive = np.hstack([classifier.predict(inputs)[0] for classifier in self.target_model])
        if len(self.classes) == 2:
            return np.hstack([1 - positive, positive])
        return positive / positive.sum(axis=1, keepdims=True)

    def _predict_label_from_features(self, features):
        return self.classes[np.argmax(self._predict_probability_from_features(features), axis=1)]

    def _normalized(self, features):
        """The features as float64, L2-normalised per row if asked."""
        features = np.asarray(features, dtype=np.float64)
        if not self.apply_l2_norm:
            return features
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        return features / np.where(norms > 0, norms, 1.0)

    def serialize(self, file_prefix):
        """Write the classifiers' data, kernel and EP sites to ``<file_prefix>_gp.npz``; return the rest."""
        from .shared_kernel_gp_trainer import ep_sites
        first = self.target_model[0]
        sites = [ep_sites(classifier) for classifier in self.target_model]
        arrays = {field: np.array([getattr(site, field) for site in sites]) for field in _SITE_FIELDS}
        arrays.update(training_inputs=np.asarray(first.X), inducing_inputs=np.asarray(first.Z),
                      training_targets=np.hstack([np.asarray(classifier.Y) for classifier in self.target_model]),
                      feature_mean=self.feature_mean, classes=self.classes, kernel_parameters=first.kern.param_array,
                      log_z_tildes=np.array([site.log_z_tilde for site in sites]),
                      negative_log_likelihoods=self.negative_log_likelihoods)
        write_npz(file_prefix + _NPZ_SUFFIX, arrays)
        return {'feature_indices_per_layer': [[layer, [int(i) for i in indices]]
                                              for layer, indices in _kernel_layers(first.kern)],
                'optimization_history': self.optimization_history}

    def deserialize(self, input_dict):
        """Rebuild the classifiers from the saved arrays and EP sites, without optimising or running EP."""
        json_path = input_dict['file_prefix'] + '.json'
        npz_path = input_dict['file_prefix'] + _NPZ_SUFFIX
        target = require(input_dict, 'target_model', dict, json_path)
        layers = _read_layers(target, json_path)
        self.optimization_history = _read_history(target, json_path)
        arrays = read_npz(npz_path, _NPZ_ARRAYS)
        _check_saved_arrays(arrays, layers, npz_path)
        self.classes = arrays['classes']
        self.feature_mean = arrays['feature_mean']
        self.negative_log_likelihoods = arrays['negative_log_likelihoods']
        self.target_model = _rebuild_classifiers(arrays, layers, npz_path)


def _check_evaluations(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError('max_function_evaluations must be an int, got {!r}'.format(value))
    if value < 1:
        raise ValueError('max_function_evaluations must be at least 1, got {}'.format(value))
    return int(value)


def _classes_of(labels):
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError('A classifier needs at least two classes; the training labels are all {}'.format(classes))
    return classes


def _one_vs_rest_targets(labels, classes):
    """0/1 targets, one column per class; a single column (``classes[1]``) for two classes."""
    positives = classes[1:] if len(classes) == 2 else classes
    return (labels[:, None] == positives[None, :]).astype(np.float64)


def _kernel_layers(kernel):
    """(layer name, column indices) of every RBF part of a kernel built by ``build_kernel``."""
    parts = getattr(kernel, 'parts', [kernel])
    return [(part.name, part.active_dims) for part in parts]


def _read_layers(target, path):
    layers = require(target, 'feature_indices_per_layer', list, path)
    valid = bool(layers) and all(
        isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str) and isinstance(entry[1], list)
        and entry[1] and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in entry[1])
        for entry in layers)
    if not valid:
        raise SavedFileError(path, "'feature_indices_per_layer' should be a list of [layer name, column indices]")
    return OrderedDict((name, np.array(indices)) for name, indices in layers)


def _read_history(target, path):
    history = require(target, 'optimization_history', list, path)
    if not all(isinstance(run, list) and all(isinstance(value, (int, float)) and not isinstance(value, bool)
                                             for value in run) for run in history):
        raise SavedFileError(path, "'optimization_history' should be a list of lists of numbers")
    return history


def _check_saved_arrays(arrays, layers, path):
    """Check dtypes, shapes and values of the saved arrays against each other and the kernel layers."""
    for name in _NPZ_ARRAYS:
        if arrays[name].dtype.kind not in 'iuf':
            raise SavedFileError(path, "'{}' should be numeric, found dtype {}".format(name, arrays[name].dtype))
    num_samples, num_features = _shape_of(arrays, 'training_inputs', 2, path)
    num_classes, = _shape_of(arrays, 'classes', 1, path)
    num_classifiers = 1 if num_classes == 2 else num_classes
    if num_classes < 2:
        raise SavedFileError(path, "'classes' should hold at least two classes, found {}".format(num_classes))
    expected = {'training_targets': (num_samples, num_classifiers), 'feature_mean': (num_features,),
                'log_z_tildes': (num_classifiers,), 'negative_log_likelihoods': (num_classifiers,),
                'kernel_parameters': (2 * len(layers),)}
    expected.update({field: (num_classifiers, num_samples) for field in _SITE_FIELDS})
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise SavedFileError(path, "'{}' should have shape {}, found {}".format(name, shape, arrays[name].shape))
    if _shape_of(arrays, 'inducing_inputs', 2, path)[1] != num_features:
        raise SavedFileError(path, "'inducing_inputs' should have {} columns like 'training_inputs'".format(
            num_features))
    if any(indices.max() >= num_features for indices in layers.values()):
        raise SavedFileError(path, 'the feature layers name columns beyond the {} saved'.format(num_features))
    if not all(np.all(np.isfinite(array)) for array in arrays.values()) or np.any(arrays['kernel_parameters'] <= 0):
        raise SavedFileError(path, 'the arrays hold non-finite values or non-positive kernel parameters')


def _shape_of(arrays, name, ndim, path):
    if arrays[name].ndim != ndim:
        raise SavedFileError(path, "'{}' should have {} dimensions, found shape {}".format(
            name, ndim, arrays[name].shape))
    return arrays[name].shape


def _rebuild_classifiers(arrays, layers, path):
    """The saved classifiers, their posteriors recomputed from the saved kernel, data and EP sites."""
    from .shared_kernel_gp_trainer import EpSites, build_classifier, build_kernel
    classifiers = []
    for index, target in enumerate(arrays['training_targets'].T):
        kernel = build_kernel(layers, np.ones(len(layers)))
        kernel[:] = arrays['kernel_parameters']
        sites = EpSites(*(arrays[field][index] for field in _SITE_FIELDS), float(arrays['log_z_tildes'][index]))
        try:
            classifiers.append(build_classifier(arrays['training_inputs'], target, kernel, arrays['inducing_inputs'],
                                                sites))
        except np.linalg.LinAlgError as error:
            raise SavedFileError(path, 'the saved GP classifier {} is not valid: {}'.format(index, error)) from None
    return classifiers
