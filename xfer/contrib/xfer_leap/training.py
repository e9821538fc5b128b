"""The training loop every task goes through: in meta-training, in adaptation and in baselines."""
import mxnet as mx
from mxnet import autograd


def train_on_task(model, task, loss_function, trainer, num_epochs, context, leap=None, on_epoch=None):
    """Train ``model`` on ``task`` for ``num_epochs`` epochs; return each epoch's mean training loss.

    Each batch's loss is the mean of ``loss_function`` over the batch, and ``trainer.step(1)``
    follows its backward pass. With ``leap``, every step is recorded on Leap's path, closed by
    the loss of the final parameters on the last batch.

    Parameters
    ----------
    model : mxnet.gluon.Block
    task : Task
        See :class:`~xfer.contrib.xfer_leap.task.Task`.
    loss_function : mxnet.gluon.loss.Loss
    trainer : mxnet.gluon.Trainer
        Over the model's parameters.
    num_epochs : int
    context : mxnet.Context
        Where the batches go (the model's parameters must be there).
    leap : Leap or None
    on_epoch : callable or None
        Called with the epoch's mean loss after every epoch (waiting for it: without a callback,
        the losses are read once at the end, so MXNet never stalls between steps).

    Returns
    -------
    list of float
    """
    epoch_losses = []
    data = label = None
    for _ in range(num_epochs):
        batch_losses = []
        for data, label in task.batches(context):
            with autograd.record():
                loss = loss_function(model(data), label).mean()
            loss.backward()
            if leap is not None:
                leap.update(loss)
            trainer.step(1)
            batch_losses.append(loss)
        epoch_losses.append(batch_losses[0] if len(batch_losses) == 1
                            else mx.nd.add_n(*batch_losses) / len(batch_losses))
        if on_epoch is not None:
            on_epoch(epoch_losses[-1].asscalar())
    if leap is not None:
        leap.end_task(loss_function(model(data), label).mean())
    return mx.nd.concat(*epoch_losses, dim=0).asnumpy().astype(float).tolist()
