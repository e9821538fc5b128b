"""Checks of what users pass to xfer, in one place, so that every entry point fails the same way.

Every check raises before any training time is spent, with a message that names the bad value
and says what would be accepted. Data checks raise :class:`InvalidInputError` (a ``ValueError``);
hyperparameter checks raise :class:`InvalidParameterError` (both a ``ValueError`` and a
``TypeError``, as scikit-learn's is, so either ``except`` catches it).
"""
import numbers

import mxnet as mx
import numpy as np

#: float32 (how MXNet iterators carry labels) holds every integer up to this one exactly, no further.
LARGEST_EXACT_LABEL = 2 ** 24
#: Values of ``last_batch_handle`` (``NDArrayIter``, ``ImageIter``) xfer reads exactly.
SUPPORTED_LAST_BATCH_HANDLES = ('pad', 'discard')


class InvalidInputError(ValueError):
    """Data, labels or an iterator that xfer cannot use as they are; the message names the problem."""


class InvalidParameterError(ValueError, TypeError):
    """A hyperparameter of the wrong type or value; the message names it and what it accepts."""


# ============================================================================ hyperparameters
def check_integer(name, value, minimum=1):
    """``value`` if it is an integer (not a bool) of at least ``minimum``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise InvalidParameterError('{} must be an integer of at least {}, got {!r}'.format(name, minimum, value))
    return value


def check_number(name, value, minimum=0.0, inclusive=False):
    """``value`` if it is a finite real number above ``minimum`` (or equal to it when ``inclusive``)."""
    if (not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value)
            or value < minimum or (value == minimum and not inclusive)):
        raise InvalidParameterError('{} must be a finite number {} {}, got {!r}'.format(
            name, '>=' if inclusive else '>', minimum, value))
    return value


def check_choice(name, value, choices):
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidParameterError('{} must be one of {}, got {!r}'.format(name, list(choices), value))
    return value


def check_optimizer(optimizer, optimizer_params):
    """An MXNet optimizer (its name, or an instance as ``Module.fit`` takes) and its params:
    ``learning_rate`` > 0, other numbers finite."""
    registry = mx.optimizer.Optimizer.opt_registry
    if not (isinstance(optimizer, mx.optimizer.Optimizer)
            or (isinstance(optimizer, str) and optimizer.lower() in registry)):
        raise InvalidParameterError('optimizer must be the name of an MXNet optimizer (e.g. {}), got {!r}'.format(
            sorted(registry)[:6], optimizer))
    if not isinstance(optimizer_params, dict):
        raise InvalidParameterError('optimizer_params must be a dict such as {{\'learning_rate\': 0.01}}, got '
                                    '{!r}'.format(optimizer_params))
    if 'learning_rate' in optimizer_params:
        check_number("optimizer_params['learning_rate']", optimizer_params['learning_rate'])
    for key, value in optimizer_params.items():
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and not np.isfinite(value):
            raise InvalidParameterError('optimizer_params[{!r}] must be finite, got {!r}'.format(key, value))


def check_target_class_count(value):
    """The number of target classes: an integer of at least 2."""
    return check_integer('target_class_count', value, minimum=2)


def check_patience(patience):
    """Early-stopping patience: None (never stop early) or a positive integer of epochs."""
    if patience is not None:
        check_integer('patience', patience, minimum=1)
    return patience


# ==================================================================================== devices
def check_context(context_function, num_devices):
    """Raise when ``num_devices`` devices of ``context_function``'s kind do not exist on this machine."""
    if context_function is mx.gpu:
        available = mx.context.num_gpus()
        if num_devices > available:
            raise InvalidParameterError('context_function=mx.gpu with num_devices={} but this machine has {} '
                                        'GPU{}; use mx.cpu or fewer devices'.format(
                                            num_devices, available, '' if available == 1 else 's'))


# ===================================================================================== arrays
def check_finite(array, name):
    """Raise when ``array`` holds NaN or infinity, naming how many and where the first is."""
    array = np.asarray(array)
    if array.dtype.kind != 'f':
        return
    bad = ~np.isfinite(array)
    if bad.any():
        raise InvalidInputError('{} hold {} non-finite values (NaN or inf), the first at {}: {}'.format(
            name, int(bad.sum()), tuple(int(i) for i in np.argwhere(bad)[0]), array[tuple(np.argwhere(bad)[0])]))


