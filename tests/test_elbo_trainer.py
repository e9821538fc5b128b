"""ElboTrainer: its fused objective equals xfer.prob's BNNLoss, and an epoch adds up to the annealed negative ELBO."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd
from scipy.special import log_softmax

from xfer import elbo_trainer
from xfer.elbo_trainer import ElboTrainer, negative_elbo
from xfer.prob import BNNLoss, Categorical, FunctionalNetwork, GaussianPrior, GaussianVariationalPosterior
from xfer.sampled_mlp import SampledMlp, compile_graph, flatten_concat

CTX = mx.cpu()


def _model():
    return SampledMlp(n_in=4, n_classes=3, num_layers=1, n_hidden=5)


def _prior(model):
    return GaussianPrior([np.array([[0.5]])], [np.array([[2.0]])], model.shapes, CTX)


def _posterior(model, sigma=0.3):
    means = [np.random.default_rng(index).normal(size=shape) for index, shape in enumerate(model.shapes)]
    return GaussianVariationalPosterior(means, [np.array([[sigma]])], model.shapes, CTX)


def _data(num_rows=6):
    rng = np.random.default_rng(1)
    return rng.normal(size=(num_rows, 4)).astype(np.float32), rng.integers(0, 3, num_rows)


def _gradients(posterior):
    return [param.grad(CTX).asnumpy().copy() for param in posterior.raw_params]


def test_the_fused_objective_and_its_gradients_equal_bnn_loss_on_the_same_samples():
    model = _model()
    prior, posterior = _prior(model), _posterior(model)
    data, labels = _data()
    noise = np.random.default_rng(2).standard_normal((2, model.num_params)).astype(np.float32)
    mean, rho = [param.data(CTX) for param in posterior.raw_params]
    objective = compile_graph(negative_elbo(model))

    with autograd.record():
        fused = objective(data=mx.nd.array(data), label=mx.nd.array(labels), mean=mean, rho=rho,
                          noise=mx.nd.array(noise), kl_weight=mx.nd.array([0.25]),
                          prior_mean=flatten_concat(prior.get_mean()), prior_sigma=flatten_concat(prior.get_sigma()))
    fused.backward()
    fused_gradients = _gradients(posterior)

    network = model.gluon_network()
    network.initialize(ctx=CTX)
    twin = FunctionalNetwork(network)
    with autograd.record():
        samples = [[m + s * e for m, s, e in zip(posterior.get_mean(), posterior.get_sigma(), _split(row, model))]
                   for row in noise]
        outputs = [twin(mx.nd.array(data), sample) for sample in samples]
        reference = BNNLoss(prior, Categorical(CTX), posterior)(outputs, mx.nd.array(labels), samples, 0.25)
    reference.backward()

    np.testing.assert_allclose(fused.asnumpy(), reference.asnumpy(), rtol=1e-5)
    for fused_gradient, reference_gradient in zip(fused_gradients, _gradients(posterior)):
        np.testing.assert_allclose(fused_gradient, reference_gradient, rtol=1e-4, atol=1e-5)


def _split(flat, model):
    pieces = np.split(flat, np.cumsum([int(np.prod(shape)) for shape in model.shapes])[:-1])
    return [mx.nd.array(piece.reshape(shape)) for piece, shape in zip(pieces, model.shapes)]


def _mean_network_log_likelihood(posterior, data, labels):
    weights = [array.asnumpy() for array in posterior.get_mean()]
    hidden = np.maximum(data @ weights[0].T + weights[1], 0)
    return log_softmax(hidden @ weights[2].T + weights[3], axis=1)[np.arange(len(labels)), labels].sum()


@pytest.mark.parametrize('batch_size', [7, 3, 1])
def test_an_epoch_adds_up_to_the_negative_elbo_with_the_kl_counted_once(batch_size):
    # A near-certain posterior and a vanishing learning rate: every sample is the mean network, nothing moves.
    model = _model()
    prior, posterior = _prior(model), _posterior(model, sigma=1e-6)
    data, labels = _data(num_rows=7)
    trainer = ElboTrainer(model, prior, posterior, num_samples_mc=2, learning_rate=1e-12, batch_size=batch_size,
                          ctx=CTX)

    epoch_loss = trainer.run_epoch(mx.nd.array(data), mx.nd.array(labels), kl_weight=0.4)

    expected = 0.4 * posterior.KL(prior).asscalar() - _mean_network_log_likelihood(posterior, data, labels)
    np.testing.assert_allclose(epoch_loss.asscalar(), expected, rtol=1e-4)


def test_training_fits_separable_data():
    mx.random.seed(0)
    model = SampledMlp(n_in=2, n_classes=2, num_layers=1, n_hidden=8)
    labels = np.repeat([0, 1], 20)
    data = np.array([[2.0, 2.0], [-2.0, -2.0]])[labels] + 0.5 * np.random.default_rng(0).normal(size=(40, 2))
    prior = GaussianPrior([np.zeros((1, 1))], [np.ones((1, 1))], model.shapes, CTX)
    posterior = _posterior(model, sigma=0.01)
    trainer = ElboTrainer(model, prior, posterior, num_samples_mc=3, learning_rate=0.05, batch_size=10, ctx=CTX)
    data_array, label_array = mx.nd.array(data), mx.nd.array(labels)

    losses = [trainer.run_epoch(data_array, label_array, kl_weight=1.0).asscalar() for _ in range(30)]

    assert losses[-1] < 0.5 * losses[0]
    assert np.all(np.argmax(_mean_logits(posterior, data), axis=1) == labels)


def _mean_logits(posterior, data):
    weights = [array.asnumpy() for array in posterior.get_mean()]
    return np.maximum(data @ weights[0].T + weights[1], 0) @ weights[2].T + weights[3]


def test_training_is_repeatable_under_an_mxnet_seed():
    data, labels = _data(num_rows=9)

    def train():
        mx.random.seed(11)
        model = _model()
        trainer = ElboTrainer(model, _prior(model), _posterior(model), 3, 0.01, 4, CTX)
        return [trainer.run_epoch(mx.nd.array(data), mx.nd.array(labels), 1.0).asscalar() for _ in range(3)]

    assert train() == train()


def test_noise_is_drawn_in_bounded_runs_one_array_per_batch(monkeypatch):
    model = _model()
    monkeypatch.setattr(elbo_trainer, '_MAX_NOISE', 2 * 3 * model.num_params)
    trainer = ElboTrainer(model, _prior(model), _posterior(model), 3, 0.01, 4, CTX)

    noise = list(trainer._noise_batches(5))

    assert [array.shape for array in noise] == [(3, model.num_params)] * 5
    assert len({float(array.sum().asscalar()) for array in noise}) == 5
