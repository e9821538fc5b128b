"""Leap's meta-gradient: the learned initialisation pulled along every task's training path."""
import mxnet as mx
import numpy as np

from ...validation import check_integer

_SMALLEST_LENGTH = 1e-12  # a step that moved nothing adds nothing (instead of 0 / 0)


class Leap:
    """A learned initialisation of a Gluon model and the Leap meta-gradient that improves it.

    Leap (Flennerhag et al., ICLR 2019) shortens the training path from a shared initialisation
    to each task's solution. Each training step ``i`` of a task moves the parameters from
    ``theta_i`` to ``theta_{i+1}`` and the loss from ``f_i`` to ``f_{i+1}``; it adds
    ``-(delta_theta_i + delta_f_i * grad f(theta_i))`` to the task's meta-gradient, divided by
    ``sqrt(delta_f_i ** 2 + |delta_theta_i| ** 2)`` with ``norm=True`` (path length rather than
    energy). The stabiliser uses ``-|delta_f_i|`` in place of ``delta_f_i``, so a step that raised
    the loss still pulls the initialisation forward. The meta-gradient of a meta-batch is the
    mean over its tasks, and a meta-step moves the initialisation against it.

    Use it with any Gluon training loop::

        leap = Leap(net)
        for task in meta_batch:
            leap.start_task()                      # net now holds the initialisation
            trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.01})
            for data, label in task:
                with autograd.record():
                    loss = loss_function(net(data), label).mean()
                loss.backward()
                leap.update(loss)                  # after backward, before the step
                trainer.step(1)
            leap.end_task(loss_function(net(data), label).mean())   # loss at the final parameters
        leap.meta_step()

    Parameters
    ----------
    model : mxnet.gluon.Block
        Initialised model (run one batch through it first if its shapes are inferred); its
        current parameters become the initialisation. Only parameters with a gradient are
        meta-learned; the others (e.g. batch-norm statistics) are reset to their initial value
        at every task.
    norm : bool
        Divide each step's term by its length in (parameters, loss) space.
    stabilizer : bool
        Treat every loss change as a decrease (``-|delta_f|``).
    meta_optimizer : str
        Name of an MXNet optimizer that updates the initialisation ('sgd', 'adam', ...).
    meta_optimizer_params : dict or None
        Its parameters; default ``{'learning_rate': 0.01}``.
    window : int
        Steps remembered before their terms are added up together (a few array operations per
        window rather than per step); memory: about ``2 * window`` copies of the parameters.
    """

    def __init__(self, model, norm=True, stabilizer=True, meta_optimizer='sgd', meta_optimizer_params=None,
                 window=16):
        if not isinstance(model, mx.gluon.Block):
            raise TypeError('model must be an mxnet.gluon.Block, got {}'.format(type(model).__name__))
        self.norm = norm
        self.stabilizer = stabilizer
        self._params = list(model.collect_params().values())
        if not self._params:
            raise ValueError('model {} has no parameters to meta-learn'.format(type(model).__name__))
        self._trainable = [index for index, param in enumerate(self._params) if param.grad_req != 'null']
        self.initialisation = [_initialised_data(param).copy() for param in self._params]
        optimizer_params = {'learning_rate': 0.01} if meta_optimizer_params is None else dict(meta_optimizer_params)
        self._meta_updater = mx.optimizer.get_updater(mx.optimizer.create(meta_optimizer, **optimizer_params))
        self.window = check_integer('window', window)
        self._size = sum(int(np.prod(self.initialisation[index].shape)) for index in self._trainable)
        self._gradient_sum = None
        self.num_tasks = 0
        self._path = _Path()
        self._flat_views = None

    @property
    def parameter_names(self):
        """Names of the meta-learned parameters, in the order of :meth:`meta_gradient`."""
        return [self._params[index].name for index in self._trainable]

    def restore_initialisation(self):
        """Write the initialisation into the model's parameters."""
        for param, value in zip(self._params, self.initialisation):
            value.copyto(param.data())

    def start_task(self):
        """Begin a task's training path at the initialisation (written into the model)."""
        self.restore_initialisation()
        self._path = _Path()
        trainable = [self._params[index] for index in self._trainable]
        self._flat_views = ([param.data().reshape((-1,)) for param in trainable]
                            + [param.grad().reshape((-1,)) for param in trainable])

    def update(self, loss, grad_scale=1.0):
        """Record the current point of the task's path; call after ``backward`` and before the step.

        Parameters
        ----------
        loss : mxnet.nd.NDArray or float
            The mean loss of the batch at the current parameters (a per-sample loss is averaged).
        grad_scale : float
            The parameters' gradients are ``grad_scale`` times the gradient of that mean loss:
            pass the batch size when ``backward`` ran on the summed loss.
        """
        if self._flat_views is None:
            raise RuntimeError('update() before start_task(): start every task with start_task()')
        point = self._snapshot()
        if grad_scale != 1.0:
            point[self._size:] /= grad_scale
        self._path.add(self._loss(loss), point)
        if self._path.num_steps >= self.window:
            self._add_terms(self._path.take_steps())

    def _snapshot(self):
        """The meta-learned parameters and their gradients, end to end in one new vector (one array
        operation per step, which is most of Leap's cost per step)."""
        return mx.nd.concat(*self._flat_views, dim=0)

    def end_task(self, final_loss=None):
        """Finish the task's path and add it to the meta-batch.

        Parameters
        ----------
        final_loss : mxnet.nd.NDArray, float or None
            The loss at the parameters after the last step, which closes the last step's term;
            None leaves the last step out.
        """
        if not self._path.points:
            raise RuntimeError('end_task() without a training step: call update() after each backward pass')
        if final_loss is not None:
            self._path.add(self._loss(final_loss), self._snapshot())  # its gradient part is never used
        if self._path.num_steps:
            self._add_terms(self._path.take_steps())
        self._path = _Path()
        self._flat_views = None
        self.num_tasks += 1

    def meta_gradient(self):
        """The mean over the finished tasks of their meta-gradients, one NDArray per meta-learned parameter."""
        if self.num_tasks == 0:
            raise RuntimeError('no task finished since the last meta-step: call start_task/update/end_task first')
        shapes = [self.initialisation[index].shape for index in self._trainable]
        if self._gradient_sum is None:
            return [mx.nd.zeros(shape, ctx=self.initialisation[0].context) for shape in shapes]
        mean = self._gradient_sum / self.num_tasks
        sizes = np.cumsum([0] + [int(np.prod(shape)) for shape in shapes])
        return [mean[begin:end].reshape(shape) for begin, end, shape in zip(sizes[:-1], sizes[1:], shapes)]

    def meta_step(self):
        """Move the initialisation against the meta-gradient, forget the finished tasks, and write
        the new initialisation into the model."""
        for position, (index, gradient) in enumerate(zip(self._trainable, self.meta_gradient())):
            self._meta_updater(position, gradient, self.initialisation[index])
        self._gradient_sum = None
        self.num_tasks = 0
        self.restore_initialisation()

    def _loss(self, loss):
        """The mean loss as an NDArray of shape (1,)."""
        if not isinstance(loss, mx.nd.NDArray):
            return mx.nd.array([loss], ctx=self.initialisation[0].context)
        if loss.size > 1:
            loss = loss.mean()
        return loss if loss.shape == (1,) else loss.reshape((1,))

    def _add_terms(self, path):
        """Add the terms of the steps along ``path`` to the meta-gradient sum.

        Each point is a row ``[theta_i, g_i]``. With ``D`` the differences of consecutive rows and
        ``w`` the per-step weights (1, or 1 / length), the sum of the terms is the parameter half
        of ``w D`` plus the gradient half of ``(w * delta_f) [rows before each step]``: a few array
        operations per window, whatever its length."""
        losses, points = path
        size = self._size
        rows = mx.nd.stack(*points)
        differences = rows[1:] - rows[:-1]
        loss_changes = losses[1:] - losses[:-1]
        if self.stabilizer:
            loss_changes = -loss_changes.abs()
        if self.norm:
            step_norms = mx.nd.norm(differences.reshape((0, 2, size)), axis=2)
            step_norms = mx.nd.slice_axis(step_norms, axis=1, begin=0, end=1).reshape((-1,))
            weights = 1.0 / mx.nd.maximum(mx.nd.sqrt(step_norms.square() + loss_changes.square()), _SMALLEST_LENGTH)
        else:
            weights = mx.nd.ones_like(loss_changes)
        total = mx.nd.dot(weights, differences)[:size] + mx.nd.dot(weights * loss_changes, rows[:-1])[size:]
        if self._gradient_sum is None:
            self._gradient_sum = -total
        else:
            self._gradient_sum -= total


class _Path:
    """The part of a task's training path not yet added up: its points (each the parameters and the
    gradient there, end to end) and the losses at them."""

    def __init__(self):
        self.losses, self.points = [], []

    @property
    def num_steps(self):
        return max(len(self.points) - 1, 0)

    def add(self, loss, point):
        self.losses.append(loss)
        self.points.append(point)

    def take_steps(self):
        """The losses (one vector) and the points so far; keeps the latest point as the start of the
        next step."""
        taken = (mx.nd.concat(*self.losses, dim=0), self.points)
        self.losses, self.points = self.losses[-1:], self.points[-1:]
        return taken


def _initialised_data(param):
    try:
        return param.data()
    except (RuntimeError, mx.gluon.parameter.DeferredInitializationError):
        raise ValueError('parameter {} is not initialised: call model.initialize(ctx=...) and run one batch '
                         'through the model first'.format(param.name)) from None
