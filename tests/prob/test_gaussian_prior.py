"""Tests of GaussianPrior, including the shared Probability checks."""
import mxnet as mx
import numpy as np
import pytest
from scipy.stats import norm

from xfer.prob import GaussianPrior, Prior

RNG = np.random.RandomState(42)

LOG_PDF_CASES = {
    'one array per shape': (
        [(3,), (2, 3), (4, 1, 2)],
        [RNG.randn(3), RNG.randn(2, 3), RNG.randn(4, 1, 2)],
        [RNG.rand(3) + 0.1, RNG.rand(2, 3) + 0.1, RNG.rand(4, 1, 2) + 0.1]),
    'shared scalar': ([(5,), (2, 3)], [np.array([[0.5]])], [np.array([[2.0]])]),
    'shared row and column': ([(2, 3), (4, 3)], [np.arange(3.0)], [np.array([[0.7]])]),
    'column per shape': ([(2, 3)], [np.array([[1.0], [-1.0]])], [np.array([[0.5], [3.0]])]),
}


def _dense(value, shape):
    return np.broadcast_to(np.squeeze(value) if np.size(value) == 1 else value, shape)


def _expected_log_pdf(values, means, sigmas):
    if len(means) == 1:
        means, sigmas = means * len(values), sigmas * len(values)
    return sum(norm.logpdf(value, _dense(mean, value.shape), _dense(sigma, value.shape)).sum()
               for value, mean, sigma in zip(values, means, sigmas))


@pytest.mark.parametrize('shapes, means, sigmas', LOG_PDF_CASES.values(), ids=LOG_PDF_CASES)
def test_log_pdf_matches_scipy(ctx, shapes, means, sigmas):
    prior = GaussianPrior(means, sigmas, shapes, ctx)
    values = [RNG.randn(*shape).astype(np.float32) for shape in shapes]

    log_pdf = prior.log_pdf([mx.nd.array(value, ctx=ctx) for value in values])

    assert log_pdf.shape == (1,)
    np.testing.assert_allclose(log_pdf.asnumpy()[0],
                               _expected_log_pdf(values, means, sigmas), rtol=1e-5)


def test_parameters_take_broadcast_values(ctx):
    prior = GaussianPrior([np.array([[0.0]]), np.array([1.0, 2.0, 3.0])],
                          [np.array([100.0]), np.array([[1e-3]])], [(2, 2), (2, 3)], ctx)

    np.testing.assert_array_equal(prior.get_mean()[0].asnumpy(), np.zeros((2, 2)))
    np.testing.assert_array_equal(prior.get_mean()[1].asnumpy(), [[1, 2, 3], [1, 2, 3]])
    np.testing.assert_allclose(prior.get_sigma()[0].asnumpy(), np.full((2, 2), 100.0), rtol=1e-6)
    np.testing.assert_allclose(prior.get_sigma()[1].asnumpy(), np.full((2, 3), 1e-3), rtol=1e-4)


def test_is_a_prior_fixed_by_default(ctx):
    prior = GaussianPrior([np.zeros(1)], [np.ones(1)], [(2,), (3,)], ctx)

    assert isinstance(prior, Prior)
    assert len(prior.raw_params) == 2
    assert prior.trainable_params() == []


def test_unfixed_means_are_trainable(ctx):
    prior = GaussianPrior([np.zeros(1)], [np.ones(1)], [(2,), (3,)], ctx, fix_means=False)

    assert prior.trainable_params() == [prior.gaussian.mean_param]


def test_parameter_names_are_unique_across_instances(ctx):
    first = GaussianPrior([np.zeros(1)], [np.ones(1)], [(2,)], ctx)
    second = GaussianPrior([np.zeros(1)], [np.ones(1)], [(2,)], ctx)

    names = [param.name for param in first.raw_params + second.raw_params]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize('means, sigmas, error, message', [
    ([np.zeros(1)] * 3, [np.ones(1)], ValueError,
     r'means holds 3 arrays; give one per shape \(2\) or a single shared one'),
    ([np.zeros(1)], [np.ones((3,))], ValueError,
     r'sigmas\[0\] of shape \(3,\) cannot be broadcast to parameter shape \(2, 2\)'),
    ([np.zeros((2, 2, 2))], [np.ones(1)], ValueError,
     r'means\[0\] of shape \(2, 2, 2\) cannot be broadcast to parameter shape \(2, 2\)'),
    (np.zeros(1), [np.ones(1)], TypeError, 'means must be a list of numpy arrays, got ndarray'),
    ([np.zeros(1)], [np.ones(1), -np.ones(1)], ValueError,
     r'sigmas\[1\] must be finite and positive, got minimum -1.0'),
    ([np.zeros(1)], [np.zeros(1)], ValueError, r'sigmas\[0\] must be finite and positive'),
])
def test_bad_arguments_are_named(ctx, means, sigmas, error, message):
    with pytest.raises(error, match=message):
        GaussianPrior(means, sigmas, [(2, 2), (3,)], ctx)


def test_empty_shapes_are_rejected(ctx):
    with pytest.raises(ValueError, match='shapes must hold at least one parameter shape'):
        GaussianPrior([np.zeros(1)], [np.ones(1)], [], ctx)


def test_wrong_number_of_observations_is_named(ctx):
    prior = GaussianPrior([np.zeros(1)], [np.ones(1)], [(2,), (3,)], ctx)

    with pytest.raises(ValueError, match=r'Expected 2 observation arrays .* got 1'):
        prior.log_pdf([mx.nd.zeros((2,), ctx=ctx)])


def test_wrong_observation_shape_is_named(ctx):
    prior = GaussianPrior([np.zeros(1)], [np.ones(1)], [(2,), (3,)], ctx)

    with pytest.raises(ValueError, match=r'Observation 1 has shape \(3, 1\), expected \(3,\)'):
        prior.check_observation_shapes([mx.nd.zeros((2,)), mx.nd.zeros((3, 1))])
