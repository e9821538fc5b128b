"""Repurposers that build a target network from the source network and train it."""
import logging
import warnings
from abc import abstractmethod

import mxnet as mx
import numpy as np

from . import serialization, validation
from .data import as_data_iter
from .distributed import job, training
from .model_handler import as_module, consts, naming
from .repurposer import Repurposer
from .training_monitor import StopTraining, TrainingMonitor

DEFAULT_OPTIMIZER_PARAMS = {'learning_rate': 0.001}
#: Name of the fully connected layer the fine-tuning repurposers add for the target classes.
TARGET_LAYER_NAME = 'fc_target'


class _AlreadySetUpFilter(logging.Filter):
    """Drops ``Module.fit``'s notice that the module from ``get_module`` is already bound: expected here."""

    def filter(self, record):
        return 'Already bound' not in record.getMessage()


#: ``Module.fit`` logs epochs and speed here (INFO): ``logging.getLogger('xfer.training')``.
TRAINING_LOGGER = logging.getLogger('xfer.training')
TRAINING_LOGGER.addFilter(_AlreadySetUpFilter())


class NeuralNetworkRepurposer(Repurposer):
    """Build a target network with ModelHandler (``_create_target_module``) and train it with ``Module.fit``.

    Parameters
    ----------
    source_model : mx.mod.Module or mx.gluon.HybridBlock
    context_function, num_devices
        Where the target network trains: ``context_function(0..num_devices-1)``, each batch split.
    batch_size : int, default 64
        Batch size of the training iterator, used for the speed log.
    num_epochs : int, default 5
    optimizer : str, default 'sgd'
        Any MXNet optimizer name.
    optimizer_params : dict, default ``{'learning_rate': 0.001}``
    kvstore : str or None, default 'device'
        MXNet kvstore type for ``Module.fit``. New in xfer: ``'dist_sync'`` or
        ``'dist_device_sync'`` trains data-parallel in a job started by
        :mod:`xfer.distributed.launch`: each worker trains on the shard its iterator reads, the
        gradients are summed over workers, and every worker ends with the same target network and
        the same :attr:`history` (metrics summed over all shards); only rank 0 writes files.
        ``'dist_async'`` is refused (workers would end with different networks).

    Attributes
    ----------
    history : dict of str to list
        Per-epoch training accuracy and loss (and validation accuracy), see :class:`TrainingMonitor`.
    best_epoch : int or None
        With a validation iterator, the epoch whose params were kept.
    """

    save_source_model_default = False
    not_fitted_error = TypeError
    #: Classes of the target task (set by subclasses); training labels must lie in ``0..target_class_count-1``.
    target_class_count = None

    def __init__(self, source_model, context_function=mx.context.cpu, num_devices=1, batch_size=64, num_epochs=5,
                 optimizer='sgd', optimizer_params=None, kvstore='device'):
        super().__init__(source_model, context_function, num_devices)
        job.check_kvstore(kvstore)
        self.kvstore = kvstore
        self.batch_size = validation.check_integer('batch_size', batch_size)
        self.num_epochs = validation.check_integer('num_epochs', num_epochs)
        self.optimizer = optimizer
        self.optimizer_params = dict(DEFAULT_OPTIMIZER_PARAMS) if optimizer_params is None else optimizer_params
        validation.check_optimizer(self.optimizer, self.optimizer_params)
        self.history = {}
        self.best_epoch = None

    def get_params(self):
        return dict(super().get_params(), batch_size=self.batch_size, num_epochs=self.num_epochs,
                    optimizer=self.optimizer, optimizer_params=self.optimizer_params, kvstore=self.kvstore)

    def repurpose(self, train_iterator, validation_iterator=None, patience=None, show_progress=None):
        """Build the target network and train it on ``train_iterator``.

        Parameters
        ----------
        train_iterator : mx.io.DataIter, numpy arrays (X, y) or gluon DataLoader
            Anything :func:`xfer.data.as_data_iter` accepts; numpy arrays are read in batches of
            ``batch_size``, in order (use :func:`xfer.data.from_numpy` with ``shuffle=True`` to shuffle).
        validation_iterator : same kinds as ``train_iterator``, optional
            Scored after every epoch; the params of the epoch with the best validation accuracy are kept.
        patience : int, optional
            With a validation iterator, stop once the accuracy has not improved for this many epochs (>= 1).
        show_progress : bool, optional
            Progress bar over epochs; by default only in a terminal or notebook.

        Notes
        -----
        Before training, the labels are read once and checked (whole numbers in
        ``0..target_class_count-1``, at least two classes); every batch's data are checked for
        NaN and infinity as they are read (see :mod:`xfer.validation`).
        """
        as_module(self.source_model)
        validation.check_patience(patience)
        if patience is not None and validation_iterator is None:
            raise ValueError('patience={} needs a validation_iterator to watch'.format(patience))
        train_iterator = validation.checked_iterator(as_data_iter(train_iterator, batch_size=self.batch_size),
                                                     self.target_class_count)
        validation.check_labels_provided(train_iterator, 'training', 'a target network')
        validation.check_training_labels(train_iterator, self.target_class_count)
        if validation_iterator is not None:
            validation_iterator = validation.checked_iterator(
                as_data_iter(validation_iterator, batch_size=self.batch_size), self.target_class_count)
            validation.check_labels_provided(validation_iterator, 'validation', 'scoring each epoch')
        monitor = TrainingMonitor(self._total_epochs(), validation_iterator, patience, show_progress,
                                  across_workers=job.is_distributed(self.kvstore))
        try:
            for module in self._target_modules(train_iterator):
                self._fit(module, train_iterator, monitor)
        except StopTraining:
            pass
        finally:
            monitor.close()
        if monitor.best_params is not None:
            module.set_params(*monitor.best_params)
        self.history, self.best_epoch = monitor.history, monitor.best_epoch
        self.target_model = module
        self.provide_data = list(train_iterator.provide_data)
        self.provide_label = list(train_iterator.provide_label)

    def predict_probability(self, test_iterator):
        self._check_fitted()
        test_iterator = validation.checked_iterator(as_data_iter(test_iterator, batch_size=self.batch_size))
        validation.check_sample_shape(test_iterator, self.provide_data)
        batch = test_iterator.provide_data[0].shape[0]
        labels = [mx.io.DataDesc(label.name, (batch,) + tuple(label.shape[1:])) for label in self.provide_label]
        if labels and not test_iterator.provide_label:
            test_iterator = _PlaceholderLabels(test_iterator, labels)
        if not self.target_model.binded:
            self.target_model.bind(data_shapes=test_iterator.provide_data, label_shapes=labels or None,
                                   for_training=False)
        return self.target_model.predict(test_iterator).asnumpy()

    def predict_label(self, test_iterator):
        return np.argmax(self.predict_probability(test_iterator), axis=1)

    def serialize(self, file_prefix):
        """Writes the target network as ``<file_prefix>-symbol.json`` and ``<file_prefix>-0000.params``."""
        serialization.save_module(self.target_model, file_prefix)
        return {'history': self.history, 'best_epoch': self.best_epoch}

    def deserialize(self, input_dict):
        path = input_dict['json_path']
        if 'target_model' not in input_dict:  # Xfer 1.1 kept no training history
            serialization.warn_xfer11_file(path)
            saved = {'history': {}, 'best_epoch': None}
        else:
            saved = serialization.require(input_dict, 'target_model', dict, path)
        self.history = serialization.check_history(serialization.require(saved, 'history', dict, path), path)
        self.best_epoch = serialization.require(saved, 'best_epoch', (int, type(None)), path)
        self.target_model = serialization.load_module(input_dict['file_prefix'])

    @abstractmethod
    def _create_target_module(self, train_iterator):
        """The target network as a module bound to ``train_iterator``'s shapes, params initialised."""

    def _target_modules(self, train_iterator):
        """The modules to train in turn, each after the last: one unless training goes in stages."""
        yield self._create_target_module(train_iterator)

    def _total_epochs(self):
        return self.num_epochs

    def _fit(self, module, train_iterator, monitor):
        """``num_epochs`` epochs of ``Module.fit``, numbered on from the epochs already run."""
        first_epoch = len(monitor.history['epoch'])
        monitor.watch(module)
        train_iterator.reset()
        module.logger = TRAINING_LOGGER
        kvstore, train_iterator, epoch_end = training.prepare_fit(module, self.kvstore, train_iterator)
        with warnings.catch_warnings():  # fit re-announces that get_module already initialised the params
            warnings.filterwarnings('ignore', message='Parameters already initialized')
            module.fit(train_iterator, eval_metric=['acc', 'ce'], optimizer=self.optimizer,
                       optimizer_params=dict(self.optimizer_params), kvstore=kvstore, begin_epoch=first_epoch,
                       num_epoch=first_epoch + self.num_epochs, allow_missing=True,
                       initializer=mx.init.Xavier(**consts.XAVIER_ARGS),
                       # the Speedometer must not reset the metric: the history reads the whole epoch's
                       batch_end_callback=[monitor.batch_end,
                                           mx.callback.Speedometer(self.batch_size, 50, auto_reset=False)],
                       epoch_end_callback=epoch_end + [monitor.epoch_end])


