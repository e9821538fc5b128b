"""Gaussian maths shared by :class:`GaussianPrior` and :class:`GaussianVariationalPosterior`."""
import itertools
import math

import numpy as np
from mxnet import gluon, init, nd

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def broadcast_to_shapes(values, shapes, argument_name):
    """Return one float32 array per shape, each broadcast from ``values``.

    ``values`` holds either one array per shape or a single array shared by all; extra
    leading axes of size 1 are dropped first, so ``[[0.0]]`` fits any shape.
    """
    if not isinstance(values, (list, tuple)):
        raise TypeError('{} must be a list of numpy arrays, got {}'.format(
            argument_name, type(values).__name__))
    if not shapes:
        raise ValueError('shapes must hold at least one parameter shape')
    if len(values) not in (1, len(shapes)):
        raise ValueError('{} holds {} arrays; give one per shape ({}) or a single shared one'
                         .format(argument_name, len(values), len(shapes)))
    if len(values) == 1:
        values = list(values) * len(shapes)
    return [_broadcast_one(value, shape, '{}[{}]'.format(argument_name, index))
            for index, (value, shape) in enumerate(zip(values, shapes))]


def _broadcast_one(value, shape, label):
    array = np.asarray(value, dtype=np.float64)
    extra_axes = array.ndim - len(shape)
    if extra_axes > 0 and all(size == 1 for size in array.shape[:extra_axes]):
        array = array.reshape(array.shape[extra_axes:])
    try:
        return np.broadcast_to(array, shape).astype(np.float32)
    except ValueError:
        raise ValueError('{} of shape {} cannot be broadcast to parameter shape {}'.format(
            label, np.shape(value), shape)) from None


def check_positive(values, argument_name):
    """Raise ``ValueError`` unless every element of every array is finite and positive."""
    for index, array in enumerate(values):
        if not np.all(np.isfinite(array) & (array > 0)):
            raise ValueError('{}[{}] must be finite and positive, got minimum {}'.format(
                argument_name, index, array.min()))


def softplus_inverse(sigma):
    """Return ``rho`` with ``log(1 + exp(rho)) == sigma``, stable for large sigma."""
    sigma = sigma.astype(np.float64)
    return (sigma + np.log(-np.expm1(-sigma))).astype(np.float32)


def _concatenate(arrays):
    return np.concatenate([array.ravel() for array in arrays]).astype(np.float32)


def _create_param(name, value, ctx, fixed):
    param = gluon.Parameter(name, shape=value.shape, grad_req='null' if fixed else 'write',
                            init=init.Zero())
    param.initialize(ctx=ctx)
    param.set_data(nd.array(value, ctx=ctx, dtype=np.float32))
    return param


class DiagonalGaussian:
    """Independent Gaussians over a list of tensors, with gluon Parameters as means and sigmas.

    All tensors are stored end to end in one flat mean and one flat ``rho`` Parameter, so
    sampling, densities and the KL cost a handful of MXNet operations whatever the number of
    tensors: on small networks the per-operation overhead, not arithmetic, sets the cost of a
    training step. Sigmas are stored unconstrained as ``rho`` (sigma = log(1 + exp(rho))), so
    any gradient step keeps them positive. Parameters are float32 and live on ``ctx``.

    Parameters
    ----------
    mean_values, sigma_values : list of numpy.ndarray
        One array per tensor, already of that tensor's shape; sigmas positive.
    ctx : mxnet.Context
    fix_means, fix_sigmas : bool
        Whether the means / sigmas are constants (``grad_req='null'``).
    prefix : str
        Start of the Parameter names; a counter makes them unique, so that one
        ``gluon.Trainer`` can hold the parameters of several distributions.
    """

    _instance_ids = itertools.count()

    def __init__(self, mean_values, sigma_values, ctx, fix_means, fix_sigmas, prefix):
        self.ctx = ctx
        self.shapes = [value.shape for value in mean_values]
        self._split_indices = tuple(np.cumsum([value.size for value in mean_values[:-1]]))
        name = '{}{}'.format(prefix, next(self._instance_ids))
        self.mean_param = _create_param(name + '_mean', _concatenate(mean_values), ctx, fix_means)
        self.rho_param = _create_param(name + '_rho', softplus_inverse(_concatenate(sigma_values)),
                                       ctx, fix_sigmas)

    @property
    def raw_params(self):
        """The flat mean and rho Parameters."""
        return [self.mean_param, self.rho_param]

    def means(self):
        """Return the means as a list of NDArrays."""
        return self._split(self._flat_mean())

    def sigmas(self):
        """Return the standard deviations as a list of NDArrays (differentiable in rho)."""
        return self._split(self._flat_sigma())

    def sample(self):
        """Return ``mean + sigma * eps`` per tensor, with standard normal ``eps``."""
        mean = self._flat_mean()
        noise = nd.random.normal(shape=mean.shape, ctx=self.ctx)
        return self._split(mean + self._flat_sigma() * noise)

    def log_pdf(self, obs):
        """Return the log density of ``obs`` summed over all elements of all tensors."""
        values = nd.concat(*[value.reshape((-1,)) for value in obs], dim=0)
        sigma = self._flat_sigma()
        return nd.sum(-LOG_SQRT_2PI - nd.log(sigma)
                      - 0.5 * nd.square((values - self._flat_mean()) / sigma))

    def kl_divergence(self, other):
        """Return KL(self || other) in closed form, summed over all elements."""
        sigma, sigma_other = self._flat_sigma(), other._flat_sigma()
        squared_distance = nd.square(self._flat_mean() - other._flat_mean())
        return nd.sum(nd.log(sigma_other) - nd.log(sigma)
                      + (nd.square(sigma) + squared_distance) / (2.0 * nd.square(sigma_other))
                      - 0.5)

    def raw_arrays(self):
        """Return the raw parameter values as numpy arrays keyed ``mean_<i>`` / ``rho_<i>``."""
        arrays = {}
        for kind, param in (('mean', self.mean_param), ('rho', self.rho_param)):
            flat = param.data(self.ctx).asnumpy()
            for index, (part, shape) in enumerate(zip(np.split(flat, self._split_indices),
                                                      self.shapes)):
                arrays['{}_{}'.format(kind, index)] = part.reshape(shape)
        return arrays

    def set_raw_arrays(self, arrays):
        """Overwrite the raw parameters from arrays keyed as in :meth:`raw_arrays`."""
        for kind, param in (('mean', self.mean_param), ('rho', self.rho_param)):
            flat = _concatenate([arrays['{}_{}'.format(kind, index)]
                                 for index in range(len(self.shapes))])
            param.set_data(nd.array(flat, ctx=self.ctx, dtype=np.float32))

    def _flat_mean(self):
        return self.mean_param.data(self.ctx)

    def _flat_sigma(self):
        return nd.Activation(self.rho_param.data(self.ctx), act_type='softrelu')

    def _split(self, flat):
        parts = nd.split_v2(flat, self._split_indices) if self._split_indices else [flat]
        return [part.reshape(shape) for part, shape in zip(parts, self.shapes)]
