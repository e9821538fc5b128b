"""The workflow every repurposer shares: repurpose, predict, describe itself, save and load."""
import os
import warnings
from abc import ABC, abstractmethod

import mxnet as mx

from . import serialization
from .distributed import job
from .model_handler import ModelHandler, as_module, naming
from .model_handler.fingerprint import fingerprint_differences, network_fingerprint
from .serialization import SavedFileError, require
from .utils import as_context_function, serialize_ctx_fn
from .validation import check_integer


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
        """Restore the target model from the saved JSON ``input_dict``.

        ``input_dict['file_prefix']`` is the prefix that :meth:`serialize` was given (its files
        are there), ``input_dict['json_path']`` the JSON file, for error messages.
        """

    def get_params(self):
        """The constructor arguments, so that ``type(self)(source_model, **params)`` is an unfitted twin."""
        return {'context_function': serialize_ctx_fn(self.context_function), 'num_devices': self.num_devices}

    def save_repurposer(self, model_name, model_directory='', save_source_model=None):
        """Save to ``<model_directory>/<model_name>.json`` (+ companion files); see the docs for the layout.

        The save takes effect when the JSON file is renamed into place, after every companion
        file is on disk: a save interrupted at any moment leaves the previous save loadable.
        In a distributed job only rank 0 writes (the other workers hold the same model, or none).
        """
        if job.rank() != 0:
            return
        self._check_fitted()
        save_source_model = self.save_source_model_default if save_source_model is None else save_source_model
        if model_directory:
            os.makedirs(model_directory, exist_ok=True)
        json_path = os.path.join(model_directory, model_name) + '.json'
        with serialization.staged_save(json_path) as file_prefix:
            if save_source_model:
                serialization.save_module(self.source_model, file_prefix + '_source')
            content = {
                'repurposer_class': type(self).__name__,
                'version': _xfer_version(),
                'parameters': self.get_params(),
                'provide_data': _describe_shapes(self.provide_data),
                'provide_label': _describe_shapes(self.provide_label),
                'last_layer_name': self._last_layer_name(),
                'source_fingerprint': network_fingerprint(ModelHandler(as_module(self.source_model))),
                'target_model': self.serialize(file_prefix),
            }
            content.update(self._saved_attributes())
            serialization.commit_save(json_path, file_prefix, content)

    @classmethod
    def from_saved(cls, file_prefix, content, source_model, check_source=True):
        """The repurposer saved under ``file_prefix`` whose JSON is ``content``; used by :func:`xfer.load`."""
        path = file_prefix + '.json'
        parameters = require(content, 'parameters', dict, path)
        serialization.check_saved_parameters(cls, parameters, path)
        source_given = source_model is not None
        companions = serialization.companion_prefix(path, content, skip_source=source_given)
        if not source_given:
            source_model = serialization.load_module(companions + '_source')
        try:
            repurposer = cls(source_model, **parameters)
        except (TypeError, ValueError) as error:
            raise SavedFileError(path, "'parameters' do not fit {}: {}".format(cls.__name__, error)) from None
        repurposer.provide_data = _read_shapes(content, 'provide_data', path)
        repurposer.provide_label = _read_shapes(content, 'provide_label', path)
        repurposer._restore_attributes(content, path)
        try:
            repurposer.deserialize(dict(content, file_prefix=companions, json_path=path))
        except (KeyError, TypeError, ValueError, IndexError) as error:
            if isinstance(error, SavedFileError):
                raise
            raise SavedFileError(path, 'the saved target model is invalid: {!r}'.format(error)) from None
        if check_source:
            repurposer._check_source(content, path, source_given)
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
        return naming.output_layer_name(as_module(self.source_model).symbol)

    def _check_source(self, content, path, source_given):
        """Refuse a source network other than the one the saved repurposer was trained with.

        Saves of this xfer record a fingerprint of the source; older files (Xfer 1.1) only the
        name of its last layer, which gives a warning when it differs.
        """
        saved = content.get('source_fingerprint')
        if saved is None:
            saved_last_layer = require(content, 'last_layer_name', (str, type(None)), path)
            if saved_last_layer is not None and self._last_layer_name() != saved_last_layer:
                warnings.warn("The source model's last layer is '{}' but the saved repurposer was trained with a "
                              "source whose last layer is '{}'".format(self._last_layer_name(), saved_last_layer))
            return
        if not _is_fingerprint(saved):
            raise SavedFileError(path, "'source_fingerprint' should hold 'graph_sha256', 'parameters_sha256' (text) "
                                       "and 'parameter_shapes' (name -> list of ints)")
        differences = fingerprint_differences(saved, network_fingerprint(ModelHandler(as_module(self.source_model))))
        if differences:
            given = 'the source_model given' if source_given else 'the saved source model'
            raise SavedFileError(path, '{} differs from the source this repurposer was trained with: {}. Pass '
                                       'check_source=False to xfer.load to load it anyway'.format(
                                           given, '; '.join(differences)))


def _xfer_version():
    from . import __version__
    return __version__


def _describe_shapes(descriptions):
    return [[description.name, list(description.shape)] for description in descriptions or []]


def _read_shapes(content, key, path):
    described = require(content, key, list, path)
    if not all(isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str) and isinstance(entry[1], list)
               and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in entry[1])
               for entry in described):
        raise SavedFileError(path, "'{}' should be a list of [name, shape] pairs".format(key))
    return [mx.io.DataDesc(name, tuple(shape)) for name, shape in described]


def _is_fingerprint(saved):
    if not isinstance(saved, dict) or not isinstance(saved.get('parameter_shapes'), dict):
        return False
    shapes = saved['parameter_shapes'].values()
    return isinstance(saved.get('graph_sha256'), str) and isinstance(saved.get('parameters_sha256'), str) and all(
        isinstance(shape, list) and all(isinstance(n, int) for n in shape) for shape in shapes)
