"""One-vs-rest GPy classifiers that share one kernel, whose hyperparameters are fitted jointly.

This module imports GPy, so xfer imports it only when a Gaussian process is trained or loaded.

Why it is fast: the original Xfer optimised every one-vs-rest classifier on its own, with GPy's
defaults (kernel *and* 100 inducing inputs optimised, sequential EP). Here all classifiers share
the kernel hyperparameters and fixed inducing inputs, so one optimisation serves every class and
the kernel matrices of an objective evaluation are computed once for all of them; EP updates its
sites in parallel (one posterior update per sweep instead of one Cholesky factorisation per
training point). See ``benchmarks/gp_speed.py``.
"""
from collections import namedtuple

import GPy
import numpy as np
from GPy.inference.latent_function_inference import EPDTC
from GPy.inference.latent_function_inference.expectation_propagation import (
    gaussianApproximation, posteriorParamsDTC)
from scipy.optimize import minimize
from scipy.spatial.distance import pdist
from scipy.stats import norm
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits
from tqdm import tqdm

#: More training points than this and the GP is sparse, with this many inducing inputs.
NUM_INDUCING = 100
#: Damping of the parallel EP updates: undamped, they can oscillate when the kernel variance is large.
EP_DAMPING = 0.7
#: Most EP sweeps over the training points per EP run.
EP_MAX_SWEEPS = 100
#: EP stops when the site parameters change by less than this (mean squared change); GPy's 1e-6 costs
#: twice the sweeps for the same accuracy.
EP_TOLERANCE = 1e-4
#: Alternation stops once a round of kernel optimisation improves the objective by less than this fraction.
ROUND_TOLERANCE = 0.01
#: Each hyperparameter stays within this factor of its initial value, which keeps kernel matrices well conditioned.
MAX_PARAMETER_FACTOR = 1e4
#: Rows sampled to set the initial lengthscales (median pairwise distance).
LENGTHSCALE_SAMPLE_SIZE = 500
#: Standard deviation of the log-normal prior on each hyperparameter, centred on its initial value. With a few
#: labelled examples the marginal likelihood alone over-fits the kernel; the prior keeps it near the heuristic
#: unless the data say otherwise (see benchmarks/transfer_quality.py).
LOG_PARAMETER_PRIOR_SCALE = 0.5
_SEED = 0
#: Floor on a cavity's precision: EP sites may have negative precision, which can leave a cavity without one.
_MIN_CAVITY_PRECISION = 1e-10
_KERNEL_GRADIENT_KEYS = ('dL_dKdiag', 'dL_dKnm', 'dL_dKmm')

EpSites = namedtuple('EpSites', ['site_natural_means', 'site_precisions', 'posterior_means', 'posterior_variances',
                                 'log_z_tilde'])
EpSites.__doc__ = """The EP approximation of one classifier: with the kernel it fixes the posterior exactly.

Attributes
----------
site_natural_means, site_precisions : np.ndarray, shape (n_samples,)
    The Gaussian site parameters (``v`` and ``tau`` in Rasmussen & Williams' notation).
posterior_means, posterior_variances : np.ndarray, shape (n_samples,)
    The marginals of the approximate posterior at the training points.
log_z_tilde : float
    EP's correction to the Gaussian log marginal likelihood.
"""


