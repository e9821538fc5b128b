"""Tests of GaussianVariationalPosterior: sampling, gradients, KL, density and persistence."""
import json
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd
from scipy.stats import kstest, norm

from xfer.prob import (Categorical, GaussianPrior, GaussianVariationalPosterior, Prior,
                       VariationalPosterior)

SHAPES = [(2, 3), (3,)]
RNG = np.random.RandomState(7)
MEANS = [RNG.randn(*shape) for shape in SHAPES]
SIGMAS = [RNG.rand(*shape) + 0.2 for shape in SHAPES]


class FlatPrior(Prior):
    """A non-Gaussian prior: improper and constant."""

    def log_pdf(self, obs):
        return mx.nd.zeros((1,), ctx=self.ctx)


def _posterior(ctx, **kwargs):
    return GaussianVariationalPosterior(MEANS, SIGMAS, SHAPES, ctx, **kwargs)


def _numpy_kl(means_q, sigmas_q, means_p, sigmas_p):
    return sum(np.sum(np.log(sp / sq) + (sq ** 2 + (mq - mp) ** 2) / (2 * sp ** 2) - 0.5)
               for mq, sq, mp, sp in zip(means_q, sigmas_q, means_p, sigmas_p))


def test_is_a_variational_posterior_trained_by_default(ctx):
    posterior = _posterior(ctx)

    assert isinstance(posterior, VariationalPosterior)
    assert posterior.trainable_params() == posterior.raw_params
    assert len(posterior.raw_params) == 2


def test_mean_and_sigma_are_the_initial_values(ctx):
    posterior = _posterior(ctx)

    for mean, expected in zip(posterior.get_mean(), MEANS):
        np.testing.assert_allclose(mean.asnumpy(), expected, rtol=1e-6)
    for sigma, expected in zip(posterior.get_sigma(), SIGMAS):
        np.testing.assert_allclose(sigma.asnumpy(), expected, rtol=1e-5)


def test_samples_have_the_posterior_mean_and_sigma(ctx):
    posterior = _posterior(ctx)

    draws = [posterior.generate_sample() for _ in range(500)]

    for index, (mean, sigma) in enumerate(zip(MEANS, SIGMAS)):
        values = np.stack([sample[index].asnumpy() for sample in draws])
        assert values.shape[1:] == mean.shape
        np.testing.assert_allclose(values.mean(axis=0), mean, atol=4 * sigma.max() / np.sqrt(500))
        np.testing.assert_allclose(values.std(axis=0), sigma, rtol=0.15)


def test_one_large_sample_is_standard_normal_after_standardising(ctx):
    means, sigmas = [RNG.randn(400, 250)], [RNG.rand(400, 250) + 0.1]
    posterior = GaussianVariationalPosterior(means, sigmas, [(400, 250)], ctx)

    residuals = (posterior.generate_sample()[0].asnumpy() - means[0]) / sigmas[0]

    assert abs(residuals.mean()) < 0.01
    assert abs(residuals.std() - 1.0) < 0.01
    assert kstest(residuals.ravel(), 'norm').pvalue > 0.001


def test_gradients_reach_means_and_rhos_through_a_sample(ctx):
    posterior = _posterior(ctx)

    with autograd.record():
        sample = posterior.generate_sample()
        total = mx.nd.add_n(*[mx.nd.sum(value) for value in sample])
    total.backward()

    noise = np.concatenate([((value.asnumpy() - mean) / sigma).ravel()
                            for value, mean, sigma in zip(sample, MEANS, SIGMAS)])
    rho = posterior.gaussian.rho_param.data().asnumpy()
    np.testing.assert_allclose(posterior.gaussian.mean_param.grad().asnumpy(),
                               np.ones(noise.shape))
    np.testing.assert_allclose(posterior.gaussian.rho_param.grad().asnumpy(),
                               noise / (1 + np.exp(-rho)), rtol=1e-3, atol=1e-4)


def test_fixed_means_get_no_gradient(ctx):
    posterior = _posterior(ctx, fix_means=True)

    with autograd.record():
        total = mx.nd.sum(posterior.generate_sample()[0])
    total.backward()

    assert posterior.gaussian.mean_param.grad_req == 'null'
    assert posterior.trainable_params() == [posterior.gaussian.rho_param]
    assert np.abs(posterior.gaussian.rho_param.grad().asnumpy()).sum() > 0


def test_fixed_posterior_has_nothing_to_train(ctx):
    posterior = _posterior(ctx, fix_means=True, fix_sigmas=True)

    assert posterior.trainable_params() == []
    assert all(param.grad_req == 'null' for param in posterior.raw_params)


