"""Meta-learning an initialisation from many tasks with Leap, in the shape of Xfer's repurposers."""
import copy
import os

import mxnet as mx
import numpy as np
from mxnet import gluon
from tqdm.auto import tqdm

from ...serialization import SavedFileError, commit_save, companion_prefix, read_json, require, staged_save
from ...validation import check_integer
from .leap import Leap
from .meta_logger import MetaLogger
from .task import Task, as_tasks
from .training import train_on_task

DEFAULT_META_OPTIMIZER_PARAMS = {'learning_rate': 0.0001}
DEFAULT_TASK_OPTIMIZER_PARAMS = {'learning_rate': 0.005}
SAVED_FORMAT = 'xfer-leap-initialisation'
SAVED_VERSION = 1


class LeapMetaRepurposer:
    """Learns, from many training tasks, an initialisation of ``model`` that trains fast on a new task.

    Each meta-step trains a copy of the initialisation on every task of a meta-batch for
    ``num_epochs`` epochs, then moves the initialisation against Leap's meta-gradient (the mean
    over the meta-batch's tasks; see :class:`~xfer.contrib.xfer_leap.leap.Leap`). Afterwards
    ``model`` holds the learned initialisation and :meth:`adapt` trains a copy of it on a new task.

    Parameters
    ----------
    model : mxnet.gluon.Block
        Initialised Gluon model; its parameters are the starting initialisation, and are
        replaced by the learned one.
    num_meta_steps : int
        Meta-steps (meta-batches) of training.
    num_epochs : int
        Epochs of training on each task, in meta-training and by default in :meth:`adapt`.
    loss_class : class
        A ``gluon.loss.Loss`` built with no arguments: ``L2Loss`` for regression,
        ``SoftmaxCrossEntropyLoss`` for classification. Each batch's loss is its mean.
    meta_optimizer, task_optimizer : str
        MXNet optimizers of the initialisation and of training on a task.
    meta_optimizer_params, task_optimizer_params : dict or None
        Their parameters; defaults ``{'learning_rate': 0.0001}`` and ``{'learning_rate': 0.005}``.
    log_params : bool
        Also log every task's parameters after every epoch (for
        :meth:`MetaLogger.plot_params <xfer.contrib.xfer_leap.meta_logger.MetaLogger.plot_params>`).
    verbosity : int
        0 silent; 1 a line per meta-step (its tasks' mean final loss); 2 also a line per task;
        3 also a line per epoch.
    context : mxnet.Context or None
        Where training runs; None: where the model's parameters are.
    norm, stabilizer : bool
        Leap's path-length normalisation and loss stabiliser.
    show_progress : bool or None
        A progress bar over meta-steps; None shows it only in a terminal or notebook.
    seed : int or None
        Seed of the sampling of tasks into meta-batches.

    Attributes
    ----------
    meta_logger : MetaLogger
        Every task's per-epoch losses, from the latest :meth:`repurpose`.
    meta_steps_done : int
        Meta-steps taken so far (over every call to :meth:`repurpose`).
    """

    def __init__(self, model, num_meta_steps, num_epochs, loss_class=gluon.loss.L2Loss,
                 meta_optimizer='sgd', meta_optimizer_params=None, task_optimizer='sgd',
                 task_optimizer_params=None, log_params=False, verbosity=1, context=None,
                 norm=True, stabilizer=True, show_progress=None, seed=None):
        if not isinstance(model, gluon.Block):
            raise TypeError('model must be an mxnet.gluon.Block (a Gluon network), got {}: convert a Module '
                            'or symbol into a gluon.SymbolBlock first'.format(type(model).__name__))
        check_integer('num_meta_steps', num_meta_steps)
        check_integer('num_epochs', num_epochs)
        self.model = model
        self.num_meta_steps = num_meta_steps
        self.num_epochs = num_epochs
        self.loss_class = loss_class
        self.meta_optimizer = meta_optimizer
        self.meta_optimizer_params = dict(meta_optimizer_params or DEFAULT_META_OPTIMIZER_PARAMS)
        self.task_optimizer = task_optimizer
        self.task_optimizer_params = dict(task_optimizer_params or DEFAULT_TASK_OPTIMIZER_PARAMS)
        self.log_params = log_params
        self.verbosity = verbosity
        self.context = context
        self.norm = norm
        self.stabilizer = stabilizer
        self.show_progress = show_progress
        self.seed = seed
        self.meta_logger = MetaLogger()
        self.meta_steps_done = 0

    def repurpose(self, train_tasks, meta_batch_size=None, with_replacement=False):
        """Meta-learn the initialisation of ``model`` from ``train_tasks``.

        Parameters
        ----------
        train_tasks : list
            One entry per task (its id is its index): a numpy ``(X, y)`` pair (one full batch per
            epoch), an ``mx.io.DataIter`` or an iterable of ``(data, label)`` batches such as a
            Gluon ``DataLoader``.
        meta_batch_size : int or None
            Tasks per meta-step; None: all of them.
        with_replacement : bool
            Draw a meta-batch's tasks with replacement; otherwise every task is drawn once
            before any is drawn again.
        """
        tasks = as_tasks(train_tasks)
        meta_batch_size = len(tasks) if meta_batch_size is None else meta_batch_size
        check_integer('meta_batch_size', meta_batch_size)
        context = self._context()
        loss_function = self.loss_class()
        for task in tasks:
            _check_task_fits(self.model, loss_function, task, context)
        leap = Leap(self.model, norm=self.norm, stabilizer=self.stabilizer,
                    meta_optimizer=self.meta_optimizer, meta_optimizer_params=self.meta_optimizer_params)
        self.meta_logger.reset()
        sampler = _TaskSampler(len(tasks), meta_batch_size, with_replacement, self.seed)
        progress = tqdm(range(self.num_meta_steps), desc='meta-training', unit='meta-step', leave=False,
                        disable=None if self.show_progress is None else not self.show_progress)
        for metastep in progress:
            for index in sampler.next_batch():
                self._train_task(leap, tasks[index], metastep, loss_function, context)
            self._report(self.meta_logger.metastep_line(metastep), level=1)
            progress.set_postfix(mean_loss='{:.3f}'.format(np.mean(self.meta_logger.final_losses(metastep))))
            leap.meta_step()
            self.meta_steps_done += 1
        progress.close()

    def adapt(self, task, num_epochs=None, return_losses=False):
        """A new model trained on ``task`` from the learned initialisation (``model`` is left as it is).

        Parameters
        ----------
        task : (X, y) pair, mx.io.DataIter or iterable of (data, label) batches
        num_epochs : int or None
            Default: the ``num_epochs`` of meta-training.
        return_losses : bool
            Also return the mean training loss of every epoch.

        Returns
        -------
        mxnet.gluon.Block, or (Block, list of float) with ``return_losses``
        """
        num_epochs = self.num_epochs if num_epochs is None else num_epochs
        check_integer('num_epochs', num_epochs)
        task = task if isinstance(task, Task) else Task(task, 0)
        context, loss_function = self._context(), self.loss_class()
        _check_task_fits(self.model, loss_function, task, context)
        model = copy_model(self.model)
        trainer = gluon.Trainer(model.collect_params(), self.task_optimizer, dict(self.task_optimizer_params))
        losses = train_on_task(model, task, loss_function, trainer, num_epochs, context)
        return (model, losses) if return_losses else model

    def save(self, prefix):
        """Write the learned initialisation: ``<prefix>.json`` (what it is) and a ``.params`` file
        beside it (MXNet's parameter format; no pickle), through xfer's crash-safe save: the JSON
        names and checksums the parameter file, and an interrupted save leaves the previous one."""
        json_path = prefix + '.json'
        with staged_save(json_path) as staged_prefix:
            self.model.save_parameters(staged_prefix + '.params')
            commit_save(json_path, staged_prefix, {'format': SAVED_FORMAT, 'version': SAVED_VERSION,
                                                   'model_class': type(self.model).__name__,
                                                   'meta_steps_done': self.meta_steps_done,
                                                   'num_epochs': self.num_epochs})

    def load(self, prefix):
        """Load an initialisation written by :meth:`save` into ``model``.

        Raises
        ------
        FileNotFoundError
            If either file is missing.
        SavedFileError
            If the files are not a saved Leap initialisation of a model like this one.
        """
        json_path = prefix + '.json'
        content = read_json(json_path)
        if content.get('format') != SAVED_FORMAT:
            raise SavedFileError(json_path, 'not a saved Leap initialisation (format {!r})'.format(
                content.get('format')))
        if require(content, 'version', int, json_path) > SAVED_VERSION:
            raise SavedFileError(json_path, 'written by a newer xfer (version {})'.format(content['version']))
        model_class = require(content, 'model_class', str, json_path)
        if model_class != type(self.model).__name__:
            raise SavedFileError(json_path, 'saved from a {}, this model is a {}'.format(
                model_class, type(self.model).__name__))
        params_path = companion_prefix(json_path, content) + '.params'
        if not os.path.isfile(params_path):
            raise FileNotFoundError('Saved file not found: {}'.format(params_path))
        try:
            self.model.load_parameters(params_path, ctx=self._context())
        except (AssertionError, ValueError, mx.base.MXNetError) as error:
            raise SavedFileError(params_path, 'does not fit this model: {}'.format(
                str(error).strip().splitlines()[0])) from None
        self.meta_steps_done = require(content, 'meta_steps_done', int, json_path)
        return self

    def _train_task(self, leap, task, metastep, loss_function, context):
        leap.start_task()
        if self.log_params:
            self.meta_logger.log_initial_params(metastep, self.model)
        self.meta_logger.start_task(metastep, task.index)
        trainer = gluon.Trainer(self.model.collect_params(), self.task_optimizer, dict(self.task_optimizer_params))
        every_epoch = self.log_params or self.verbosity >= 3
        losses = train_on_task(self.model, task, loss_function, trainer, self.num_epochs, context, leap=leap,
                               on_epoch=self._log_epoch if every_epoch else None)
        if not every_epoch:
            for loss in losses:
                self.meta_logger.log_loss(loss)
        self._report(self.meta_logger.task_line(), level=2)

    def _log_epoch(self, loss):
        """Log an epoch as it ends: needed for its parameters and its report line only."""
        self.meta_logger.log_loss(loss)
        if self.log_params:
            self.meta_logger.log_params(self.model)
        self._report(self.meta_logger.epoch_line(), level=3)

    def _report(self, line, level):
        if self.verbosity >= level:
            tqdm.write(line)

    def _context(self):
        if self.context is not None:
            return self.context
        for param in self.model.collect_params().values():
            try:
                return param.list_ctx()[0]
            except RuntimeError:  # not initialised: _check_task_fits says so with the task in hand
                break
        return mx.cpu()


