"""Repurposers that train a classifier (a meta-model) on features of the source network."""
import logging
from abc import abstractmethod
from collections import OrderedDict

import mxnet as mx
import numpy as np

from . import transferability, validation
from .data import as_data_iter
from .distributed import job
from .meta_model_data import MetaModelData
from .model_handler import ModelHandler, as_module
from .model_handler.exceptions import ModelArchitectureError
from .repurposer import Repurposer
from .serialization import SavedFileError, require

LOGGER = logging.getLogger('xfer')
#: ``feature_layer_names`` that asks for the best layer by LogME; ``'auto:3'`` combines the best three.
AUTO = 'auto'

__all__ = ['MetaModelRepurposer', 'MetaModelData']


class MetaModelRepurposer(Repurposer):
    """Extract features from ``feature_layer_names`` of the source network, then fit a meta-model.

    A subclass implements four hooks and extends :meth:`get_params`:
    ``_train_model_from_features(features, labels, feature_indices_per_layer)`` returns the
    trained meta-model, ``_predict_probability_from_features(features)`` and
    ``_predict_label_from_features(features)`` use it, and ``serialize(file_prefix)`` /
    ``deserialize(input_dict)`` save and restore it. Implementing ``_trained_feature_count()``
    also lets predictions on features of another width fail clearly.

    Parameters
    ----------
    source_model : mx.mod.Module or mx.gluon.HybridBlock
    feature_layer_names : list of str, or 'auto' / 'auto:N'
        Layers of the source network whose outputs, side by side, are the features. With ``'auto'``
        (new in xfer), :meth:`repurpose` scores every candidate layer on the training data with
        LogME (:mod:`xfer.transferability`) in one pass and keeps the best; ``'auto:N'`` keeps the
        best N, best first. The choice is in :attr:`selected_feature_layer_names` (and the scores
        in :attr:`layer_ranking`), logged, saved and loaded.
    context_function, num_devices
        Where the source network runs, see :class:`~xfer.Repurposer`.
    """

    def __init__(self, source_model, feature_layer_names, context_function=mx.context.cpu, num_devices=1):
        super().__init__(source_model, context_function, num_devices)
        self.feature_layer_names = feature_layer_names
        self._model_handler = ModelHandler(as_module(source_model), self.context_function, num_devices)
        self._auto_layer_count = _auto_layer_count(feature_layer_names)
        if self._auto_layer_count is None:
            _check_layer_names(feature_layer_names, self._model_handler.layer_names)
        self.selected_feature_layer_names = None if self._auto_layer_count else list(feature_layer_names)
        self.layer_ranking = None
        self._fitted_on_rank_zero = False

    def repurpose(self, train_iterator):
        """Extract features of the training data and fit the meta-model on them.

        ``train_iterator`` (like ``test_iterator`` below) is any input :func:`xfer.data.as_data_iter`
        accepts: an ``mx.io.DataIter``, numpy arrays ``(X, y)`` or a Gluon ``DataLoader``.

        In a distributed job (new in xfer) ``train_iterator`` is this worker's shard (from
        :mod:`xfer.data` with ``num_parts=num_workers(), part_index=rank()``): every worker
        extracts its shard, rank 0 gathers the features in the original sample order and fits
        the meta-model, once; the other workers end without one.
        """
        train_iterator = as_data_iter(train_iterator)
        validation.check_labels_provided(train_iterator, 'training', 'a meta-model')
        names = self.selected_feature_layer_names
        if self._auto_layer_count:
            names = transferability.candidate_layers(self._model_handler, skip_superseded=True)
        outputs, labels = self._model_handler.get_layer_output(train_iterator, names)
        self.provide_data = list(train_iterator.provide_data)
        self.provide_label = list(train_iterator.provide_label)
        if job.in_job():
            outputs = OrderedDict((name, job.gather_shards(output)) for name, output in outputs.items())
            labels = job.gather_shards(labels)
            if job.rank() != 0:
                self._fitted_on_rank_zero = True
                return
        validation.check_several_classes(labels)
        if self._auto_layer_count:
            outputs = self._best_layers(outputs, labels)
        data = _meta_model_data(outputs, labels)
        self.target_model = self._train_model_from_features(data.features, data.labels,
                                                            data.feature_indices_per_layer)

    def predict_probability(self, test_iterator):
        return self._predict_probability_from_features(self._test_features(test_iterator))

    def predict_label(self, test_iterator):
        return self._predict_label_from_features(self._test_features(test_iterator))

    def _test_features(self, test_iterator):
        """Features of the test data, checked to be as wide as those the meta-model was trained on.

        Data of another shape than the training data are not refused up front (a network that
        pools globally reads any image size), but when the source network cannot read them the
        error names both shapes.
        """
        self._check_fitted()
        test_iterator = as_data_iter(test_iterator)
        try:
            features = self.get_features_from_source_model(test_iterator).features
        except ModelArchitectureError:
            validation.check_sample_shape(test_iterator, self.provide_data)
            raise
        validation.check_feature_count(features, self._trained_feature_count(), self.selected_feature_layer_names)
        return features

    def _trained_feature_count(self):
        """Columns of the features the meta-model was trained on; None when unknown (nothing checked)."""
        return None

    def get_features_from_source_model(self, data_iterator):
        """One pass of the data through the source network: :class:`MetaModelData` of the feature layers."""
        if self.selected_feature_layer_names is None:
            raise ValueError("The feature layers are chosen ('{}') when repurpose runs: call "
                             "repurpose(train_iterator) first".format(self.feature_layer_names))
        outputs, labels = self._model_handler.get_layer_output(data_iterator, self.selected_feature_layer_names)
        return _meta_model_data(outputs, labels)

    def _best_layers(self, outputs, labels):
        """Of the candidate layers' ``outputs``, the best by LogME on ``labels``, best first."""
        self.layer_ranking = transferability.rank_features(outputs, labels)
        self.selected_feature_layer_names = self.layer_ranking.names[:self._auto_layer_count]
        LOGGER.info('Feature layers chosen by %s: %s\n%s', self.layer_ranking.method,
                    self.selected_feature_layer_names, self.layer_ranking)
        return OrderedDict((name, outputs[name]) for name in self.selected_feature_layer_names)

    def _check_fitted(self):
        if self._fitted_on_rank_zero:
            raise self.not_fitted_error('{} was repurposed in a distributed job, where only rank 0 fits the '
                                        'meta-model: predict on rank 0, or load what it saved'.format(
                                            type(self).__name__))
        super()._check_fitted()

    def _saved_attributes(self):
        return {'selected_feature_layer_names': self.selected_feature_layer_names}

    def _restore_attributes(self, content, path):
        if 'selected_feature_layer_names' not in content and isinstance(self.feature_layer_names, list):
            content = dict(content, selected_feature_layer_names=self.feature_layer_names)  # Xfer 1.1 had no 'auto'
        names = require(content, 'selected_feature_layer_names', list, path)
        unknown = [name for name in names if name not in self._model_handler.layer_names]
        if unknown or not names:
            raise SavedFileError(path, "'selected_feature_layer_names' {} are not layers of the source model".format(
                unknown or names))
        self.selected_feature_layer_names = names

    def get_params(self):
        layers = self.feature_layer_names
        return dict(super().get_params(), feature_layer_names=layers if isinstance(layers, str) else list(layers))

    @abstractmethod
    def _train_model_from_features(self, features, labels, feature_indices_per_layer):
        """Fit and return the meta-model."""

    @abstractmethod
    def _predict_probability_from_features(self, features):
        """Class probabilities of the meta-model, shape ``(n_samples, n_classes)``."""

    @abstractmethod
    def _predict_label_from_features(self, features):
        """Classes predicted by the meta-model, shape ``(n_samples,)``."""