def checked_labels(labels, name='labels', class_count=None):
    """Labels as an int64 array after checking they are finite whole numbers, exact in float32,
    and in ``0..class_count-1`` when ``class_count`` is given."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in 'biuf':
        raise InvalidInputError('{} must be integer class ids, got dtype {}'.format(name, labels.dtype))
    check_finite(labels, name)
    whole = labels == np.round(labels) if labels.dtype.kind == 'f' else np.ones(labels.shape, bool)
    if not whole.all():
        raise InvalidInputError('{} must be whole numbers (class ids), got {!r} at index {}'.format(
            name, labels.ravel()[np.argmin(whole.ravel())], int(np.argmin(whole.ravel()))))
    too_large = np.abs(labels) >= LARGEST_EXACT_LABEL
    if too_large.any():
        raise InvalidInputError('{} must be below 2**24 = {} in magnitude (MXNet carries labels as float32, '
                                'which rounds larger ones), got {!r}'.format(
                                    name, LARGEST_EXACT_LABEL, labels.ravel()[np.argmax(too_large.ravel())]))
    labels = labels.astype(np.int64)
    if class_count is not None and labels.size:
        outside = (labels < 0) | (labels >= class_count)
        if outside.any():
            raise InvalidInputError('{} must lie in 0..{} (target_class_count={}), got {}'.format(
                name, class_count - 1, class_count, sorted(set(labels[outside].tolist()))[:10]))
    return labels


def check_several_classes(labels, name='The training labels'):
    """Raise when ``labels`` hold fewer than two classes: no classifier can be trained on them."""
    classes = np.unique(labels)
    if len(classes) < 2:
        raise InvalidInputError('{} hold only the class {}: training needs at least two classes'.format(
            name, classes.tolist()))


def check_feature_count(features, trained_count, layer_names):
    """Raise when the features of ``layer_names`` do not have the ``trained_count`` columns of training."""
    if trained_count is not None and features.shape[1] != trained_count:
        raise InvalidInputError('The features of layers {} have {} columns here but {} when the meta-model was '
                                'trained: give data of the training shape, through the same source model'.format(
                                    layer_names, features.shape[1], trained_count))


# ================================================================================== iterators
def checked_iterator(iterator, class_count=None):
    """``iterator`` (an ``mx.io.DataIter``) wrapped so that every batch it yields is checked.

    Refuses an iterator that rolls its last batch over (its rows would move between passes);
    see :class:`CheckedIter` for the per-batch checks.
    """
    if isinstance(iterator, CheckedIter):
        iterator.class_count = class_count if class_count is not None else iterator.class_count
        return iterator
    handle = _last_batch_handle(iterator)
    if handle is not None and handle not in SUPPORTED_LAST_BATCH_HANDLES:
        raise InvalidInputError("The iterator has last_batch_handle={!r}: its last rows would be carried into the "
                                "next pass, so features and predictions would not match the data; use 'pad' "
                                "(xfer drops the padding) or 'discard'".format(handle))
    return CheckedIter(iterator, class_count)


def check_labels_provided(iterator, role, purpose):
    """Raise when the ``role`` (e.g. 'training') ``iterator`` provides no labels but ``purpose`` needs them."""
    if not iterator.provide_label:
        raise InvalidInputError('The {} iterator provides no labels (its provide_label is empty) but {} needs them: '
                                'give labels, e.g. from_numpy(X, y) or an iterator with a label'.format(role, purpose))


def check_training_labels(iterator, class_count):
    """Read the labels of ``iterator`` once (before training) and check them: range and at least two classes.

    An ``NDArrayIter`` is checked from its arrays; any other iterator is read once through,
    which also checks its data (see :class:`CheckedIter`).
    """
    iterator = checked_iterator(iterator, class_count)
    in_memory = _in_memory_arrays(iterator.iterator)
    if in_memory is not None:
        data, labels = in_memory
        check_finite(data, 'The training data')
    else:
        iterator.reset()
        labels = np.concatenate([batch.label[0][:_real_rows(batch)].asnumpy().ravel() for batch in iterator])
        iterator.reset()
    check_several_classes(checked_labels(labels, 'The training labels', class_count))


def check_sample_shape(iterator, trained_descriptions):
    """Raise when ``iterator``'s data differ, beyond the batch axis, from the data trained on."""
    for given, trained in zip(iterator.provide_data, trained_descriptions or []):
        if tuple(given.shape[1:]) != tuple(trained.shape[1:]):
            raise InvalidInputError("The data '{}' have shape {} per batch but the repurposer was trained on {}: "
                                    "give samples of shape {}".format(given.name, tuple(given.shape),
                                                                      tuple(trained.shape), tuple(trained.shape[1:])))