def test_log_pdf_matches_scipy(ctx):
    posterior = _posterior(ctx)
    values = [RNG.randn(*shape).astype(np.float32) for shape in SHAPES]

    log_pdf = posterior.log_pdf([mx.nd.array(value, ctx=ctx) for value in values])

    expected = sum(norm.logpdf(value, mean, sigma).sum()
                   for value, mean, sigma in zip(values, MEANS, SIGMAS))
    np.testing.assert_allclose(log_pdf.asnumpy(), [expected], rtol=1e-5)


@pytest.mark.parametrize('prior_means, prior_sigmas', [
    ([np.array([[0.0]])], [np.array([[1.5]])]),
    ([RNG.randn(*shape) for shape in SHAPES], [RNG.rand(*shape) + 0.5 for shape in SHAPES]),
])
def test_kl_against_a_prior_matches_the_closed_form(ctx, prior_means, prior_sigmas):
    prior = GaussianPrior(prior_means, prior_sigmas, SHAPES, ctx)

    kl = _posterior(ctx).KL(prior)

    full_means = [np.broadcast_to(prior_means[index % len(prior_means)].squeeze(), shape)
                  for index, shape in enumerate(SHAPES)]
    full_sigmas = [np.broadcast_to(prior_sigmas[index % len(prior_sigmas)].squeeze(), shape)
                   for index, shape in enumerate(SHAPES)]
    assert kl.shape == (1,)
    np.testing.assert_allclose(kl.asnumpy(), [_numpy_kl(MEANS, SIGMAS, full_means, full_sigmas)],
                               rtol=1e-5)


def test_kl_between_posteriors_matches_the_closed_form(ctx):
    other_means = [mean + 1.0 for mean in MEANS]
    other_sigmas = [sigma * 2.0 for sigma in SIGMAS]
    other = GaussianVariationalPosterior(other_means, other_sigmas, SHAPES, ctx)

    kl = _posterior(ctx).KL(other)

    np.testing.assert_allclose(kl.asnumpy(), [_numpy_kl(MEANS, SIGMAS, other_means, other_sigmas)],
                               rtol=1e-5)


def test_kl_of_identical_gaussians_is_zero(ctx):
    posterior = _posterior(ctx)

    assert posterior.KL(GaussianPrior(MEANS, SIGMAS, SHAPES, ctx)).asnumpy()[0] == 0.0
    assert posterior.KL(posterior).asnumpy()[0] == 0.0


def test_kl_needs_a_gaussian(ctx):
    with pytest.raises(TypeError, match='Closed-form KL needs a GaussianPrior or '
                                        'GaussianVariationalPosterior, got Categorical'):
        _posterior(ctx).KL(Categorical(ctx))


def test_kl_needs_equal_shapes(ctx):
    prior = GaussianPrior([np.zeros(1)], [np.ones(1)], [(2, 3)], ctx)

    with pytest.raises(ValueError, match=r'KL needs equal shapes, got \[\(2, 3\), \(3,\)\] and '
                                         r'\[\(2, 3\)\]'):
        _posterior(ctx).KL(prior)


def test_only_a_gaussian_prior_is_conjugate(ctx):
    posterior = _posterior(ctx)

    assert posterior.is_conjugate(GaussianPrior([np.zeros(1)], [np.ones(1)], SHAPES, ctx))
    assert not posterior.is_conjugate(FlatPrior(SHAPES, ctx))


def test_bad_initial_values_are_named(ctx):
    with pytest.raises(ValueError, match=r'sigma_init\[0\] must be finite and positive'):
        GaussianVariationalPosterior(MEANS, [np.array([np.inf])], SHAPES, ctx)
    with pytest.raises(ValueError, match=r'mean_init holds 3 arrays'):
        GaussianVariationalPosterior((MEANS * 2)[:3], SIGMAS, SHAPES, ctx)


