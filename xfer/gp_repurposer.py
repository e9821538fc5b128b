"""Gaussian-process classification (GPy) on source-network features."""
import numbers
from collections import OrderedDict

import mxnet as mx
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import softmax

from .meta_model_repurposer import MetaModelRepurposer
from .serialization import SavedFileError, read_npz, require, warn_xfer11_file, write_npz
from .utils import l2_normalize_rows

_NPZ_SUFFIX = '_gp.npz'
_SITE_FIELDS = ('site_natural_means', 'site_precisions', 'posterior_means', 'posterior_variances')
_NPZ_ARRAYS = ('training_inputs', 'training_targets', 'inducing_inputs', 'feature_mean', 'classes',
               'kernel_parameters', 'log_z_tildes', 'negative_log_likelihoods') + _SITE_FIELDS
#: One-vs-rest probabilities are clipped to [floor, 1 - floor] before taking their log odds.
_PROBABILITY_FLOOR = 1e-12
#: The odds temperature is searched within this range.
_TEMPERATURE_RANGE = (0.05, 20.0)


class GpRepurposer(MetaModelRepurposer):
    """One GPy Gaussian-process classifier per class (one-vs-rest; a single one for two classes).

    Features are L2-normalised per row (if ``apply_l2_norm``), then centred on the training
    mean. The kernel is a sum of RBF kernels, one per feature layer on that layer's columns.
    With more than 100 training points each classifier is a sparse GP with 100 inducing inputs
    (k-means centres of the training features); otherwise every training point is an inducing
    input, which makes it the exact GP. The label is the most probable class.

    Class probabilities combine the classifiers' probabilities ``p_c`` (each the probit of its
    latent Gaussian, integrated exactly) as ``softmax_c(logit(p_c) / T)``. With ``T = 1`` this
    is the one-vs-rest model taken literally: independent "is it class c?" answers, conditioned
    on exactly one being yes, give ``P(c)`` proportional to the odds ``p_c / (1 - p_c)``. The
    classifiers are fitted on the same points, so their answers are not independent: the
    temperature ``T`` corrects for that. It maximises the likelihood of EP's leave-one-out
    predictions of the training labels (the cavity distributions, which EP computes anyway), so
    no labels are held out; points whose class has no other training example are left out of
    that fit, and with none left ``T = 1``. Simply normalising the ``p_c`` to sum to 1, as Xfer
    did, leaves the probabilities far too low at a few labels per class (on LeNet features of
    MNIST digits 5-9 with 10 labels per class, 93 % accuracy at a mean highest probability of
    0.56); integrating a softmax of the latent functions as independent Gaussians by Monte
    Carlo is under-confident too, however sharp the softmax, because the one-vs-rest latent
    functions' errors are strongly correlated. See ``benchmarks/results/uncertainty.md``.

    Unlike the original Xfer, which optimised every classifier's kernel and inducing inputs
    separately, the classifiers share the kernel hyperparameters, fitted jointly (see
    :class:`~xfer.shared_kernel_gp_trainer.SharedKernelGpTrainer`): on 500 digits of ten
    classes, several times faster at slightly better accuracy (``benchmarks/gp_speed.py``).
    A log-normal prior keeps the hyperparameters near the median-distance heuristic they
    start from unless the data say otherwise, which matters with a few labels per class. A
    progress bar shows the optimisation in a terminal (on standard error, only when it is one:
    not in logs, nor in notebooks, whose stored copy of a widget would go stale).

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
    odds_temperature : float or None
        The temperature ``T`` above, fitted after training and recomputed from the saved EP sites
        when loading; None for a GP loaded from an Xfer 1.1 file, which keeps Xfer 1.1's
        renormalised one-vs-rest probabilities.
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
        self.odds_temperature = None

    def get_params(self):
        return dict(super().get_params(), max_function_evaluations=self.max_function_evaluations,
                    apply_l2_norm=self.apply_l2_norm)

    def _train_model_from_features(self, features, labels, feature_indices_per_layer):
        from .shared_kernel_gp_trainer import SharedKernelGpTrainer, ep_sites
        labels = np.asarray(labels)
        self.classes = _classes_of(labels)
        features = self._normalized(features)
        self.feature_mean = features.mean(axis=0)
        trainer = SharedKernelGpTrainer(features - self.feature_mean, _one_vs_rest_targets(labels, self.classes),
                                        feature_indices_per_layer, self.max_function_evaluations)
        classifiers = trainer.train()
        self.optimization_history = trainer.history
        self.negative_log_likelihoods = np.array([-classifier.log_likelihood() for classifier in classifiers])
        self.odds_temperature = _fit_odds_temperature([ep_sites(classifier) for classifier in classifiers],
                                                      trainer.targets)
        return classifiers

    def _trained_feature_count(self):
        return self.feature_mean.size

    def _predict_probability_from_features(self, features):
        features = self._normalized(features)
        inputs = features - self.feature_mean
        positive = np.hstack([classifier.predict(inputs)[0] for classifier in self.target_model])
        return class_probabilities(positive, self.odds_temperature)

    def _predict_label_from_features(self, features):
        return self.classes[np.argmax(self._predict_probability_from_features(features), axis=1)]

    def _normalized(self, features):
        """The features as float64, L2-normalised per row if asked."""
        features = np.asarray(features, dtype=np.float64)
        return l2_normalize_rows(features) if self.apply_l2_norm else features

    def serialize(self, file_prefix):
        """Write the classifiers' data, kernel and EP sites to ``<file_prefix>_gp.npz``; return the rest."""
        from .shared_kernel_gp_trainer import ep_sites
        first = self.target_model[0]
        if any(not np.array_equal(classifier.kern.param_array, first.kern.param_array)
               or not np.array_equal(classifier.Z, first.Z) for classifier in self.target_model[1:]):
            raise ValueError('These GP classifiers (loaded from Xfer 1.1) each have their own kernel and inducing '
                             "inputs, which xfer's saved format does not hold: repurpose again to save")
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
        json_path = input_dict['json_path']
        npz_path = input_dict['file_prefix'] + _NPZ_SUFFIX
        if isinstance(input_dict.get('target_model'), list):  # Xfer 1.1: one GPy model description per class
            warn_xfer11_file(json_path)
            self._restore_xfer11(input_dict, json_path)
            return
        target = require(input_dict, 'target_model', dict, json_path)
        layers = _read_layers(target, json_path)
        self.optimization_history = _read_history(target, json_path)
        arrays = read_npz(npz_path, _NPZ_ARRAYS)
        _check_saved_arrays(arrays, layers, npz_path)
        self.classes = arrays['classes']
        self.feature_mean = arrays['feature_mean']
        self.negative_log_likelihoods = arrays['negative_log_likelihoods']
        self.target_model = _rebuild_classifiers(arrays, layers, npz_path)
        self.odds_temperature = _fit_odds_temperature(_saved_sites(arrays), arrays['training_targets'])

    def _restore_xfer11(self, input_dict, path):
        """The classifiers Xfer 1.1 saved as GPy model descriptions, read field by field (nothing evaluated)."""
        if self.apply_l2_norm:
            raise SavedFileError(path, 'Xfer 1.1 L2-normalised GP features after centring them, xfer before: a GP '
                                       'saved by Xfer 1.1 with apply_l2_norm=True cannot be loaded; repurpose again')
        self.feature_mean = _float_array(require(input_dict, 'feature_mean', list, path), 1, 'feature_mean', path)
        models = input_dict['target_model']
        if not models or not all(isinstance(model, dict) for model in models):
            raise SavedFileError(path, "'target_model' should be a list of GPy model descriptions")
        if len(models) == 2:
            raise SavedFileError(path, 'Xfer 1.1 saved one GP classifier for two classes and one per class for more; '
                                       'this file holds 2')
        self.target_model = [_xfer11_classifier(model, self.feature_mean.size, path) for model in models]
        self.classes = np.arange(max(len(models), 2))
        self.negative_log_likelihoods = np.array([-classifier.log_likelihood() for classifier in self.target_model])
        self.optimization_history = []
        self.odds_temperature = None


