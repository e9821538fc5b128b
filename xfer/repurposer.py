"""The workflow every repurposer shares: repurpose, predict, describe itself, save and load."""
import os
import warnings
from abc import ABC, abstractmethod

import mxnet as mx

from . import serialization
from .model_handler import as_module
from .serialization import SavedFileError, require
from .utils import as_context_function, serialize_ctx_fn
from .validation import check_integer, check_save_directory


class Repurposer(ABC):
    """Base class of all repurposers: turns a trained *source* network into a model for a new task.

    Parameters
    ----------
    source_model : mx.mod.Module
        The trained source network.
    context_function : callable or str, default ``mx.context.cpu``
        ``mx.cpu`` or ``mx.gpu`` (or their names ``'cpu'`` / ``'gpu'``).
    num_devices : int, default 1
        Devices of that kind to use, ``context_function(0..num_devices-1)``.

    Attributes
    ----------
    target_model
        The trained model for the target task; None until :meth:`repurpose` has run.
    provide_data, provide_label : list of mx.io.DataDesc
        Shapes of the training iterator's data and labels, recorded by :meth:`repurpose`.
    """

    #: Whether :meth:`save_repurposer` saves the source model when not told.
    save_source_model_default = True
    #: The error type raised when predicting before :meth:`repurpose`.
    not_fitted_error = ValueError

    def __init__(self, source_model, context_function=mx.context.cpu, num_devices=1):
        self.source_model = source_model
        self.context_function = as_context_function(context_function)
        self.num_devices = check_integer('num_devices', num_devices)
        self.target_model = None
        self.provide_data = None
        self.provide_label = None

    @abstractmethod
    def repurpose(self, train_iterator):
        """Train :attr:`target_model` on the target task's iterator."""

    @abstractmethod
    def predict_probability(self, test_iterator):
        """Class probabilities, an array of shape ``(n_samples, n_classes)``."""

    @abstractmethod
    def predict_label(self, test_iterator):
        """Predicted classes, an int array of shape ``(n_samples,)``."""

    @abstractmethod
    def serialize(self, file_prefix):
        """A JSON-able description of the target model; may also write files named ``file_prefix*``."""

    @abstractmethod
    def deserialize(self, input_dict):
        """Restore the target model from the saved JSON (``input_dict['file_prefix']`` locates its files)."""

    def get_params(self):
        """The constructor arguments, so that ``type(self)(source_model, **params)`` is an unfitted twin."""
        return {'context_function': serialize_ctx_fn(self.context_function), 'num_devices': self.num_devices}

    def save_repurposer(self, model_name, model_directory='', save_source_model=None):
        """Save to ``<model_directory>/<model_name>.json`` (+ companion files); see the docs for the layout."""
        self._check_fitted()
        save_source_model = self.save_source_model_default if save_source_model is None else save_source_model
        if model_directory:
            os.makedirs(model_directory, exist_ok=True)
        file_prefix = os.path.join(model_directory, model_name)
        check_save_directory(file_prefix)
        if save_source_model:
            serialization.save_module(self.source_model, file_prefix + '_source')
        content = {
            'repurposer_class': type(self).__name__,
            'version': _xfer_version(),
            'parameters': self.get_params(),
            'provide_data': _describe_shapes(self.provide_data),
            'provide_label': _describe_shapes(self.provide_label),
            'last_layer_name': self._last_layer_name(),
            'target_model': self.serialize(file_prefix),
        }
        content.update(self._saved_attributes())
        serialization.write_json(file_prefix + '.json', content)

    @classmethod
    def from_saved(cls, file_prefix, content, source_model):
        """The repurposer saved under ``file_prefix`` whose JSON is ``content``; used by :func:`xfer.load`."""
        path = file_prefix + '.json'
        parameters = require(content, 'parameters', dict, path)
        if source_model is None:
            source_model = serialization.load_module(file_prefix + '_source')
        try:
            repurposer = cls(source_model, **parameters)
        except (TypeError, ValueError) as error:
            raise SavedFileError(path, "'parameters' do not fit {}: {}".format(cls.__name__, error)) from None
        repurposer.provide_data = _read_shapes(content, 'provide_data', path)
        repurposer.provide_label = _read_shapes(content, 'provide_label', path)
        repurposer._restore_attributes(content, path)
        try:
            repurposer.deserialize(dict(content, file_prefix=file_prefix))
        except (KeyError, TypeError, ValueError, IndexError) as error:
            if isinstance(error, SavedFileError):
                raise
            raise SavedFileError(path, 'the saved target model is invalid: {!r}'.format(error)) from None
        repurposer._warn_if_other_source(require(content, 'last_layer_name', (str, type(None)), path))
        return repurposer

    def _saved_attributes(self):
        """Attributes beyond the constructor arguments that the JSON file keeps (beside the target model)."""
        return {}

    def _restore_attributes(self, content, path):
        """Set the attributes :meth:`_saved_attributes` wrote, from the JSON ``content`` of ``path``."""

    def _check_fitted(self):
        if self.target_model is None:
            raise self.not_fitted_error('{} has no target model yet: call repurpose(train_iterator) first'.format(
                type(self).__name__))

    def _last_layer_name(self):
        """Name of the source network's output layer, recorded to spot a different source at load time."""
        return as_module(self.source_model).symbol.list_outputs()[0].rsplit('_output', 1)[0]

    def _warn_if_other_source(self, saved_last_layer):
        if saved_last_layer is not None and self._last_layer_name() != saved_last_layer:
            warnings.warn("The source model's last layer is '{}' but the saved repurposer was trained with a "
                          "source whose last layer is '{}'".format(self._last_layer_name(), saved_last_layer))


def _xfer_version():
    from . import __version__
    return __version__


def _describe_shapes(descriptions):
    return [[description.name, list(description.shape)] for description in descriptions or []]


def _read_shapes(content, key, path):
    described = require(content, key, list, path)
    try:
        return [mx.io.DataDesc(str(name), tuple(int(n) for n in shape)) for name, shape in described]
    except (TypeError, ValueError):
        raise SavedFileError(path, "'{}' should be a list of [name, shape] pairs".format(key)) from None
