"""Leap's meta-gradient: the learned initialisation pulled along every task's training path."""
import mxnet as mx

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
    """

    def __init__(self, model, norm=True, stabilizer=True, meta_optimizer='sgd', meta_optimizer_params=None):
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
        self._gradient_sum = None
        self.num_tasks = 0
        self._previous = None

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
        self._previous = None

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
        current = self._point(loss)
        gradients = [self._params[index].grad() for index in self._trainable]
        if grad_scale != 1.0:
            gradients = [gradient / grad_scale for gradient in gradients]
        else:
            gradients = [gradient.copy() for gradient in gradients]
        self._close_segment(current)
        self._previous = current + (gradients,)

    def end_task(self, final_loss=None):
        """Finish the task's path and add it to the meta-batch.

        Parameters
        ----------
        final_loss : mxnet.nd.NDArray, float or None
            The loss at the parameters after the last step, which closes the last step's term;
            None leaves the last step out.
        """
        if self._previous is None:
            raise RuntimeError('end_task() without a training step: call update() after each backward pass')
        if final_loss is not None:
            self._close_segment(self._point(final_loss))
        self._previous = None
        self.num_tasks += 1

    def meta_gradient(self):
        """The mean over the finished tasks of their meta-gradients, one NDArray per meta-learned parameter."""
        if self.num_tasks == 0:
            raise RuntimeError('no task finished since the last meta-step: call start_task/update/end_task first')
        if self._gradient_sum is None:
            return [mx.nd.zeros_like(self.initialisation[index]) for index in self._trainable]
        return [total / self.num_tasks for total in self._gradient_sum]

    def meta_step(self):
        """Move the initialisation against the meta-gradient, forget the finished tasks, and write
        the new initialisation into the model."""
        for position, (index, gradient) in enumerate(zip(self._trainable, self.meta_gradient())):
            self._meta_updater(position, gradient, self.initialisation[index])
        self._gradient_sum = None
        self.num_tasks = 0
        self.restore_initialisation()

    def _point(self, loss):
        if not isinstance(loss, mx.nd.NDArray):
            loss = mx.nd.array([loss], ctx=self.initialisation[0].context)
        loss = loss.mean().reshape((1,)) if loss.size > 1 else loss.reshape((1,)).copy()
        return loss, [self._params[index].data().copy() for index in self._trainable]

    def _close_segment(self, current):
        """Add the term of the step from the remembered point to ``current`` to the meta-gradient."""
        if self._previous is None:
            return
        previous_loss, previous_params, previous_gradients = self._previous
        loss, params = current
        loss_change = loss - previous_loss
        if self.stabilizer:
            loss_change = -loss_change.abs()
        steps = [now - before for now, before in zip(params, previous_params)]
        terms = [step + mx.nd.broadcast_mul(gradient, loss_change) for step, gradient in zip(steps, previous_gradients)]
        if self.norm:
            squared = mx.nd.multi_sum_sq(*steps, num_arrays=len(steps)).sum()
            length = mx.nd.sqrt(squared + loss_change.square())
            inverse_length = 1.0 / mx.nd.maximum(length, _SMALLEST_LENGTH)
            terms = [mx.nd.broadcast_mul(term, inverse_length) for term in terms]
        if self._gradient_sum is None:
            self._gradient_sum = [-term for term in terms]
        else:
            for total, term in zip(self._gradient_sum, terms):
                total -= term


def _initialised_data(param):
    try:
        return param.data()
    except (RuntimeError, mx.gluon.parameter.DeferredInitializationError):
        raise ValueError('parameter {} is not initialised: call model.initialize(ctx=...) and run one batch '
                         'through the model first'.format(param.name)) from None
