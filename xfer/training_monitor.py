"""Watches ``Module.fit``: per-epoch history, a progress bar, the best epoch and early stopping."""
import time

import numpy as np
from tqdm.auto import tqdm

from .distributed import job


class StopTraining(Exception):
    """Raised from a ``fit`` callback to end training early (validation stopped improving)."""


class TrainingMonitor:
    """Callbacks for ``Module.fit`` that record each epoch and keep the params of the best one.

    Parameters
    ----------
    num_epochs : int
        Epochs in all, for the progress bar.
    validation_iterator : mx.io.DataIter or None
        Scored after every epoch (padding excluded).
    patience : int or None
        Stop when the validation accuracy has not improved for this many epochs (None: never).
    show_progress : bool or None
        Progress bar over epochs; None shows it only in a terminal or notebook.
    across_workers : bool, default False
        In a distributed job: record the metrics of all workers' shards together (sums taken over
        the kvstore) and the slowest worker's epoch time, so every worker keeps the same history
        and makes the same early-stopping decision.

    Attributes
    ----------
    history : dict of str to list
        Per epoch: ``epoch``, ``train_accuracy``, ``train_loss`` (cross-entropy), ``seconds`` and,
        with a validation iterator, ``validation_accuracy``.
    best_epoch : int or None
        Epoch with the highest validation accuracy so far.
    best_params : tuple of dict or None
        Copies of ``(arg_params, aux_params)`` after that epoch.
    """

    def __init__(self, num_epochs, validation_iterator=None, patience=None, show_progress=None, across_workers=False):
        self.num_epochs = num_epochs
        self.module = None
        self.validation_iterator = validation_iterator
        self.patience = patience
        self.history = {'epoch': [], 'train_accuracy': [], 'train_loss': [], 'seconds': []}
        self.best_epoch = None
        self.best_params = None
        self._progress = tqdm(total=num_epochs, unit='epoch', desc='training', leave=False,
                              disable=None if show_progress is None else not show_progress)
        self._train_metric = None
        self._epoch_start = time.time()
        self._across_workers = across_workers

    def watch(self, module):
        """Score ``module`` from now on (training may move to a new module between stages)."""
        self.module = module

    def batch_end(self, param):
        """``batch_end_callback``: remembers the running training metric of the epoch."""
        self._train_metric = param.eval_metric

    def epoch_end(self, epoch, symbol, arg_params, aux_params):
        """``epoch_end_callback``: records the epoch, scores the validation data, keeps the best params."""
        values = self._train_values()
        self.history['epoch'].append(epoch)
        self.history['train_accuracy'].append(values['accuracy'])
        self.history['train_loss'].append(values['cross-entropy'])
        self.history['seconds'].append(float(self._over_workers([time.time() - self._epoch_start], np.max)[0]))
        postfix = {'loss': '{:.4f}'.format(values['cross-entropy']), 'accuracy': '{:.3f}'.format(values['accuracy'])}
        if self.validation_iterator is not None:
            accuracy = self._validation_accuracy()
            postfix['validation_accuracy'] = '{:.3f}'.format(accuracy)
            self._keep_if_best(epoch, accuracy, arg_params, aux_params)
        self._progress.update(1)
        self._progress.set_postfix(postfix)
        self._epoch_start = time.time()
        if self.patience is not None and epoch - self.best_epoch >= self.patience:
            raise StopTraining()

    def _train_values(self):
        """Metric name -> value over the epoch: ``sum_metric / num_inst`` of each metric (of all workers)."""
        metrics = self._train_metric.metrics
        sums = self._over_workers([[metric.sum_metric, metric.num_inst] for metric in metrics], np.sum)
        return {metric.name: float(total / count) for metric, (total, count) in zip(metrics, sums)}

    def _validation_accuracy(self):
        correct = total = 0
        for outputs, _, batch in self.module.iter_predict(self.validation_iterator):
            valid = outputs[0].shape[0]
            predicted = outputs[0].asnumpy().argmax(axis=1)
            correct += int((predicted == batch.label[0][:valid].asnumpy()).sum())
            total += valid
        correct, total = self._over_workers([correct, total], np.sum)
        return correct / total

    def _over_workers(self, values, combine):
        """``values`` (a list of numbers) combined element-wise over the workers, or as they are."""
        values = np.asarray(values, dtype=np.float64)
        return combine(job.allgather(values), axis=0) if self._across_workers else values

    def _keep_if_best(self, epoch, accuracy, arg_params, aux_params):
        scores = self.history.setdefault('validation_accuracy', [])
        scores.append(accuracy)
        if self.best_epoch is None or accuracy > max(scores[:-1]):
            self.best_epoch = epoch
            self.best_params = ({name: value.copy() for name, value in arg_params.items()},
                                {name: value.copy() for name, value in aux_params.items()})

    def close(self):
        self._progress.close()
