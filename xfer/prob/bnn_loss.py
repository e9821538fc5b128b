"""Negative evidence lower bound for training Bayesian neural networks."""
from mxnet import gluon, nd


class BNNLoss(gluon.loss.Loss):
    """Monte Carlo negative ELBO over posterior samples.

    ``mean_s[-log p(labels | outputs_s)] + kl_weight * KL(q || prior)``, where the KL is exact
    when the posterior is conjugate to the prior (computed once, whatever the number of
    samples) and otherwise estimated as ``mean_s[log q(sample_s) - log p(sample_s)]``.
    Lists of samples cannot be hybridised, so this loss runs imperatively only.

    Parameters
    ----------
    prior : Prior
    obs_model : Likelihood
    var_posterior : VariationalPosterior

    Examples
    --------
    One training step with three samples, ``network`` being a :class:`FunctionalNetwork`::

        with autograd.record():
            samples = [var_posterior.generate_sample() for _ in range(3)]
            outputs = [network(data, sample) for sample in samples]
            loss = bnn_loss(outputs, labels, samples, kl_weight)
        loss.backward()
        trainer.step(1)
    """

    def __init__(self, prior, obs_model, var_posterior):
        super().__init__(weight=None, batch_axis=0)
        self.prior = prior
        self.obs_model = obs_model
        self.var_posterior = var_posterior

    def forward(self, outputs, labels, samples, kl_weight=1.0):
        """Return the negative ELBO of one batch as an NDArray holding one value.

        Parameters
        ----------
        outputs : list of mxnet.nd.NDArray
            Network outputs, one per posterior sample.
        labels : mxnet.nd.NDArray
            Observations scored by ``obs_model``.
        samples : list of list of mxnet.nd.NDArray
            The posterior samples behind ``outputs``, in the same order; only their number
            matters when the KL is exact.
        kl_weight : float
            Multiplies the KL: the annealing factor, times ``batch_size / num_train`` when
            training on mini-batches so that an epoch counts the KL once.
        """
        if not outputs or len(outputs) != len(samples):
            raise ValueError('Expected one output per posterior sample, got {} outputs and {} '
                             'samples'.format(len(outputs), len(samples)))
        log_likelihood = nd.add_n(*[self.obs_model.log_pdf(labels, output)
                                    for output in outputs]) / len(outputs)
        return kl_weight * self._kl_divergence(samples) - log_likelihood

    def _kl_divergence(self, samples):
        if self.var_posterior.is_conjugate(self.prior):
            return self.var_posterior.KL(self.prior)
        return nd.add_n(*[self.var_posterior.log_pdf(sample) - self.prior.log_pdf(sample)
                          for sample in samples]) / len(samples)
