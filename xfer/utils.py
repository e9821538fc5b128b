"""Small conversions shared across xfer: context functions to and from their saved names, and
unit-length feature rows."""
import mxnet as mx
import numpy as np

_CONTEXT_FUNCTIONS = {'cpu': mx.cpu, 'gpu': mx.gpu}


def serialize_ctx_fn(context_function):
    """``mx.cpu`` -> ``'cpu'``, ``mx.gpu`` -> ``'gpu'``; anything else -> ValueError."""
    for name, function in _CONTEXT_FUNCTIONS.items():
        if context_function is function:
            return name
    raise ValueError('Unknown context function {!r}: expected mx.cpu or mx.gpu'.format(context_function))


def deserialize_ctx_fn(name):
    """``'cpu'`` -> ``mx.cpu``, ``'gpu'`` -> ``mx.gpu``; anything else -> ValueError."""
    if not isinstance(name, str) or name not in _CONTEXT_FUNCTIONS:
        raise ValueError("Unknown context function name {!r}: expected 'cpu' or 'gpu'".format(name))
    return _CONTEXT_FUNCTIONS[name]


def as_context_function(value):
    """A context function given as itself (``mx.cpu``) or by name (``'cpu'``, as ``get_params`` gives)."""
    if isinstance(value, str):
        return deserialize_ctx_fn(value)
    serialize_ctx_fn(value)  # raises ValueError for anything but mx.cpu and mx.gpu
    return value


def l2_normalize_rows(features):
    """Every row of the float array ``features`` scaled to unit L2 norm, in its own dtype (all-zero rows stay zero)."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, np.finfo(features.dtype).tiny)