class _TaskSampler:
    """Draws meta-batches of task indices: all tasks in order, shuffled cycles through them, or
    with replacement."""

    def __init__(self, num_tasks, meta_batch_size, with_replacement, seed):
        self.num_tasks = num_tasks
        self.meta_batch_size = meta_batch_size
        self.with_replacement = with_replacement
        self._rng = np.random.default_rng(seed)
        self._queue = []

    def next_batch(self):
        if self.meta_batch_size == self.num_tasks and not self.with_replacement:
            return list(range(self.num_tasks))  # every task, in order: the mean does not depend on it
        if self.with_replacement:
            return self._rng.integers(self.num_tasks, size=self.meta_batch_size).tolist()
        while len(self._queue) < self.meta_batch_size:
            self._queue.extend(self._rng.permutation(self.num_tasks).tolist())
        batch, self._queue = self._queue[:self.meta_batch_size], self._queue[self.meta_batch_size:]
        return batch


def copy_model(model):
    """An independent copy of a Gluon model and its parameters, ready to train."""
    twin = copy.deepcopy(model)
    for param in twin.collect_params().values():
        grad_req = param.grad_req
        param.grad_req = 'null'  # a deep copy has no gradient buffers: toggling grad_req makes them
        param.grad_req = grad_req
    return twin


def _check_task_fits(model, loss_function, task, context):
    """Run the task's first batch through the model and the loss; ValueError naming the task if they
    do not fit (this also completes deferred parameter initialisation)."""
    data, label = task.first_batch(context)
    try:
        losses = loss_function(model(data), label)
        mx.nd.waitall()
    except mx.base.MXNetError as error:
        raise ValueError('task {}: a batch with data of shape {} and labels of shape {} does not fit the model '
                         'and loss: {}'.format(task.index, data.shape, label.shape,
                                               str(error).strip().splitlines()[0])) from None
    except RuntimeError as error:
        raise ValueError('the model cannot run task {}: {} (call model.initialize(ctx=...) first)'.format(
            task.index, str(error).strip().splitlines()[0])) from None
    if losses.shape[0] != data.shape[0]:
        raise ValueError('task {}: the loss gives {} values for a batch of {}: check the label shape {}'.format(
            task.index, losses.shape[0], data.shape[0], label.shape))