class TestSaveLoad:
    """Persistence as ``<name>.json`` plus ``<name>_params.npz``."""

    @pytest.fixture
    def saved(self, ctx, tmp_path):
        posterior = _posterior(ctx, fix_sigmas=True)
        with autograd.record():
            total = mx.nd.add_n(*[mx.nd.sum(value) for value in posterior.generate_sample()])
        total.backward()
        mx.gluon.Trainer(posterior.trainable_params(), 'sgd', {'learning_rate': 0.1}).step(1)
        filename = str(tmp_path / 'model_posterior')
        posterior.save(filename)
        return posterior, filename

    def test_writes_json_and_npz(self, saved):
        _, filename = saved

        with open(filename + '.json') as json_file:
            description = json.load(json_file)
        assert description == {'class': 'GaussianVariationalPosterior',
                               'shapes': [[2, 3], [3]], 'fix_means': False, 'fix_sigmas': True}
        assert os.path.isfile(filename + '_params.npz')

    def test_round_trip_is_exact(self, saved, ctx):
        posterior, filename = saved

        loaded = GaussianVariationalPosterior.load(filename, ctx)

        assert loaded.shapes == posterior.shapes
        assert (loaded.fix_means, loaded.fix_sigmas) == (False, True)
        assert [param.grad_req for param in loaded.raw_params] == \
            [param.grad_req for param in posterior.raw_params]
        for original, copy in zip(posterior.raw_params, loaded.raw_params):
            np.testing.assert_array_equal(copy.data().asnumpy(), original.data().asnumpy())
        for original, copy in zip(posterior.get_sigma(), loaded.get_sigma()):
            np.testing.assert_array_equal(copy.asnumpy(), original.asnumpy())

    def test_load_defaults_to_the_current_context(self, saved, ctx):
        _, filename = saved

        with ctx:
            loaded = GaussianVariationalPosterior.load(filename)

        assert loaded.ctx == ctx
        assert loaded.get_mean()[0].context == ctx

    @pytest.mark.parametrize('suffix', ['.json', '_params.npz'])
    def test_missing_file_is_named(self, saved, suffix):
        _, filename = saved
        os.remove(filename + suffix)

        message = 'Posterior file .*model_posterior{} does not exist'.format(suffix)
        with pytest.raises(FileNotFoundError, match=message):
            GaussianVariationalPosterior.load(filename)

    def test_truncated_json_is_named(self, saved):
        _, filename = saved
        with open(filename + '.json') as json_file:
            text = json_file.read()
        with open(filename + '.json', 'w') as json_file:
            json_file.write(text[:len(text) // 2])

        with pytest.raises(ValueError, match=r'model_posterior.json: not valid JSON \(truncated or edited\?\)'):
            GaussianVariationalPosterior.load(filename)

    @pytest.mark.parametrize('change, message', [
        ({'class': 'GaussianPrior'},
         'describes a GaussianPrior, not a GaussianVariationalPosterior'),
        ({'fix_means': 'no'}, r'must hold an object with class \(str\), shapes \(list\)'),
        ({'shapes': [[2, -3], [3]]}, r'has malformed shapes \[\[2, -3\], \[3\]\]'),
        ({'shapes': []}, r'has malformed shapes \[\]'),
    ])
    def test_tampered_json_is_named(self, saved, change, message):
        _, filename = saved
        with open(filename + '.json') as json_file:
            description = json.load(json_file)
        with open(filename + '.json', 'w') as json_file:
            json.dump(dict(description, **change), json_file)

        with pytest.raises(ValueError, match='Posterior file .*model_posterior.json ' + message):
            GaussianVariationalPosterior.load(filename)

    @pytest.mark.parametrize('bad_array, message', [
        (np.zeros((4,), dtype=np.float32), r'array rho_1 has shape \(4,\), expected \(3,\)'),
        (np.array([0.0, np.nan, 1.0]), 'array rho_1 must hold finite floats'),
        (np.array(['a', 'b', 'c']), "'rho_1' has dtype <U1, not a numeric one"),
    ])
    def test_bad_array_is_named(self, saved, bad_array, message):
        _, filename = saved
        with np.load(filename + '_params.npz') as npz:
            arrays = dict(npz)
        arrays['rho_1'] = bad_array
        np.savez(filename + '_params.npz', **arrays)

        with pytest.raises(ValueError, match='model_posterior_params.npz: ' + message):
            GaussianVariationalPosterior.load(filename)

    def test_missing_array_is_named(self, saved):
        _, filename = saved
        with np.load(filename + '_params.npz') as npz:
            arrays = {key: npz[key] for key in npz.files if key != 'mean_0'}
        np.savez(filename + '_params.npz', **arrays)

        with pytest.raises(ValueError, match="model_posterior_params.npz: the array 'mean_0' is missing"):
            GaussianVariationalPosterior.load(filename)

    def test_corrupt_npz_is_named(self, saved):
        _, filename = saved
        with open(filename + '_params.npz', 'wb') as npz_file:
            npz_file.write(b'PK\x03\x04 not really a zip')

        with pytest.raises(ValueError, match=r'model_posterior_params.npz: not a readable .npz file \(truncated or '
                                             r'edited\?\)'):
            GaussianVariationalPosterior.load(filename)
