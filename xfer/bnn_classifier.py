"""Predictions of a trained Bayesian neural network: class probabilities averaged over weight samples."""
import mxnet as mx
import numpy as np

from .sampled_mlp import compile_graph, flatten_concat
from .utils import l2_normalize_rows

#: Seed of the weight samples drawn by :meth:`BnnClassifier.predict`.
PREDICTION_SEED = 0
#: Upper bound on the activations held at once while predicting (float32 values, 64 MB).
_MAX_ACTIVATIONS = 2 ** 24


def l2_normalize(features):
    """Scale every row of ``features`` to unit L2 norm (all-zero rows stay zero).

    Deep features differ in scale from one source network and layer to another; unit rows give
    the network's weights, and so the prior on them, the same meaning whatever the source.
    """
    return l2_normalize_rows(np.asarray(features, dtype=np.float32))


#: Feature normalisers by the name they are saved under.
NORMALIZERS = {'l2': l2_normalize}


class BnnClassifier:
    """A Bayesian MLP and its variational posterior, ready to predict.

    Parameters
    ----------
    model : SampledMlp
        The network's architecture.
    var_posterior : xfer.prob.GaussianVariationalPosterior
        Posterior over the network's weights, with shapes ``model.shapes``.
    normalizer : callable
        Maps a features array ``(n, n_in)`` to the network's input: :func:`l2_normalize` for
        networks trained by :class:`~xfer.BnnRepurposer` (listed by name in ``NORMALIZERS``).

    Notes
    -----
    Predictions are reproducible: every call draws its weight samples from a numpy generator
    seeded with ``PREDICTION_SEED``, so equal features give equal outputs, a saved and loaded
    classifier predicts exactly like the original, and the labels of one call are the argmax of
    the probabilities of another. The global MXNet and numpy random states are left untouched.
    """

    def __init__(self, model, var_posterior, normalizer):
        if list(var_posterior.shapes) != list(model.shapes):
            raise ValueError('The posterior is over shapes {}, but the model has weights of shapes {}'.format(
                var_posterior.shapes, model.shapes))
        self.model = model
        self.var_posterior = var_posterior
        self.normalizer = normalizer
        self._mean_probabilities = compile_graph(mx.sym.mean(mx.sym.softmax(
            model.logits(mx.sym.var('data'), mx.sym.var('weights')), axis=-1), axis=0))

    def predict(self, features, num_samples_mc_prediction=100, context=mx.cpu()):
        """Labels and class probabilities of ``features``, averaged over posterior samples.

        Parameters
        ----------
        features : numpy.ndarray, shape (n, n_in)
            Unnormalised features (the normaliser is applied here).
        num_samples_mc_prediction : int, default 100
            Weight samples averaged over.
        context : mxnet.Context, default mx.cpu()
            Where to compute.

        Returns
        -------
        labels : numpy.ndarray of int, shape (n,)
            The most probable class per row.
        probabilities : numpy.ndarray of float32, shape (n, n_classes)
            Rows sum to 1.
        """
        features = self._check_features(features)
        _check_num_samples(num_samples_mc_prediction)
        weights = self._weight_samples(num_samples_mc_prediction, context)
        inputs = self.normalizer(features)
        rows_per_chunk = max(1, _MAX_ACTIVATIONS // (num_samples_mc_prediction * self._widest_layer()))
        probabilities = np.concatenate([
            self._mean_probabilities(data=mx.nd.array(inputs[start:start + rows_per_chunk], ctx=context),
                                     weights=weights).asnumpy()
            for start in range(0, len(inputs), rows_per_chunk)
        ]) if len(inputs) else np.zeros((0, self.model.n_classes), dtype=np.float32)
        return probabilities.argmax(axis=1), probabilities

    def _weight_samples(self, num_samples, context):
        """``num_samples`` flat weight vectors ``mean + sigma * noise`` with seeded standard normal noise."""
        mean = flatten_concat(self.var_posterior.get_mean()).as_in_context(context)
        sigma = flatten_concat(self.var_posterior.get_sigma()).as_in_context(context)
        noise = np.random.default_rng(PREDICTION_SEED).standard_normal((num_samples, self.model.num_params),
                                                                         dtype=np.float32)
        return mx.nd.broadcast_add(mx.nd.broadcast_mul(mx.nd.array(noise, ctx=context), sigma), mean)

    def _check_features(self, features):
        features = np.asarray(features)
        if features.ndim != 2 or features.shape[1] != self.model.n_in:
            raise ValueError('Expected features of shape (n, {}), got shape {}'.format(
                self.model.n_in, features.shape))
        return features

    def _widest_layer(self):
        return max(self.model.n_hidden if self.model.num_layers else 0, self.model.n_classes)


def _check_num_samples(num_samples):
    if not isinstance(num_samples, (int, np.integer)) or isinstance(num_samples, bool) or num_samples < 1:
        raise ValueError('num_samples_mc_prediction must be a positive integer, got {!r}'.format(num_samples))