def check_data_shape(handler, data_shape):
    """Raise when ``handler``'s network cannot read data of ``data_shape`` (batch axis first)."""
    problem = handler.data_shape_problem(tuple(data_shape))
    if problem:
        raise InvalidInputError('Data of shape {} do not fit the network: {}'.format(tuple(data_shape), problem))


class CheckedIter(mx.io.DataIter):
    """An iterator whose batches are checked as they are read, cheaply (one reduction per data array).

    * data: no NaN or infinity (a NaN pixel would otherwise be turned into 0 by a ReLU, or spread
      through training);
    * labels: finite whole numbers below 2**24, and in ``0..class_count-1`` when ``class_count``
      is set;
    * a pass that yields no batch at all (an empty iterator) is an error.

    Everything else (``reset``, ``provide_data``, ``num_data``, ``class_names``...) is the wrapped
    iterator's.
    """

    def __init__(self, iterator, class_count=None):
        super().__init__(getattr(iterator, 'batch_size', 0))
        self.iterator = iterator
        self.class_count = class_count
        self.provide_data = iterator.provide_data
        self.provide_label = iterator.provide_label
        self._batches_read = 0

    def reset(self):
        self.iterator.reset()
        self._batches_read = 0

    def next(self):
        try:
            batch = self.iterator.next()
        except StopIteration:
            if self._batches_read == 0:
                raise InvalidInputError('The iterator yielded no batch: it is empty (or exhausted and does not '
                                        'reset); give it at least one sample') from None
            raise
        self._batches_read += 1
        real = _real_rows(batch)  # the padding of a last batch may hold anything: it is never used
        for description, array in zip(self.provide_data, batch.data):
            _check_finite_ndarray(array[:real], "The data '{}' of batch {}".format(description.name,
                                                                                  self._batches_read))
        for array in batch.label or []:
            checked_labels(array[:real].asnumpy(), 'The labels of batch {}'.format(self._batches_read),
                           self.class_count)
        return batch

    def __getattr__(self, name):
        if name == 'iterator':  # not set yet: avoid recursing while initialising
            raise AttributeError(name)
        return getattr(self.iterator, name)


def _real_rows(batch):
    """How many rows of ``batch`` are samples rather than the padding of a last batch."""
    return batch.data[0].shape[0] - (batch.pad or 0)


def _check_finite_ndarray(array, name):
    """Refuse NaN or inf in an NDArray. On the CPU numpy checks a copy (about 0.04 ms for a batch of
    128 MNIST digits, against 0.6 ms for an MXNet reduction); on a GPU the array is summed there,
    and only a non-finite sum is copied out to find the bad values."""
    if np.dtype(array.dtype).kind != 'f':
        return
    if array.context.device_type == 'cpu' or not np.isfinite(array.sum().asscalar()):
        check_finite(array.asnumpy(), name)


def _last_batch_handle(iterator):
    """How ``iterator`` (or the iterator or Gluon loader it wraps) ends a pass: 'pad', 'roll_over'..."""
    while iterator is not None:
        handle = getattr(iterator, 'last_batch_handle', None)
        if isinstance(handle, str):
            return handle
        sampler = getattr(getattr(iterator, 'loader', None), '_batch_sampler', None)
        if getattr(sampler, '_last_batch', None) == 'rollover':
            return 'rollover'
        iterator = iterator.__dict__.get('iterator')
    return None


def _in_memory_arrays(iterator):
    """The data and label arrays of an ``NDArrayIter`` (None for any other iterator, or without labels)."""
    iterator = iterator.__dict__.get('iterator', iterator)
    if not isinstance(iterator, mx.io.NDArrayIter) or not iterator.label:
        return None
    return iterator.data[0][1].asnumpy(), iterator.label[0][1].asnumpy()
