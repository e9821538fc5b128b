"""Base class of variational posteriors."""
from abc import abstractmethod

from .probability import Probability


class VariationalPosterior(Probability):
    """An approximate posterior over the list of tensors given by ``shapes``.

    Its raw parameters are what variational inference trains.
    """

    @abstractmethod
    def generate_sample(self):
        """Return one sample, a list of NDArrays differentiable w.r.t. the raw parameters."""

    @abstractmethod
    def get_mean(self):
        """Return the posterior mean as a list of NDArrays."""

    @abstractmethod
    def KL(self, other):  # noqa: N802 (the contract's name)
        """Return KL(self || other) as an NDArray holding one value."""

    @abstractmethod
    def is_conjugate(self, prior):
        """Return whether ``KL(prior)`` has a closed form."""
