"""Mean-field Gaussian variational posterior, with JSON + npz persistence."""
import json
import os

import mxnet as mx
import numpy as np

from ..serialization import parse_json, read_npz
from .diagonal_gaussian import DiagonalGaussian, broadcast_to_shapes, check_positive
from .gaussian_prior import GaussianPrior
from .variational_posterior import VariationalPosterior

DESCRIPTION_FIELDS = {'class': str, 'shapes': list, 'fix_means': bool, 'fix_sigmas': bool}


class GaussianVariationalPosterior(VariationalPosterior):
    """Independent Gaussian posterior on every element of every parameter tensor.

    Samples are reparameterised (``mean + sigma * eps``), so a loss computed from a sample
    inside ``autograd.record()`` back-propagates to the means and the sigmas' raw ``rho``.

    Parameters
    ----------
    mean_init, sigma_init : list of numpy.ndarray
        Initial means / sigmas: one array per shape, or a single one shared by all; each
        broadcasts to its parameter's shape. Sigmas must be positive.
    shapes : list of tuple
        Shape of each parameter tensor.
    ctx : mxnet.Context
    fix_means, fix_sigmas : bool
        Keep the means / sigmas constant instead of training them.
    """

    def __init__(self, mean_init, sigma_init, shapes, ctx, fix_means=False, fix_sigmas=False):
        super().__init__(shapes, ctx)
        mean_values = broadcast_to_shapes(mean_init, self.shapes, 'mean_init')
        sigma_values = broadcast_to_shapes(sigma_init, self.shapes, 'sigma_init')
        check_positive(sigma_values, 'sigma_init')
        self.fix_means = fix_means
        self.fix_sigmas = fix_sigmas
        self.gaussian = DiagonalGaussian(mean_values, sigma_values, ctx, fix_means, fix_sigmas,
                                         'gaussianvariationalposterior')
        self.raw_params = self.gaussian.raw_params

    def generate_sample(self):
        """Return one reparameterised sample, a list of NDArrays of ``shapes``."""
        return self.gaussian.sample()

    def get_mean(self):
        """Return the posterior means as a list of NDArrays."""
        return self.gaussian.means()

    def get_sigma(self):
        """Return the posterior standard deviations as a list of NDArrays."""
        return self.gaussian.sigmas()

    def log_pdf(self, obs):
        """Return the log density of ``obs`` under the posterior, summed (one value)."""
        self.check_observation_shapes(obs)
        return self.gaussian.log_pdf(obs)

    def KL(self, other):  # noqa: N802 (the contract's name)
        """Return KL(self || other) in closed form for a Gaussian ``other`` of equal shapes."""
        if not isinstance(other, (GaussianPrior, GaussianVariationalPosterior)):
            raise TypeError('Closed-form KL needs a GaussianPrior or '
                            'GaussianVariationalPosterior, got {}'.format(type(other).__name__))
        if other.shapes != self.shapes:
            raise ValueError('KL needs equal shapes, got {} and {}'.format(
                self.shapes, other.shapes))
        return self.gaussian.kl_divergence(other.gaussian)

    def is_conjugate(self, prior):
        """Return True for a :class:`GaussianPrior`, whose KL has a closed form."""
        return isinstance(prior, GaussianPrior)

    def save(self, filename):
        """Write ``<filename>.json`` (class, shapes, fix flags) and ``<filename>_params.npz``."""
        description = {'class': type(self).__name__,
                       'shapes': [list(shape) for shape in self.shapes],
                       'fix_means': self.fix_means, 'fix_sigmas': self.fix_sigmas}
        with open(filename + '.json', 'w') as json_file:
            json.dump(description, json_file)
        np.savez(filename + '_params.npz', **self.gaussian.raw_arrays())

    @classmethod
    def load(cls, filename, ctx=None):
        """Rebuild a posterior written by :meth:`save`, exactly.

        Parameters
        ----------
        filename : str
            The prefix given to :meth:`save`.
        ctx : mxnet.Context, optional
            Where to place the parameters; defaults to ``mxnet.current_context()``.
        """
        description = cls._read_description(filename + '.json')
        shapes = [tuple(shape) for shape in description['shapes']]
        arrays = cls._read_arrays(filename + '_params.npz', shapes)
        posterior = cls([np.zeros(1)], [np.ones(1)], shapes,
                        mx.current_context() if ctx is None else ctx,
                        description['fix_means'], description['fix_sigmas'])
        posterior.gaussian.set_raw_arrays(arrays)
        return posterior

    @classmethod
    def _read_description(cls, path):
        _check_exists(path)
        description = parse_json(path)
        _check_description(description, cls.__name__, path)
        return description

    @staticmethod
    def _read_arrays(path, shapes):
        _check_exists(path)
        names = [key.format(index) for index in range(len(shapes)) for key in ('mean_{}', 'rho_{}')]
        arrays = read_npz(path, names)
        for index, shape in enumerate(shapes):
            for key in ('mean_{}'.format(index), 'rho_{}'.format(index)):
                _check_array(arrays, key, shape, path)
        return arrays


def _check_exists(path):
    if not os.path.isfile(path):
        raise FileNotFoundError('Posterior file {} does not exist'.format(path))


def _check_description(description, class_name, path):
    if not isinstance(description, dict) or any(
            not isinstance(description.get(key), kind) for key, kind in DESCRIPTION_FIELDS.items()):
        raise ValueError('Posterior file {} must hold an object with {}'.format(path, ', '.join(
            '{} ({})'.format(key, kind.__name__) for key, kind in DESCRIPTION_FIELDS.items())))
    if description['class'] != class_name:
        raise ValueError('Posterior file {} describes a {}, not a {}'.format(
            path, description['class'], class_name))
    shapes = description['shapes']
    if not shapes or not all(isinstance(shape, list) and all(
            type(size) is int and size > 0 for size in shape) for shape in shapes):
        raise ValueError('Posterior file {} has malformed shapes {}'.format(path, shapes))


def _check_array(arrays, key, shape, path):
    if key not in arrays:
        raise ValueError('Posterior file {} lacks array {}'.format(path, key))
    array = arrays[key]
    if array.shape != shape:
        raise ValueError('Posterior file {}: array {} has shape {}, expected {}'.format(
            path, key, array.shape, shape))
    if not np.issubdtype(array.dtype, np.floating) or not np.all(np.isfinite(array)):
        raise ValueError('Posterior file {}: array {} must hold finite floats'.format(path, key))