def class_probabilities(positive, temperature):
    """One distribution over classes from one-vs-rest probabilities: ``softmax(logit(positive) / temperature)``.

    Parameters
    ----------
    positive : np.ndarray, shape (n_samples, n_classifiers)
        Each classifier's probability that the sample is its class; a single column means two
        classes, the column being the second one's.
    temperature : float or None
        Divides the log odds; see :class:`GpRepurposer`. None renormalises the one-vs-rest
        probabilities instead, as Xfer 1.1 did: a GP loaded from an Xfer 1.1 file predicts as it did there.

    Returns
    -------
    np.ndarray, shape (n_samples, n_classes)
        Rows sum to 1.
    """
    if temperature is None:
        scores = np.hstack([1 - positive, positive]) if positive.shape[1] == 1 else positive
        return scores / scores.sum(axis=1, keepdims=True)
    positive = np.clip(positive, _PROBABILITY_FLOOR, 1 - _PROBABILITY_FLOOR)
    log_odds = (np.log(positive) - np.log1p(-positive)) / temperature
    if log_odds.shape[1] == 1:
        log_odds = np.hstack([np.zeros_like(log_odds), log_odds])
    return softmax(log_odds, axis=1)


def _fit_odds_temperature(sites, targets):
    """The temperature that maximises the likelihood of EP's leave-one-out predictions of the training labels.

    ``sites`` holds each classifier's :class:`~xfer.shared_kernel_gp_trainer.EpSites`, ``targets``
    their 0/1 training targets, one column per classifier.
    """
    from .shared_kernel_gp_trainer import leave_one_out_probabilities
    labels = targets.argmax(axis=1) if targets.shape[1] > 1 else targets[:, 0].astype(int)
    informative = np.bincount(labels)[labels] > 1
    if not informative.any():
        return 1.0
    positive = np.stack([leave_one_out_probabilities(site) for site in sites], axis=1)[informative]
    rows, labels = np.arange(informative.sum()), labels[informative]

    def negative_log_likelihood(log_temperature):
        probabilities = class_probabilities(positive, np.exp(log_temperature))[rows, labels]
        return -np.mean(np.log(np.maximum(probabilities, _PROBABILITY_FLOOR)))

    result = minimize_scalar(negative_log_likelihood, bounds=np.log(_TEMPERATURE_RANGE), method='bounded')
    return float(np.exp(result.x))