class _PlaceholderLabels(mx.io.DataIter):
    """A test iterator without labels, given zero labels: the target network's output layer reads a label
    (unused when predicting), and MXNet cannot run it without one."""

    def __init__(self, iterator, label_descriptions):
        super().__init__(iterator.provide_data[0].shape[0])
        self.iterator = iterator
        self.provide_data = iterator.provide_data
        self.provide_label = label_descriptions

    def reset(self):
        self.iterator.reset()

    def next(self):
        batch = self.iterator.next()
        rows = batch.data[0].shape[0]
        labels = [mx.nd.zeros((rows,) + tuple(label.shape[1:])) for label in self.provide_label]
        return mx.io.DataBatch(batch.data, labels, pad=batch.pad)


def classifier_head(train_iterator, target_class_count):
    """A new fully connected layer of ``target_class_count`` units and a softmax output reading the
    iterator's label; the output is named after the label (``softmax_label`` -> ``softmax``)."""
    if not train_iterator.provide_label:
        raise ValueError('The training iterator provides no labels: a target network needs them')
    label = train_iterator.provide_label[0].name
    output = naming.output_name_for_label(label)
    return [mx.sym.FullyConnected(name=TARGET_LAYER_NAME, num_hidden=target_class_count),
            mx.sym.SoftmaxOutput(label=mx.sym.var(label), name=output)]
