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
        window rather than per step); memory: ``2 * (window + 1)`` copies of the parameters.
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
        self._gradient_sum = None
        self.num_tasks = 0
        self._path = _Path(self.window, [self.initialisation[index] for index in self._trainable])
        self._sources = None

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
        self._path.clear()
        trainable = [self._params[index] for index in self._trainable]
        self._sources = ([param.data().reshape((-1,)) for param in trainable],
                         [param.grad().reshape((-1,)) for param in trainable])

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
        if self._sources is None:
            raise RuntimeError('update() before start_task(): start every task with start_task()')
        parameters, gradients = self._sources
        self._path.add(self._loss(loss), parameters, gradients, grad_scale)
        if self._path.num_steps >= self.window:
            self._add_path_terms()

    def _add_path_terms(self):
        """Add up the steps remembered so far; the latest point stays as the start of the next step."""
        self._add_terms(*self._path.steps())
        self._path.keep_last_point()

    def end_task(self, final_loss=None):
        """Finish the task's path and add it to the meta-batch.

        Parameters
        ----------
        final_loss : mxnet.nd.NDArray, float or None
            The loss at the parameters after the last step, which closes the last step's term;
            None leaves the last step out.
        """
        if not self._path.num_points:
            raise RuntimeError('end_task() without a training step: call update() after each backward pass')
        if final_loss is not None:
            self._path.add(self._loss(final_loss), self._sources[0])  # the gradient there is never used
        if self._path.num_steps:
            self._add_path_terms()
        self._path.clear()
        self._sources = None
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

    def _add_terms(self, losses, parameters, gradients):
        """Add the terms of the steps along a path to the meta-gradient sum.

        Row ``i`` of ``parameters`` and ``gradients`` is ``theta_i`` and ``g_i``. With ``D`` the
        differences of consecutive parameter rows and ``w`` the per-step weights (1, or 1 / length),
        the sum of the terms is ``w D + (w * delta_f) G``, with ``G`` the gradient rows before each
        step: a few array operations per window, whatever its length."""
        steps = parameters[1:] - parameters[:-1]
        loss_changes = losses[1:] - losses[:-1]
        if self.stabilizer:
            loss_changes = -loss_changes.abs()
        if self.norm:
            weights = 1.0 / mx.nd.maximum(mx.nd.sqrt(_squared_row_norms(steps) + loss_changes.square()),
                                          _SMALLEST_LENGTH)
        else:
            weights = mx.nd.ones_like(loss_changes)
        total = mx.nd.dot(weights, steps) + mx.nd.dot(weights * loss_changes, gradients[:-1])
        if self._gradient_sum is None:
            self._gradient_sum = -total
        else:
            self._gradient_sum -= total


class _Path:
    """The part of a task's training path not yet added up: the losses at its points, and the
    parameters and gradients there, each point a row of two arrays allocated once. Copying the
    model's arrays into slices of those rows costs far less per step than MXNet's ``concat`` into
    a new vector, and needs no ``stack`` of those vectors per window."""

    def __init__(self, window, parameters):
        ends = np.cumsum([parameter.size for parameter in parameters]).tolist()
        shape, context, dtype = (window + 1, ends[-1]), parameters[0].context, parameters[0].dtype
        self._parameters = mx.nd.zeros(shape, ctx=context, dtype=dtype)
        self._gradients = mx.nd.zeros(shape, ctx=context, dtype=dtype)
        self._slices = [_row_slices(self._parameters[row], ends) for row in range(window + 1)]
        self._gradient_slices = [_row_slices(self._gradients[row], ends) for row in range(window + 1)]
        self._losses = []

    @property
    def num_points(self):
        return len(self._losses)

    @property
    def num_steps(self):
        return max(self.num_points - 1, 0)

    def add(self, loss, parameters, gradients=None, grad_scale=1.0):
        """Copy the model's flat ``parameters`` (and ``gradients``, divided by ``grad_scale``) into
        the next row."""
        row = self.num_points
        if gradients is None:
            _copy_all(parameters, self._slices[row])
        else:
            _copy_all(list(parameters) + list(gradients), self._slices[row] + self._gradient_slices[row])
            if grad_scale != 1.0:
                self._gradients[row] /= grad_scale
        self._losses.append(loss)

    def steps(self):
        """The losses (one vector), parameters and gradients of the points so far."""
        count = self.num_points
        return mx.nd.concat(*self._losses, dim=0), self._parameters[:count], self._gradients[:count]

    def keep_last_point(self):
        """Forget every point but the latest, which becomes the first row (the start of the next step)."""
        last = self.num_points - 1
        self._parameters[last].copyto(self._parameters[0])
        self._gradients[last].copyto(self._gradients[0])
        self._losses = self._losses[-1:]

    def clear(self):
        self._losses = []


def _row_slices(row, ends):
    """Views of the consecutive pieces of ``row`` that end at ``ends``."""
    return [row[begin:end] for begin, end in zip([0] + ends[:-1], ends)]


def _copy_all(sources, targets):
    """Copy every source array into its target in one MXNet operation, which costs about half as
    much per step on the CPU as one ``copyto`` per array. ``amp_multicast`` casts its inputs to
    their widest type: the parameters and gradients share the buffers' type, so it only copies."""
    mx.nd.amp_multicast(*sources, num_outputs=len(sources), out=targets)


def _squared_row_norms(rows):
    """Each row's squared Euclidean length (a batched dot product: MXNet's ``norm`` along an axis
    is several times slower on the CPU)."""
    return mx.nd.batch_dot(rows.expand_dims(1), rows.expand_dims(2)).reshape((-1,))


def _initialised_data(param):
    try:
        return param.data()
    except (RuntimeError, mx.gluon.parameter.DeferredInitializationError):
        raise ValueError('parameter {} is not initialised: call model.initialize(ctx=...) and run one batch '
                         'through the model first'.format(param.name)) from None
