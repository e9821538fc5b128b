"""Base class of observation models."""
from abc import abstractmethod

from .probability import Probability


class Likelihood(Probability):
    """A distribution over observations given a network's outputs.

    Unlike priors and posteriors it has no parameters of its own: the network's outputs
    parameterise it, so ``log_pdf`` takes them alongside the observations.
    """

    def __init__(self, ctx):
        super().__init__([], ctx)

    @abstractmethod
    def log_pdf(self, obs, outputs):
        """Return the log-likelihood of ``obs`` given the network ``outputs`` (one value)."""
