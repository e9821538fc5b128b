"""A multilayer perceptron run under many weight samples at once: the network of a Bayesian NN."""
import mxnet as mx
import numpy as np
from mxnet import gluon

#: Keys of :meth:`SampledMlp.architecture`, the numbers that define the network.
ARCHITECTURE_KEYS = ('n_in', 'n_classes', 'num_layers', 'n_hidden')


class SampledMlp:
    """An MLP (``num_layers`` relu layers of ``n_hidden`` units, then ``n_classes`` logits) whose
    weights come from outside, many samples at a time.

    A Bayesian network averages over weight samples. Running the Gluon network once per sample
    costs a few dozen small MXNet operations each time; here every layer is one batched matrix
    product over all samples, so ``S`` samples cost about what one does.

    Weights are handed over as one flat vector per sample: the parameters in the order of
    :attr:`shapes`, which is the order of the equivalent Gluon network's
    ``collect_params()`` (:meth:`gluon_network`), each flattened row-major and laid end to end.

    Parameters
    ----------
    n_in : int
        Number of input features.
    n_classes : int
        Number of output classes.
    num_layers : int
        Number of hidden layers (0 gives a linear classifier).
    n_hidden : int
        Units per hidden layer.

    Attributes
    ----------
    shapes : list of tuple
        Per layer, the weight ``(units_out, units_in)`` then the bias ``(units_out,)``.
    num_params : int
        Length of one flat weight sample.
    """

    def __init__(self, n_in, n_classes, num_layers, n_hidden):
        self.n_in = n_in
        self.n_classes = n_classes
        self.num_layers = num_layers
        self.n_hidden = n_hidden
        widths = [n_in] + [n_hidden] * num_layers + [n_classes]
        self.shapes = []
        for units_in, units_out in zip(widths[:-1], widths[1:]):
            self.shapes += [(units_out, units_in), (units_out,)]
        sizes = [int(np.prod(shape)) for shape in self.shapes]
        self.num_params = sum(sizes)
        self._split_points = tuple(int(point) for point in np.cumsum(sizes[:-1]))

    def architecture(self):
        """The constructor arguments as a dict, for saving."""
        return {key: getattr(self, key) for key in ARCHITECTURE_KEYS}

    def gluon_network(self):
        """The same network as Gluon ``Dense`` layers (uninitialised), parameters in :attr:`shapes` order."""
        network = gluon.nn.HybridSequential()
        units_in = self.n_in
        for _ in range(self.num_layers):
            network.add(gluon.nn.Dense(self.n_hidden, activation='relu', in_units=units_in))
            units_in = self.n_hidden
        network.add(gluon.nn.Dense(self.n_classes, in_units=units_in))
        return network

    def logits(self, data, weights):
        """Symbol of the logits, shape ``(S, n, n_classes)``, of ``data`` ``(n, n_in)`` under each
        row of ``weights`` ``(S, num_params)``; works for any ``S`` and ``n``.

        The first layer multiplies the data by all samples' weights at once, so the data are never
        copied per sample; later layers are batched matrix products over the samples.
        """
        parts = mx.sym.split_v2(weights, self._split_points, axis=1) if self._split_points else [weights]
        activations = None
        for layer in range(self.num_layers + 1):
            units_out, units_in = self.shapes[2 * layer]
            bias = mx.sym.reshape(parts[2 * layer + 1], shape=(0, 1, units_out))
            if activations is None:
                stacked_weights = mx.sym.reshape(parts[0], shape=(-1, units_in))
                products = mx.sym.dot(data, stacked_weights, transpose_b=True)
                products = mx.sym.transpose(mx.sym.reshape(products, shape=(0, -1, units_out)), axes=(1, 0, 2))
            else:
                weight = mx.sym.reshape(parts[2 * layer], shape=(0, units_out, units_in))
                products = mx.sym.batch_dot(activations, weight, transpose_b=True)
            activations = mx.sym.broadcast_add(products, bias)
            if layer < self.num_layers:
                activations = mx.sym.relu(activations)
        return activations


def compile_graph(symbol):
    """A function of keyword NDArrays (one per input of ``symbol``) that runs ``symbol`` as one cached graph."""
    cached_graph = mx.nd.CachedOp(symbol)
    input_names = symbol.list_inputs()

    def run(**arrays):
        return cached_graph(*[arrays[name] for name in input_names])
    return run


def flatten_concat(arrays):
    """One flat NDArray holding ``arrays`` (e.g. a posterior's per-tensor means) end to end, in order."""
    return mx.nd.concat(*[array.reshape((-1,)) for array in arrays], dim=0)