def _saved_sites(arrays):
    from .shared_kernel_gp_trainer import EpSites
    return [EpSites(*(arrays[field][index] for field in _SITE_FIELDS), float(arrays['log_z_tildes'][index]))
            for index in range(arrays['training_targets'].shape[1])]


def _xfer11_classifier(model, num_features, path):
    """One GPy sparse GP classifier from the description Xfer 1.1 saved (``to_dict(save_data=True)``)."""
    from .shared_kernel_gp_trainer import build_classifier, build_kernel
    inputs, inducing = (_float_array(model.get(key), 2, key, path) for key in ('X', 'Z'))
    targets = _float_array(model.get('Y'), 2, 'Y', path)
    if inputs.shape[1] != num_features or inducing.shape[1] != num_features or targets.shape != (len(inputs), 1) \
            or not np.isin(targets, (0.0, 1.0)).all():
        raise SavedFileError(path, 'a GP classifier has inputs, inducing inputs or 0/1 targets of the wrong shape '
                                   '(features: {})'.format(num_features))
    layers, parameters = _xfer11_kernel_parts(model.get('kernel'), num_features, path)
    kernel = build_kernel(layers, np.ones(len(layers)))
    kernel[:] = parameters
    approximation = (model.get('inference_method') or {}).get('_ep_approximation')
    sites = None if approximation is None else _xfer11_sites(approximation, len(inputs), path)
    try:
        return build_classifier(inputs, targets[:, 0], kernel, inducing, sites)
    except np.linalg.LinAlgError as error:
        raise SavedFileError(path, 'a GP classifier saved by Xfer 1.1 is not valid: {}'.format(error)) from None