def _meta_model_data(outputs, labels):
    """:class:`MetaModelData` of per-layer outputs (checked finite): their columns side by side, and where
    each layer's are."""
    indices, start = OrderedDict(), 0
    for name, output in outputs.items():
        validation.check_finite(output, "The features of layer '{}'".format(name))
        indices[name] = np.arange(start, start + output.shape[1])
        start += output.shape[1]
    arrays = list(outputs.values())
    features = arrays[0] if len(arrays) == 1 else np.hstack(arrays)
    return MetaModelData(features, indices, labels)


def _auto_layer_count(feature_layer_names):
    """How many layers ``'auto'`` / ``'auto:N'`` asks for; None for a list of names."""
    if not isinstance(feature_layer_names, str):
        return None
    if feature_layer_names == AUTO:
        return 1
    prefix, _, count = feature_layer_names.partition(':')
    if prefix == AUTO and count.isdigit() and int(count) >= 1:
        return int(count)
    raise TypeError("feature_layer_names must be a list of layer names, 'auto' or 'auto:N' (N >= 1), got "
                     "{!r}".format(feature_layer_names))


def _check_layer_names(feature_layer_names, layer_names):
    if not isinstance(feature_layer_names, list):
        raise TypeError('feature_layer_names must be a list of layer names, got {}'.format(
            type(feature_layer_names).__name__))
    if not feature_layer_names:
        raise ValueError('feature_layer_names is empty: name at least one layer of {}'.format(layer_names))
    unknown = [name for name in feature_layer_names if name not in layer_names]
    if unknown:
        raise ValueError('feature_layer_names {} are not layers of the source model; its layers are {}'.format(
            unknown, layer_names))
