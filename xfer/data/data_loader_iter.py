"""A Gluon ``DataLoader`` as an MXNet ``DataIter``, so that modules can read it."""
import mxnet as mx
import numpy as np


class DataLoaderIter(mx.io.DataIter):
    """Batches of a ``gluon.data.DataLoader`` as ``mx.io.DataBatch``.

    The loader must yield ``(data, label)`` pairs or data alone. Data and labels are cast to
    float32 (what MXNet modules read). The batch size is that of the first batch; a shorter
    last batch is padded with its own first rows and ``pad`` says how many, as ``NDArrayIter``
    does, so that xfer drops the padding from features and predictions.

    Parameters
    ----------
    loader : mx.gluon.data.DataLoader
    data_name : str, default 'data'
    label_name : str, default 'softmax_label'
        Names under which the network reads the data and the labels.
    """

    def __init__(self, loader, data_name='data', label_name='softmax_label'):
        first = _parts(next(iter(loader)))
        super().__init__(first[0].shape[0])
        self.loader = loader
        self.provide_data = [mx.io.DataDesc(data_name, first[0].shape)]
        self.provide_label = [mx.io.DataDesc(label_name, first[1].shape)] if len(first) > 1 else []
        self._batches = None
        self.reset()

    def reset(self):
        self._batches = iter(self.loader)

    def next(self):
        parts = _parts(next(self._batches))
        rows = parts[0].shape[0]
        if rows > self.batch_size:
            raise ValueError('The DataLoader yielded a batch of {} samples after a first batch of {}: batches '
                             'after the first may only be shorter'.format(rows, self.batch_size))
        pad = self.batch_size - rows
        if pad:
            repeat = mx.nd.array(np.arange(self.batch_size) % rows, dtype='int64')
            parts = [part.take(repeat) for part in parts]
        return mx.io.DataBatch(data=parts[:1], label=parts[1:], pad=pad)


def _parts(batch):
    """The data (and label) arrays of one loader batch, as float32 NDArrays."""
    parts = list(batch) if isinstance(batch, (list, tuple)) else [batch]
    if not 1 <= len(parts) <= 2:
        raise ValueError('A DataLoader batch must be data or (data, label); got {} arrays'.format(len(parts)))
    return [(part if isinstance(part, mx.nd.NDArray) else mx.nd.array(np.asarray(part))).astype(
        'float32', copy=False) for part in parts]
