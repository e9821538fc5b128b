"""Variational inference for a Bayesian MLP: Adam steps on the minibatch negative ELBO."""
import mxnet as mx
import numpy as np

from .sampled_mlp import flatten_concat

#: Upper bound on the noise drawn at once for a run of minibatches (float32 values, 16 MB).
_MAX_NOISE = 2 ** 22


class ElboTrainer:
    """Fits a mean-field Gaussian posterior over a :class:`~xfer.sampled_mlp.SampledMlp`'s weights.

    Each minibatch step minimises, with Adam,
    ``mean_s[-sum_batch log p(y | x, w_s)] + kl_weight * batch_size / N * KL(q || prior)``
    for ``num_samples_mc`` reparameterised samples ``w_s = mean + sigma * eps_s``, so that one
    epoch adds up to the negative ELBO with its KL term weighted by ``kl_weight`` (annealing).

    Speed comes from doing little per step, because on a small network the cost of a step is
    the number of MXNet calls, not arithmetic. Sampling, the network under all samples, the
    likelihood and the closed-form KL form one graph (:func:`negative_elbo`), bound once per
    batch size to an executor whose inputs, outputs and gradients live in fixed arrays; the
    gradients land in the posterior's own gradient arrays. A step is then: gather the batch into
    the executor's inputs, forward, backward, one Adam update per posterior parameter. The noise
    and the batch order of a whole epoch are drawn at once, and nothing goes back to numpy.
    (An executor runs forward and backward with less overhead than autograd over a cached graph.)

    Parameters
    ----------
    model : SampledMlp
    prior : xfer.prob.GaussianPrior
        Over ``model.shapes``.
    var_posterior : xfer.prob.GaussianVariationalPosterior
        Over ``model.shapes``, updated in place. The graph reads its two trainable
        ``raw_params``: all means, and all ``rho`` with ``sigma = log(1 + exp(rho))``, each laid
        end to end in ``shapes`` order, as :class:`~xfer.prob.GaussianVariationalPosterior` stores them.
    num_samples_mc : int
        Weight samples per step.
    learning_rate : float
        Adam's step size.
    batch_size : int
    ctx : mxnet.Context
        Where the posterior lives and the training runs.
    """

    def __init__(self, model, prior, var_posterior, num_samples_mc, learning_rate, batch_size, ctx):
        self.model = model
        self.num_samples_mc = num_samples_mc
        self.batch_size = batch_size
        self.ctx = ctx
        mean, rho = var_posterior.raw_params
        self._weights = [mean.data(ctx), rho.data(ctx)]
        self._gradients = {'mean': mean.grad(ctx), 'rho': rho.grad(ctx)}
        self._constant_inputs = {'mean': self._weights[0], 'rho': self._weights[1],
                                 'prior_mean': flatten_concat(prior.get_mean()).as_in_context(ctx),
                                 'prior_sigma': flatten_concat(prior.get_sigma()).as_in_context(ctx)}
        self._objective = mx.sym.make_loss(negative_elbo(model))
        self._executors_by_batch_size = {}
        self._update = mx.optimizer.get_updater(mx.optimizer.Adam(learning_rate=learning_rate))
        self._noise_generator = np.random.default_rng(_seed_from_mxnet())

    def run_epoch(self, data, labels, kl_weight):
        """One pass over shuffled minibatches; the summed negative ELBO of its steps (an NDArray of one value).

        Parameters
        ----------
        data : mxnet.nd.NDArray, shape (N, n_in)
            Normalised features, on ``ctx``.
        labels : mxnet.nd.NDArray, shape (N,)
            Classes as floats, on ``ctx``.
        kl_weight : float
            The annealing factor of this epoch, in [0, 1].
        """
        num_rows = data.shape[0]
        order = mx.nd.random.shuffle(mx.nd.arange(num_rows, ctx=self.ctx))
        batches = _split(order, list(range(self.batch_size, num_rows, self.batch_size)))
        for size in {len(rows) for rows in batches}:
            self._executor(size).arg_dict['kl_weight'][:] = kl_weight * size / num_rows
        total = mx.nd.zeros((1,), ctx=self.ctx)
        for rows, noise in zip(batches, self._noise_batches(len(batches))):
            total += self._step(self._executor(len(rows)), data, labels, rows, noise)
        return total

    def _step(self, executor, data, labels, rows, noise):
        """One Adam step on the batch ``rows``; the batch's objective (valid until the next step)."""
        inputs = executor.arg_dict
        mx.nd.take(data, rows, out=inputs['data'])
        mx.nd.take(labels, rows, out=inputs['label'])
        noise.copyto(inputs['noise'])
        executor.forward(is_train=True)
        executor.backward()
        for index, (weight, name) in enumerate(zip(self._weights, ('mean', 'rho'))):
            self._update(index, self._gradients[name], weight)
        return executor.outputs[0]

    def _executor(self, batch_size):
        """The objective bound for batches of ``batch_size`` rows (a full and a last, shorter batch)."""
        if batch_size not in self._executors_by_batch_size:
            inputs = dict(self._constant_inputs,
                          data=mx.nd.zeros((batch_size, self.model.n_in), ctx=self.ctx),
                          label=mx.nd.zeros((batch_size,), ctx=self.ctx),
                          noise=mx.nd.zeros((self.num_samples_mc, self.model.num_params), ctx=self.ctx),
                          kl_weight=mx.nd.zeros((1,), ctx=self.ctx))
            self._executors_by_batch_size[batch_size] = self._objective.bind(
                self.ctx, args=inputs, args_grad=self._gradients,
                grad_req={name: 'write' if name in self._gradients else 'null' for name in inputs})
        return self._executors_by_batch_size[batch_size]

    def _noise_batches(self, num_batches):
        """Standard normal noise ``(num_samples_mc, num_params)`` per batch, drawn a bounded run at a time.

        numpy's generator draws normal numbers several times faster than MXNet's on CPU; it is
        seeded from MXNet's, so that ``mx.random.seed`` alone makes training repeatable.
        """
        sample_shape = (self.num_samples_mc, self.model.num_params)
        batches_per_draw = max(1, _MAX_NOISE // (sample_shape[0] * sample_shape[1]))
        for start in range(0, num_batches, batches_per_draw):
            count = min(batches_per_draw, num_batches - start)
            noise = self._noise_generator.standard_normal((count,) + sample_shape, dtype=np.float32)
            yield from _as_list(mx.nd.split(mx.nd.array(noise, ctx=self.ctx), num_outputs=count, axis=0,
                                            squeeze_axis=True))


def negative_elbo(model):
    """Symbol of one minibatch's objective (see :class:`ElboTrainer`), shape ``(1,)``.

    Inputs: ``data`` ``(B, n_in)``, ``label`` ``(B,)``, the posterior's flat ``mean`` and ``rho``
    ``(P,)``, ``noise`` ``(S, P)``, ``kl_weight`` ``(1,)`` and the prior's flat ``prior_mean`` and
    ``prior_sigma`` ``(P,)``.
    """
    data, label, mean, rho, noise, kl_weight, prior_mean, prior_sigma = [mx.sym.var(name) for name in (
        'data', 'label', 'mean', 'rho', 'noise', 'kl_weight', 'prior_mean', 'prior_sigma')]
    sigma = mx.sym.Activation(rho, act_type='softrelu')
    weights = mx.sym.broadcast_add(mx.sym.broadcast_mul(noise, sigma), mean)
    logits = model.logits(data, weights)
    labels_per_sample = mx.sym.broadcast_like(mx.sym.expand_dims(label, axis=0), logits,
                                              lhs_axes=(0,), rhs_axes=(0,))
    log_likelihoods = mx.sym.pick(mx.sym.log_softmax(logits, axis=-1), labels_per_sample, axis=-1)
    log_likelihood = mx.sym.mean(mx.sym.sum(log_likelihoods, axis=1))
    kl_divergence = mx.sym.sum(mx.sym.log(prior_sigma) - mx.sym.log(sigma) - 0.5 + (
        mx.sym.square(sigma) + mx.sym.square(mean - prior_mean)) / (2 * mx.sym.square(prior_sigma)))
    return kl_weight * kl_divergence - log_likelihood


def _seed_from_mxnet():
    return int(mx.nd.random.randint(0, 2 ** 31 - 1, shape=(1,), ctx=mx.cpu()).asscalar())


def _split(array, starts):
    """The rows of ``array`` cut before each index in ``starts``, as a list, by one operation."""
    return _as_list(mx.nd.split_v2(array, tuple(starts), axis=0)) if starts else [array]


def _as_list(split_output):
    return split_output if isinstance(split_output, list) else [split_output]
