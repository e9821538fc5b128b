"""Getting data into xfer: numpy arrays, image folders, any MXNet iterator or Gluon DataLoader.

Every xfer method that takes an iterator passes it through :func:`as_data_iter` first, so it
accepts all of these. The offline data sets the tests, demos and benchmarks use are in
:mod:`xfer.data.datasets` (images) and :mod:`xfer.data.text` (text).
"""
from . import datasets, text
from .data_loader_iter import DataLoaderIter
from .described_iter import DescribedIter
from .image_folder import from_image_folder
from .inputs import DEFAULT_BATCH_SIZE, as_data_iter, from_numpy
from .sharding import shard_indices

__all__ = ['as_data_iter', 'from_numpy', 'from_image_folder', 'shard_indices', 'DataLoaderIter', 'DescribedIter',
           'DEFAULT_BATCH_SIZE', 'datasets', 'text']