def _xfer11_kernel_parts(kernel, num_features, path):
    """(layer -> column indices, [variance, lengthscale, ...]) of an RBF kernel or a sum of RBF kernels."""
    if not isinstance(kernel, dict):
        raise SavedFileError(path, "a GP classifier's 'kernel' should be a GPy kernel description")
    if kernel.get('class') == 'GPy.kern.Add' and isinstance(kernel.get('parts'), dict):
        parts = [part for _, part in sorted(kernel['parts'].items(), key=lambda item: int(item[0]))]
    else:
        parts = [kernel]
    layers, parameters = OrderedDict(), []
    for part in parts:
        valid = isinstance(part, dict) and part.get('class') == 'GPy.kern.RBF' and isinstance(part.get('name'), str) \
            and not part.get('ARD') and isinstance(part.get('active_dims'), list) and all(
                isinstance(i, int) and 0 <= i < num_features for i in part['active_dims'])
        if not valid:
            raise SavedFileError(path, 'only sums of isotropic RBF kernels over feature columns are read, found '
                                       '{!r}'.format(str(part)[:80]))
        layers[part['name']] = np.array(part['active_dims'])
        parameters += [float(_float_array(part.get(key), 1, key, path)[0]) for key in ('variance', 'lengthscale')]
    if any(value <= 0 for value in parameters):
        raise SavedFileError(path, 'kernel variances and lengthscales must be positive, found {}'.format(parameters))
    return layers, np.array(parameters)


def _xfer11_sites(approximation, num_samples, path):
    from .shared_kernel_gp_trainer import EpSites
    try:
        posterior, gaussian = approximation['post_params'], approximation['ga_approx']
        arrays = [_float_array(part[key], 1, key, path) for part, key in
                  ((gaussian, 'v'), (gaussian, 'tau'), (posterior, 'mu'), (posterior, 'Sigma_diag'))]
        log_z_tilde = float(approximation['log_Z_tilde'])
    except (KeyError, TypeError, ValueError):
        raise SavedFileError(path, "a GP classifier's EP approximation is incomplete") from None
    if any(array.shape != (num_samples,) for array in arrays) or not np.isfinite(log_z_tilde):
        raise SavedFileError(path, "a GP classifier's EP sites do not match its {} training points".format(
            num_samples))
    return EpSites(*arrays, log_z_tilde)


def _float_array(value, ndim, key, path):
    """A finite float array of ``ndim`` dimensions from nested JSON lists."""
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SavedFileError(path, "'{}' should hold numbers".format(key)) from None
    if array.ndim != ndim or array.size == 0 or not np.all(np.isfinite(array)):
        raise SavedFileError(path, "'{}' should be a non-empty {}-D array of finite numbers".format(key, ndim))
    return array


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
    from .shared_kernel_gp_trainer import build_classifier, build_kernel
    classifiers = []
    for index, (target, sites) in enumerate(zip(arrays['training_targets'].T, _saved_sites(arrays))):
        kernel = build_kernel(layers, np.ones(len(layers)))
        kernel[:] = arrays['kernel_parameters']
        try:
            classifiers.append(build_classifier(arrays['training_inputs'], target, kernel, arrays['inducing_inputs'],
                                                sites))
        except np.linalg.LinAlgError as error:
            raise SavedFileError(path, 'the saved GP classifier {} is not valid: {}'.format(index, error)) from None
    return classifiers
