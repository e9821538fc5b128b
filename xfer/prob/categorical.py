"""Categorical observation model for classifiers."""
from mxnet import nd

from .likelihood import Likelihood


class Categorical(Likelihood):
    """Categorical distribution over integer labels, parameterised by a network's logits.

    Parameters
    ----------
    ctx : mxnet.Context
    """

    def log_pdf(self, obs, outputs):
        """Return the summed log softmax of ``outputs`` at the labels ``obs`` (one value).

        Parameters
        ----------
        obs : mxnet.nd.NDArray
            Labels of shape ``(n,)``, integer valued.
        outputs : mxnet.nd.NDArray
            Unnormalised log-probabilities (logits) of shape ``(n, num_classes)``.
        """
        if outputs.ndim != 2 or tuple(obs.shape) != (outputs.shape[0],):
            raise ValueError('Expected labels of shape (n,) and outputs of shape (n, classes), '
                             'got {} and {}'.format(tuple(obs.shape), tuple(outputs.shape)))
        return nd.sum(nd.pick(nd.log_softmax(outputs, axis=1), obs, axis=1))