class SharedKernelGpTrainer:
    """Fit one sparse GP classifier (GPy, Bernoulli likelihood, EP) per column of ``targets``.

    The classifiers share one kernel, a sum of RBF kernels (one per feature layer, on that
    layer's columns), and one set of inducing inputs: the k-means centres of the inputs, or
    all inputs when there are at most :data:`NUM_INDUCING` (which makes the sparse GP exact).
    Training alternates, as GPy's ``ep_mode='alternated'`` does, between running EP for every
    classifier and optimising the kernel hyperparameters (L-BFGS-B on their logarithms) on
    the *sum* of the classifiers' negative log marginal likelihoods with the EP sites held
    fixed, plus a log-normal prior (:data:`LOG_PARAMETER_PRIOR_SCALE`) centred on the initial
    values: a MAP estimate, which the likelihood dominates once there are many examples. It
    stops when a round improves that objective by less than :data:`ROUND_TOLERANCE` or when
    ``max_function_evaluations`` are spent; a final EP run fits the sites to the final kernel.

    Parameters
    ----------
    inputs : np.ndarray, shape (n_samples, n_features)
        Preprocessed (e.g. centred) training features.
    targets : np.ndarray, shape (n_samples, n_classifiers)
        One 0/1 column per classifier.
    feature_indices_per_layer : OrderedDict of str to array of int
        The columns of each feature layer; each layer gets its own RBF kernel.
    max_function_evaluations : int
        Budget of objective evaluations over all rounds.

    Attributes
    ----------
    history : list of list of float
        Per round, the objective (summed negative log marginal likelihood plus the prior's penalty)
        at each objective evaluation.
    """

    def __init__(self, inputs, targets, feature_indices_per_layer, max_function_evaluations):
        self.inputs = inputs
        self.targets = targets
        self.max_function_evaluations = max_function_evaluations
        self.inducing_inputs = choose_inducing_inputs(inputs)
        self.kernel = build_kernel(feature_indices_per_layer, _initial_lengthscales(inputs, feature_indices_per_layer))
        self.initial_parameters = self.kernel.param_array.copy()
        self.history = []

    def train(self):
        """The trained classifiers, one per column of ``targets``.

        BLAS and OpenMP run on one thread meanwhile: the work is many small factorisations, which extra
        threads do not speed up but, on a busy machine, slow down several times.
        """
        with threadpool_limits(limits=1), tqdm(
                total=self.max_function_evaluations, desc='GP kernel optimisation', unit='evaluation',
                disable=None) as progress:
            classifiers = self._build_classifiers(progress)
            log_factors = np.zeros(self.kernel.size)
            while self._evaluations() < self.max_function_evaluations:
                log_factors = self._optimise_round(classifiers, log_factors, progress)
                self._rerun_ep(classifiers, progress)
                if self._round_improvement() < ROUND_TOLERANCE:
                    break
        return classifiers

    def _build_classifiers(self, progress):
        classifiers = []
        for index, target in enumerate(self.targets.T):
            progress.set_postfix_str('EP for classifier {} of {}'.format(index + 1, self.targets.shape[1]))
            classifiers.append(build_classifier(self.inputs, target, self.kernel.copy(), self.inducing_inputs))
        return classifiers

    def _optimise_round(self, classifiers, log_factors, progress):
        """One L-BFGS-B run on the shared hyperparameters, EP sites fixed; returns the best log factors."""
        self.history.append([])
        best = {'value': np.inf, 'log_factors': log_factors}

        def objective(candidate):
            if self._evaluations() >= self.max_function_evaluations:
                raise _BudgetSpent
            value, gradient = self._summed_objective(classifiers, candidate)
            self.history[-1].append(float(value))
            if value < best['value']:
                best.update(value=value, log_factors=candidate.copy())
            progress.update(1)
            progress.set_postfix(round=len(self.history), objective='{:.4g}'.format(value))
            return value, gradient

        bound = np.log(MAX_PARAMETER_FACTOR)
        try:
            minimize(objective, log_factors, jac=True, method='L-BFGS-B', bounds=[(-bound, bound)] * self.kernel.size)
        except _BudgetSpent:
            pass
        self.kernel[:] = self.initial_parameters * np.exp(best['log_factors'])
        return best['log_factors']

    def _summed_objective(self, classifiers, log_factors):
        """Sum over classifiers of the negative log marginal likelihood, and its gradient in log factors."""
        self.kernel[:] = self.initial_parameters * np.exp(log_factors)
        diagonal = self.kernel.Kdiag(self.inputs)
        cross = self.kernel.K(self.inputs, self.inducing_inputs)
        value, sums = 0.0, dict.fromkeys(_KERNEL_GRADIENT_KEYS, 0.0)
        for classifier in classifiers:
            _, log_marginal, gradients = classifier.inference_method.inference(
                self.kernel, self.inputs, self.inducing_inputs, classifier.likelihood, classifier.Y,
                psi0=diagonal, psi1=cross)
            value -= log_marginal
            for key in _KERNEL_GRADIENT_KEYS:
                sums[key] = sums[key] + gradients[key]
        prior_value, prior_gradient = _log_normal_penalty(log_factors)
        return value + prior_value, -self._kernel_gradient(sums) * self.kernel.param_array + prior_gradient

    def _kernel_gradient(self, sums):
        """Gradient of the summed log marginal likelihood in the kernel parameters (Z held fixed)."""
        self.kernel.update_gradients_diag(sums['dL_dKdiag'], self.inputs)
        gradient = self.kernel.gradient.copy()
        self.kernel.update_gradients_full(sums['dL_dKnm'], self.inputs, self.inducing_inputs)
        gradient += self.kernel.gradient
        self.kernel.update_gradients_full(sums['dL_dKmm'], self.inducing_inputs)
        return gradient + self.kernel.gradient

    def _rerun_ep(self, classifiers, progress):
        """Give every classifier the shared kernel's values and fit its EP sites to them (warm-started)."""
        for index, classifier in enumerate(classifiers):
            progress.set_postfix_str('EP for classifier {} of {}'.format(index + 1, len(classifiers)))
            classifier.inference_method.on_optimization_start()  # forget the sites, keep them as the warm start
            classifier.kern[:] = self.kernel.param_array  # triggers inference, hence EP

    def _evaluations(self):
        return sum(len(evaluations) for evaluations in self.history)

    def _round_improvement(self):
        evaluations = self.history[-1]
        return (evaluations[0] - min(evaluations)) / abs(evaluations[0])


