"""An iterator seen through descriptors of one kind: ``mx.io.DataDesc``."""
import mxnet as mx


class DescribedIter(mx.io.DataIter):
    """Wraps a DataIter whose ``provide_data`` / ``provide_label`` hold ``(name, shape)`` tuples.

    MXNet iterators may describe their outputs either way (``ImageIter`` uses tuples); xfer
    reads names and shapes from :class:`mx.io.DataDesc` only. Batches, ``reset`` and any other
    attribute (e.g. ``class_names``) are the wrapped iterator's.

    Parameters
    ----------
    iterator : mx.io.DataIter
    """

    def __init__(self, iterator):
        super().__init__(getattr(iterator, 'batch_size', 0))
        self.iterator = iterator
        self.provide_data = as_descriptions(iterator.provide_data)
        self.provide_label = as_descriptions(iterator.provide_label)

    def reset(self):
        self.iterator.reset()

    def next(self):
        return self.iterator.next()

    def __getattr__(self, name):
        if name == 'iterator':  # not set yet: avoid recursing while unpickling or initialising
            raise AttributeError(name)
        return getattr(self.iterator, name)


def as_descriptions(descriptions):
    """``descriptions`` as a list of :class:`mx.io.DataDesc`; ``(name, shape)`` tuples converted."""
    return [description if isinstance(description, mx.io.DataDesc) else mx.io.DataDesc(*description)
            for description in descriptions or []]
