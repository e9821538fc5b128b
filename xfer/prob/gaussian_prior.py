"""Gaussian prior over a network's parameters."""
from .diagonal_gaussian import DiagonalGaussian, broadcast_to_shapes, check_positive
from .prior import Prior


class GaussianPrior(Prior):
    """Independent Gaussian prior on every element of every parameter tensor.

    Parameters
    ----------
    means, sigmas : list of numpy.ndarray
        One array per shape, or a single one shared by all; each broadcasts to its
        parameter's shape (``[[0.0]]`` fits any shape). Sigmas must be positive.
    shapes : list of tuple
        Shape of each parameter tensor.
    ctx : mxnet.Context
    fix_means, fix_sigmas : bool
        Keep the means / sigmas constant; unfix them to learn the prior (empirical Bayes).

    Examples
    --------
    >>> import mxnet as mx, numpy as np
    >>> prior = GaussianPrior([np.array([[0.0]])], [np.array([[1.0]])], [(2, 3), (2,)], mx.cpu())
    >>> prior.log_pdf([mx.nd.zeros((2, 3)), mx.nd.zeros((2,))]).shape
    (1,)
    """

    def __init__(self, means, sigmas, shapes, ctx, fix_means=True, fix_sigmas=True):
        super().__init__(shapes, ctx)
        mean_values = broadcast_to_shapes(means, self.shapes, 'means')
        sigma_values = broadcast_to_shapes(sigmas, self.shapes, 'sigmas')
        check_positive(sigma_values, 'sigmas')
        self.gaussian = DiagonalGaussian(mean_values, sigma_values, ctx, fix_means, fix_sigmas,
                                         'gaussianprior')
        self.raw_params = self.gaussian.raw_params

    def log_pdf(self, obs):
        """Return the Gaussian log density of ``obs``, summed over all elements (one value)."""
        self.check_observation_shapes(obs)
        return self.gaussian.log_pdf(obs)

    def get_mean(self):
        """Return the prior means as a list of NDArrays."""
        return self.gaussian.means()

    def get_sigma(self):
        """Return the prior standard deviations as a list of NDArrays."""
        return self.gaussian.sigmas()