def _log_normal_penalty(log_factors):
    """Negative log density (up to a constant) of the hyperparameters' log-normal prior, and its gradient."""
    scaled = log_factors / LOG_PARAMETER_PRIOR_SCALE ** 2
    return 0.5 * float(np.dot(scaled, log_factors)), scaled


class _BudgetSpent(Exception):
    """Raised inside the objective to stop L-BFGS-B once ``max_function_evaluations`` are spent."""


def build_kernel(feature_indices_per_layer, lengthscales):
    """A sum of RBF kernels (variance 1), one per layer on that layer's columns, named after the layer."""
    parts = [GPy.kern.RBF(len(indices), lengthscale=lengthscale, active_dims=np.asarray(indices), name=layer)
             for (layer, indices), lengthscale in zip(feature_indices_per_layer.items(), lengthscales)]
    return parts[0] if len(parts) == 1 else GPy.kern.Add(parts)


def build_classifier(inputs, target, kernel, inducing_inputs, sites=None):
    """A GPy sparse GP classifier with parallel, damped EP; given ``sites``, it uses them instead of running EP.

    The posterior is computed on one thread, as in training, so a classifier rebuilt from saved
    sites equals the trained one bit for bit.
    """
    inference = EPDTC(epsilon=EP_TOLERANCE, delta=EP_DAMPING, max_iters=EP_MAX_SWEEPS, parallel_updates=True)
    if sites is not None:
        _set_sites(inference, sites)
    with threadpool_limits(limits=1):
        return GPy.models.SparseGPClassification(inputs, target.reshape(-1, 1).astype(np.float64), kernel=kernel,
                                                 Z=inducing_inputs, inference_method=inference)


def ep_sites(classifier):
    """The :class:`EpSites` of a trained classifier."""
    posterior, sites, log_z_tilde = classifier.inference_method._ep_approximation
    return EpSites(sites.v, sites.tau, posterior.mu, posterior.Sigma_diag, float(log_z_tilde))


def leave_one_out_probabilities(sites):
    """EP's leave-one-out predictive probability that each training point's target is 1.

    Removing a point's site from the EP posterior leaves its cavity distribution, EP's
    approximation of the latent value predicted from all the other points (Rasmussen &
    Williams, section 3.6.3); the probit of that Gaussian, integrated, is the prediction.
    """
    precision = np.maximum(1 / sites.posterior_variances - sites.site_precisions, _MIN_CAVITY_PRECISION)
    mean = (sites.posterior_means / sites.posterior_variances - sites.site_natural_means) / precision
    return norm.cdf(mean / np.sqrt(1 + 1 / precision))


def _set_sites(inference, sites):
    """Install saved sites as GPy's own deserialisation does, so inference reuses them instead of running EP."""
    def gaussian_sites():
        return gaussianApproximation(sites.site_natural_means.copy(), sites.site_precisions.copy())

    posterior = posteriorParamsDTC(sites.posterior_means.copy(), sites.posterior_variances.copy())
    inference._ep_approximation = (posterior, gaussian_sites(), sites.log_z_tilde)
    inference.ga_approx_old = gaussian_sites()  # the warm start, should EP run again


def choose_inducing_inputs(inputs):
    """All inputs when there are at most :data:`NUM_INDUCING`, else that many k-means centres (seeded)."""
    if len(inputs) <= NUM_INDUCING:
        return inputs.copy()
    return KMeans(NUM_INDUCING, n_init=1, random_state=_SEED).fit(inputs).cluster_centers_


def _initial_lengthscales(inputs, feature_indices_per_layer):
    """Per layer, the median pairwise distance of a sample of rows: a scale-free starting point."""
    rows = np.random.default_rng(_SEED).permutation(len(inputs))[:LENGTHSCALE_SAMPLE_SIZE]
    medians = [np.median(pdist(inputs[np.ix_(rows, indices)])) for indices in feature_indices_per_layer.values()]
    return [median if median > 0 else 1.0 for median in medians]
