"""Tests of BNNLoss, the negative ELBO, on a one-layer Bayesian network."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon
from scipy.special import log_softmax
from scipy.stats import laplace, norm

from xfer.prob import (BNNLoss, Categorical, FunctionalNetwork, GaussianPrior,
                       GaussianVariationalPosterior, Prior)

POSTERIOR_MEANS = [np.full((2, 3), 0.3), np.array([-0.2, 0.1])]
POSTERIOR_SIGMA = 0.5


class LaplacePrior(Prior):
    """A non-conjugate prior: standard Laplace on every element."""

    def log_pdf(self, obs):
        self.check_observation_shapes(obs)
        return mx.nd.add_n(*[mx.nd.sum(-mx.nd.abs(value) - np.log(2.0)) for value in obs])


def _dense_network(ctx, in_units=3, classes=2):
    net = gluon.nn.Dense(classes, in_units=in_units)
    net.initialize(ctx=ctx)
    return FunctionalNetwork(net)


def _numpy_log_likelihood(sample, data, labels):
    logits = data @ sample[0].T + sample[1]
    return log_softmax(logits, axis=1)[np.arange(len(labels)), labels].sum()


class TinyCase:
    """Two posterior samples of a Dense(2) layer scored on two points."""

    def __init__(self, ctx):
        network = _dense_network(ctx)
        self.posterior = GaussianVariationalPosterior(
            [np.array([[0.3]]), np.array([-0.2, 0.1])], [np.array([[POSTERIOR_SIGMA]])],
            network.shapes, ctx)
        self.data = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]], dtype=np.float32)
        self.labels = np.array([1, 0])
        self.samples = [self.posterior.generate_sample() for _ in range(2)]
        self.outputs = [network(mx.nd.array(self.data, ctx=ctx), sample)
                        for sample in self.samples]

    def loss(self, prior, kl_weight):
        bnn_loss = BNNLoss(prior, Categorical(prior.ctx), self.posterior)
        return bnn_loss(self.outputs, mx.nd.array(self.labels), self.samples, kl_weight)

    def numpy_samples(self):
        return [[value.asnumpy() for value in sample] for sample in self.samples]

    def mean_negative_log_likelihood(self):
        return -np.mean([_numpy_log_likelihood(sample, self.data, self.labels)
                         for sample in self.numpy_samples()])


@pytest.fixture
def tiny_case(ctx):
    return TinyCase(ctx)


def test_is_a_gluon_loss(ctx):
    prior = GaussianPrior([np.zeros(1)], [np.ones(1)], [(2,)], ctx)
    posterior = GaussianVariationalPosterior([np.zeros(1)], [np.ones(1)], [(2,)], ctx)

    assert isinstance(BNNLoss(prior, Categorical(ctx), posterior), gluon.loss.Loss)


def test_conjugate_value_uses_the_closed_form_kl(ctx, tiny_case):
    prior = GaussianPrior([np.array([[0.0]])], [np.array([[2.0]])], tiny_case.posterior.shapes,
                          ctx)

    loss = tiny_case.loss(prior, 0.25)

    kl = sum(np.sum(np.log(2.0 / POSTERIOR_SIGMA) + (POSTERIOR_SIGMA ** 2 + mean ** 2)
                    / (2 * 2.0 ** 2) - 0.5) for mean in POSTERIOR_MEANS)
    assert loss.shape == (1,)
    np.testing.assert_allclose(loss.asnumpy(), [tiny_case.mean_negative_log_likelihood()
                                                + 0.25 * kl], rtol=1e-5, atol=1e-5)


def test_non_conjugate_value_averages_log_ratios_over_samples(ctx, tiny_case):
    prior = LaplacePrior(tiny_case.posterior.shapes, ctx)

    loss = tiny_case.loss(prior, 0.5)

    log_ratios = [sum(norm.logpdf(value, mean, POSTERIOR_SIGMA).sum() - laplace.logpdf(value).sum()
                      for value, mean in zip(sample, POSTERIOR_MEANS))
                  for sample in tiny_case.numpy_samples()]
    np.testing.assert_allclose(loss.asnumpy(), [tiny_case.mean_negative_log_likelihood()
                                                + 0.5 * np.mean(log_ratios)],
                               rtol=1e-5, atol=1e-5)


def test_zero_kl_weight_leaves_the_negative_log_likelihood(ctx, tiny_case):
    prior = GaussianPrior([np.zeros(1)], [np.ones(1)], tiny_case.posterior.shapes, ctx)

    loss = tiny_case.loss(prior, 0.0)

    np.testing.assert_allclose(loss.asnumpy(), [tiny_case.mean_negative_log_likelihood()],
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('outputs, samples', [(2, 1), (0, 0)])
def test_outputs_and_samples_must_pair_up(ctx, tiny_case, outputs, samples):
    prior = GaussianPrior([np.zeros(1)], [np.ones(1)], tiny_case.posterior.shapes, ctx)
    bnn_loss = BNNLoss(prior, Categorical(ctx), tiny_case.posterior)

    with pytest.raises(ValueError, match='Expected one output per posterior sample, got {} '
                                         'outputs and {} samples'.format(outputs, samples)):
        bnn_loss(tiny_case.outputs[:outputs], mx.nd.array(tiny_case.labels),
                 tiny_case.samples[:samples])


def _separable_data(ctx):
    centres = np.array([[2.0, 2.0], [-2.0, -2.0]])
    labels = np.repeat([0, 1], 20)
    data = centres[labels] + 0.5 * np.random.randn(40, 2)
    return mx.nd.array(data, ctx=ctx), mx.nd.array(labels, ctx=ctx)


def _negative_elbo(bnn_loss, network, data, labels, num_samples):
    samples = [bnn_loss.var_posterior.generate_sample() for _ in range(num_samples)]
    return bnn_loss([network(data, sample) for sample in samples], labels, samples)


@pytest.mark.parametrize('prior_class', [GaussianPrior, LaplacePrior])
def test_training_a_bayesian_dense_layer_lowers_the_loss(ctx, prior_class):
    data, labels = _separable_data(ctx)
    network = _dense_network(ctx, in_units=2)
    prior = (GaussianPrior([np.array([[0.0]])], [np.array([[1.0]])], network.shapes, ctx)
             if prior_class is GaussianPrior else LaplacePrior(network.shapes, ctx))
    posterior = GaussianVariationalPosterior([np.array([[0.0]])], [np.array([[0.1]])],
                                             network.shapes, ctx)
    bnn_loss = BNNLoss(prior, Categorical(ctx), posterior)
    trainer = gluon.Trainer(posterior.trainable_params(), 'adam', {'learning_rate': 0.05})
    initial = _negative_elbo(bnn_loss, network, data, labels, 20).asnumpy().item()

    for _ in range(30):
        with autograd.record():
            loss = _negative_elbo(bnn_loss, network, data, labels, 2)
        loss.backward()
        trainer.step(1)

    assert _negative_elbo(bnn_loss, network, data, labels, 20).asnumpy().item() < 0.5 * initial
    predictions = network(data, posterior.get_mean()).argmax(axis=1)
    assert (predictions == labels).mean().asnumpy().item() == 1.0
