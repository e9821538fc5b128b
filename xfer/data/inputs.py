"""Every input xfer accepts, turned into an ``mx.io.DataIter`` in one place."""
import mxnet as mx
import numpy as np

from .data_loader_iter import DataLoaderIter
from .described_iter import DescribedIter
from .sharding import shard_indices
from .. import validation

#: Batch size of iterators built from numpy arrays when none is given.
DEFAULT_BATCH_SIZE = 64
#: What :func:`as_data_iter` accepts, for error messages.
ACCEPTED_INPUTS = 'an mxnet.io.DataIter, a numpy array, an (X, y) tuple of numpy arrays or a gluon.data.DataLoader'


def from_numpy(X, y=None, batch_size=DEFAULT_BATCH_SIZE, shuffle=False, num_parts=1, part_index=0,
               data_name='data', label_name='softmax_label', last_batch_handle='pad'):
    """An ``mx.io.NDArrayIter`` over numpy arrays, optionally over one worker's shard only.

    Parameters
    ----------
    X : numpy.ndarray
        Samples along the first axis, e.g. ``(n, 3, 224, 224)`` images; cast to float32.
    y : numpy.ndarray, optional
        One class per sample, shape ``(n,)``; any integers (they need not start at 0).
    batch_size : int, default 64
    shuffle : bool, default False
        Shuffle the samples at every ``reset`` (for training).
    num_parts, part_index : int, default 1 and 0
        Read only shard ``part_index`` of ``num_parts``, see :func:`shard_indices` (strided).
    data_name, label_name : str
        Names under which the network reads the data and the labels.
    last_batch_handle : {'pad', 'discard'}, default 'pad'
        As in ``NDArrayIter``; xfer removes the padding of the last batch from its results.
        ``'roll_over'`` is refused: it moves rows between passes (see :mod:`xfer.validation`).

    Raises
    ------
    xfer.validation.InvalidInputError
        For NaN or infinity in ``X`` or ``y``, or labels that are not whole numbers below 2**24.

    Returns
    -------
    mx.io.NDArrayIter
    """
    X = _checked_array(X, 'X')
    if X.ndim < 1 or len(X) == 0:
        raise ValueError('X must hold at least one sample along its first axis, got shape {}'.format(X.shape))
    if y is not None:
        y = _checked_array(y, 'y')
        if y.shape != (len(X),):
            raise ValueError('y must have shape ({},), one class per sample of X, got {}'.format(len(X), y.shape))
        validation.checked_labels(y, 'y')
    validation.check_choice('last_batch_handle', last_batch_handle, validation.SUPPORTED_LAST_BATCH_HANDLES)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError('batch_size must be a positive int, got {!r}'.format(batch_size))
    part = shard_indices(len(X), num_parts, part_index)
    if num_parts > 1:
        X, y = X[part], (None if y is None else y[part])
    labels = None if y is None else y.astype(np.float32)
    X = X.astype(np.float32, copy=False)
    validation.check_finite(X, 'X')
    return mx.io.NDArrayIter(X, labels, batch_size=int(batch_size),
                             shuffle=shuffle, last_batch_handle=last_batch_handle, data_name=data_name,
                             label_name=label_name)


def as_data_iter(data, label=None, batch_size=None):
    """Any input xfer accepts as an ``mx.io.DataIter`` whose descriptors are ``mx.io.DataDesc``.

    This is what every xfer method that takes an iterator calls first.

    Parameters
    ----------
    data : mx.io.DataIter, numpy.ndarray, tuple (X, y) or mx.gluon.data.DataLoader
        * any ``mx.io.DataIter`` (``NDArrayIter``, ``ImageIter``, ``ImageRecordIter``,
          ``CSVIter``, ...); ``provide_data`` / ``provide_label`` may be ``DataDesc`` or
          ``(name, shape)`` tuples. Returned as it is, or wrapped in a :class:`DescribedIter`.
        * a numpy array ``X`` (with ``label`` as ``y``), or a tuple ``(X, y)``: read with
          :func:`from_numpy` in order, data named ``data``, labels ``softmax_label``.
        * a Gluon ``DataLoader`` yielding ``(data, label)`` or data: read with
          :class:`DataLoaderIter` in the loader's order and batch size.
    label : numpy.ndarray, optional
        The classes of a numpy ``data``; only with a numpy array.
    batch_size : int, optional
        Batch size for numpy arrays (default :data:`DEFAULT_BATCH_SIZE`); iterators and loaders
        keep their own.

    Raises
    ------
    TypeError
        For any other type of ``data``, naming it.
    """
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray) and label is None:
        data, label = data
    if isinstance(data, np.ndarray):
        return from_numpy(data, label, batch_size=batch_size or DEFAULT_BATCH_SIZE)
    if label is not None:
        raise TypeError('label is only taken with a numpy array as data, got data of type {}'.format(
            type(data).__name__))
    if isinstance(data, mx.gluon.data.DataLoader):
        return DataLoaderIter(data)
    if not isinstance(data, mx.io.DataIter):
        raise TypeError('Expected {}, got {}'.format(ACCEPTED_INPUTS, type(data).__name__))
    if all(isinstance(d, mx.io.DataDesc) for d in list(data.provide_data) + list(data.provide_label or [])):
        return data
    return DescribedIter(data)


def _checked_array(values, name):
    if not isinstance(values, np.ndarray):
        raise TypeError('{} must be a numpy array, got {}'.format(name, type(values).__name__))
    return values
