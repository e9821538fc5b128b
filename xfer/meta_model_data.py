"""The features a meta-model repurposer extracts from the source network."""
from collections import namedtuple

MetaModelData = namedtuple('MetaModelData', ['features', 'feature_indices_per_layer', 'labels'])
MetaModelData.__doc__ = """Features of several layers side by side, which columns came from which layer, and labels.

Attributes
----------
features : np.ndarray, shape (n_samples, n_features)
    The layers' outputs concatenated column-wise, in the order the layers were named.
feature_indices_per_layer : OrderedDict of str to np.ndarray
    Per layer, the indices of its columns in ``features``.
labels : np.ndarray of int, shape (n_samples,), or None
"""
