"""Probabilistic building blocks for Bayesian neural networks trained by variational inference.

A prior and a variational posterior are distributions over a list of parameter tensors; a
likelihood scores labels given a network's outputs; :class:`BNNLoss` combines the three into
the negative ELBO, and :class:`FunctionalNetwork` runs a Gluon network on posterior samples.
"""
from .bnn_loss import BNNLoss
from .categorical import Categorical
from .functional_network import FunctionalNetwork
from .gaussian_prior import GaussianPrior
from .gaussian_variational_posterior import GaussianVariationalPosterior
from .likelihood import Likelihood
from .prior import Prior
from .probability import Probability
from .variational_posterior import VariationalPosterior

__all__ = ['Probability', 'Prior', 'GaussianPrior', 'Likelihood', 'Categorical',
           'VariationalPosterior', 'GaussianVariationalPosterior', 'BNNLoss',
           'FunctionalNetwork']
