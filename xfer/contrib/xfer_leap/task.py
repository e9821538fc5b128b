"""One task's training data as batches of ``(data, label)`` NDArrays, whatever form it came in."""
import mxnet as mx
import numpy as np

_ARRAY_TYPES = (np.ndarray, mx.nd.NDArray)


class Task:
    """A task's training data: a numpy ``(X, y)`` pair, an ``mx.io.DataIter`` or an iterable of batches.

    A ``(X, y)`` pair is one full batch per epoch (full-batch training); a DataIter is reset
    before every epoch and its padding dropped; any other iterable (a Gluon ``DataLoader``, a
    list) yields ``(data, label)`` batches.

    Parameters
    ----------
    data : tuple of arrays, mx.io.DataIter or iterable of (data, label)
        The task's training data.
    index : int
        The task's id (its position in the caller's task list), used in error messages.
    """

    def __init__(self, data, index):
        self.index = index
        if _is_array_pair(data):
            self._pair = _checked_pair(data, index)
            self._source = None
        elif isinstance(data, (mx.io.DataIter,)) or hasattr(data, '__iter__'):
            self._pair = None
            self._source = data
        else:
            raise TypeError('task {} is a {}: expected a numpy (X, y) pair, an mx.io.DataIter or an iterable '
                            'of (data, label) batches such as a gluon DataLoader'.format(index, type(data).__name__))

    def batches(self, context):
        """Yield the ``(data, label)`` batches of one epoch, on ``context``."""
        if self._pair is not None:
            yield self._pair[0].as_in_context(context), self._pair[1].as_in_context(context)
            return
        if isinstance(self._source, mx.io.DataIter):
            self._source.reset()
            for batch in self._source:
                valid = batch.data[0].shape[0] - (batch.pad or 0)
                yield batch.data[0][:valid].as_in_context(context), batch.label[0][:valid].as_in_context(context)
            return
        for position, batch in enumerate(self._source):
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise ValueError('task {}: batch {} is a {}, expected a (data, label) pair'.format(
                    self.index, position, type(batch).__name__))
            yield _as_nd(batch[0]).as_in_context(context), _as_nd(batch[1]).as_in_context(context)

    def first_batch(self, context):
        """The first batch of an epoch; ValueError naming the task when it has none."""
        for batch in self.batches(context):
            return batch
        raise ValueError('task {} has no training data (its first epoch yields no batch)'.format(self.index))


def as_tasks(train_tasks):
    """``train_tasks`` as a list of :class:`Task`, ValueError when there are none."""
    if isinstance(train_tasks, (mx.io.DataIter, np.ndarray, mx.nd.NDArray)) or _is_array_pair(train_tasks):
        raise TypeError('train_tasks must be a list of tasks (one per task), got a single {}: wrap it in a '
                        'list'.format(type(train_tasks).__name__))
    tasks = [task if isinstance(task, Task) else Task(task, index) for index, task in enumerate(train_tasks)]
    if not tasks:
        raise ValueError('train_tasks is empty: give at least one task')
    return tasks


def _is_array_pair(data):
    return isinstance(data, tuple) and len(data) == 2 and all(isinstance(part, _ARRAY_TYPES) for part in data)


def _checked_pair(pair, index):
    features, labels = pair
    if features.ndim == 0 or labels.ndim == 0 or features.shape[0] == 0:
        raise ValueError('task {}: X of shape {} and y of shape {} hold no examples'.format(
            index, features.shape, labels.shape))
    if features.shape[0] != labels.shape[0]:
        raise ValueError('task {}: X has {} rows but y has {} (shapes {} and {})'.format(
            index, features.shape[0], labels.shape[0], features.shape, labels.shape))
    return _as_nd(features), _as_nd(labels)


def _as_nd(array):
    if isinstance(array, mx.nd.NDArray):
        return array
    return mx.nd.array(np.asarray(array, dtype=np.float32))
