"""Base class of every distribution in :mod:`xfer.prob`."""
from abc import ABC, abstractmethod


class Probability(ABC):
    """A distribution over a list of tensors, one per entry of ``shapes``.

    Parameters
    ----------
    shapes : list of tuple
        Shape of each tensor the distribution is defined over.
    ctx : mxnet.Context
        Context holding the distribution's parameters.

    Attributes
    ----------
    raw_params : list of mxnet.gluon.Parameter
        The unconstrained parameters an optimiser updates; fixed ones have ``grad_req='null'``.
    """

    def __init__(self, shapes, ctx):
        self.shapes = [tuple(int(size) for size in shape) for shape in shapes]
        self.ctx = ctx
        self.raw_params = []

    def trainable_params(self):
        """Return the raw parameters that receive gradients, ready for a ``gluon.Trainer``."""
        return [param for param in self.raw_params if param.grad_req != 'null']

    def check_observation_shapes(self, obs):
        """Raise ``ValueError`` unless ``obs`` holds one array per shape, of that shape."""
        if len(obs) != len(self.shapes):
            raise ValueError('Expected {} observation arrays (shapes {}), got {}'.format(
                len(self.shapes), self.shapes, len(obs)))
        for index, (array, shape) in enumerate(zip(obs, self.shapes)):
            if tuple(array.shape) != shape:
                raise ValueError('Observation {} has shape {}, expected {}'.format(
                    index, tuple(array.shape), shape))

    @abstractmethod
    def log_pdf(self, obs):
        """Return the log density of ``obs`` as an NDArray holding one value."""
