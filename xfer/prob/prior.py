"""Base class of priors over a network's parameters."""
from .probability import Probability


class Prior(Probability):
    """A prior distribution over the list of tensors given by ``shapes``.

    ``log_pdf(params)`` scores a list of parameter tensors, e.g. a posterior sample.
    """
