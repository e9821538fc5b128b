"""Fitted scikit-learn estimators in saved files: their fitted attributes as plain JSON numbers, and
the few attributes of Xfer 1.1's own format (``sklearn_model_to_dict``), each checked for its kind.

A restored estimator is checked to predict before it is handed back.
"""
import numpy as np

from .arrays import _ARRAY_KINDS, decode_attributes, encode_attributes
from .errors import SavedFileError
from .json_fields import _short


def encode_estimator(estimator):
    """The fitted state of a scikit-learn estimator: every attribute that is not a constructor argument."""
    fitted = sorted(set(vars(estimator)) - set(estimator.get_params()))
    return encode_attributes(estimator, fitted)


def restore_estimator(estimator, encoded, path):
    """``estimator`` (unfitted, built from the saved params) given the fitted state saved by
    :func:`encode_estimator`, then checked to predict on one sample of zeros."""
    for name, value in decode_attributes(encoded, path).items():
        setattr(estimator, name, value)
    return _checked_to_predict(estimator, path)


#: Per scikit-learn estimator that Xfer 1.1 saved (``sklearn_model_to_dict``): the fitted attributes
#: read from its JSON, as Xfer 1.1's name -> (today's name, kind, dtype). Nothing else in it is read.
_XFER11_ESTIMATOR_ATTRIBUTES = {
    'LogisticRegression': {'coef_': ('coef_', 'array', np.float64),
                           'intercept_': ('intercept_', 'array', np.float64),
                           'classes_': ('classes_', 'array', None)},
    'SVC': {'support_': ('support_', 'array', np.int32), 'support_vectors_': ('support_vectors_', 'array', np.float64),
            'n_support_': ('_n_support', 'array', np.int32), 'dual_coef_': ('dual_coef_', 'array', np.float64),
            '_dual_coef_': ('_dual_coef_', 'array', np.float64), 'intercept_': ('intercept_', 'array', np.float64),
            '_intercept_': ('_intercept_', 'array', np.float64), 'probA_': ('_probA', 'array', np.float64),
            'probB_': ('_probB', 'array', np.float64), 'classes_': ('classes_', 'array', None),
            'class_weight_': ('class_weight_', 'array', np.float64), 'fit_status_': ('fit_status_', 'int', None),
            'shape_fit_': ('shape_fit_', 'tuple', None), '_gamma': ('_gamma', 'number', None),
            '_sparse': ('_sparse', 'bool', None)},
}
#: The attribute whose columns give each estimator's number of input features.
_FEATURES_FROM = {'LogisticRegression': 'coef_', 'SVC': 'support_vectors_'}


def is_xfer11_estimator(target_model):
    """Whether a saved ``target_model`` is a scikit-learn model as Xfer 1.1 wrote it (``{'model': ...}``)."""
    return isinstance(target_model, dict) and set(target_model) == {'model'}


def restore_xfer11_estimator(estimator, target_model, path):
    """``estimator`` given the fitted state that Xfer 1.1 saved: only the known attributes are read,
    each checked for its kind (no name from the file is evaluated or set blindly)."""
    kind_name = type(estimator).__name__
    model = target_model['model']
    attributes = model.get('attributes') if isinstance(model, dict) else None
    if not isinstance(attributes, dict):
        raise SavedFileError(path, "Xfer 1.1's 'target_model' should hold {'model': {'attributes': {...}}}")
    for old_name, (name, kind, dtype) in _XFER11_ESTIMATOR_ATTRIBUTES[kind_name].items():
        if old_name not in attributes:
            raise SavedFileError(path, "the {} saved by Xfer 1.1 lacks its attribute '{}'".format(kind_name, old_name))
        setattr(estimator, name, _xfer11_value(attributes[old_name], kind, dtype, path, old_name))
    estimator.n_features_in_ = getattr(estimator, _FEATURES_FROM[kind_name]).shape[-1]
    if (model.get('parameters') or {}).get('multi_class') == 'multinomial' and getattr(estimator, 'coef_', None) \
            is not None and estimator.coef_.shape[0] == 1:
        # Two classes: Xfer 1.1's multinomial model gave softmax(-d, d) = sigmoid(2d); today's gives sigmoid(d).
        estimator.coef_, estimator.intercept_ = 2 * estimator.coef_, 2 * estimator.intercept_
    return _checked_to_predict(estimator, path)


def _xfer11_value(value, kind, dtype, path, key):
    if kind == 'array':
        return _xfer11_array(value, dtype, path, key)
    if kind == 'tuple' and isinstance(value, list) and len(value) == 2 and value[0] == 'tuple' \
            and isinstance(value[1], list) and all(isinstance(n, int) for n in value[1]):
        return tuple(value[1])
    if kind == 'bool' and isinstance(value, bool):
        return value
    if kind == 'int' and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == 'number' and isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
        return float(value)
    raise SavedFileError(path, "'{}' should be {} as Xfer 1.1 wrote it, found {!r}".format(key, kind, _short(value)))


def _xfer11_array(value, dtype, path, key):
    """An array as Xfer 1.1 wrote it, ``[dtype name, nested lists]``; the dtype name is looked up, never run."""
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], list)):
        raise SavedFileError(path, "'{}' should be an array as Xfer 1.1 wrote it: [dtype name, values]".format(key))
    try:
        saved_dtype = np.dtype(value[0])
    except TypeError:
        raise SavedFileError(path, "'{}' has an unknown dtype {!r}".format(key, value[0][:40])) from None
    if saved_dtype.kind not in _ARRAY_KINDS:
        raise SavedFileError(path, "'{}' has dtype {}, not a numeric one".format(key, saved_dtype))
    try:
        array = np.array(value[1], dtype=dtype or saved_dtype)
    except (TypeError, ValueError):
        raise SavedFileError(path, "'{}' holds values that are not numbers (or rows of unequal length)".format(
            key)) from None
    if not np.all(np.isfinite(array)):
        raise SavedFileError(path, "'{}' holds NaN or infinite values".format(key))
    return array


def _checked_to_predict(estimator, path):
    try:
        estimator.predict(np.zeros((1, int(estimator.n_features_in_))))
    except Exception as error:  # any failure here means the saved state does not make a model
        raise SavedFileError(path, 'the saved {} does not predict: {!r}'.format(
            type(estimator).__name__, error)) from None
    return estimator
