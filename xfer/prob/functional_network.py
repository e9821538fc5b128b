"""Evaluate a Gluon network with parameter values supplied on each call."""
import mxnet as mx
from mxnet import gluon


class FunctionalNetwork:
    """A Gluon ``HybridBlock`` turned into a function of ``(data, params)``.

    A Bayesian network runs the same architecture under many posterior samples. Calling
    the network's cached graph with a sample in place of its own weights lets autograd carry
    the gradient through the sample to the variational parameters; the block's own
    Parameters are neither read nor changed.

    Parameters
    ----------
    net : mxnet.gluon.HybridBlock
        An initialised block whose parameter shapes are known (give ``in_units`` or run one
        forward pass first).
    input_name : str
        Name of the data variable the graph is traced with.

    Attributes
    ----------
    param_names : list of str
        The block's parameters, in ``net.collect_params()`` order.
    shapes : list of tuple
        Their shapes, in the same order: build the prior and posterior with these.

    Examples
    --------
    >>> import mxnet as mx
    >>> net = mx.gluon.nn.Dense(2, in_units=3)
    >>> net.initialize(ctx=mx.cpu())
    >>> network = FunctionalNetwork(net)
    >>> network.shapes
    [(2, 3), (2,)]
    >>> network(mx.nd.ones((4, 3)), [mx.nd.ones((2, 3)), mx.nd.zeros(2)]).shape
    (4, 2)
    """

    def __init__(self, net, input_name='data'):
        if not isinstance(net, gluon.HybridBlock):
            raise TypeError('FunctionalNetwork needs a gluon HybridBlock, got {}'.format(
                type(net).__name__))
        params = net.collect_params()
        self.param_names = list(params.keys())
        self.shapes = [tuple(params[name].shape) for name in self.param_names]
        unknown = [name for name, shape in zip(self.param_names, self.shapes) if 0 in shape]
        if unknown:
            raise ValueError('Parameters {} have unknown shapes; give in_units or run one '
                             'forward pass before wrapping the network'.format(unknown))
        self._input_name = input_name
        symbol = net(mx.sym.var(input_name))
        self._graph_inputs = symbol.list_inputs()
        self._cached_graph = mx.nd.CachedOp(symbol)

    def __call__(self, data, params):
        """Return the network's output for ``data`` with ``params`` (in ``shapes`` order)."""
        if len(params) != len(self.param_names):
            raise ValueError('Expected {} parameter arrays ({}), got {}'.format(
                len(self.param_names), self.param_names, len(params)))
        arrays = dict(zip(self.param_names, params))
        arrays[self._input_name] = data
        return self._cached_graph(*[arrays[name] for name in self._graph_inputs])
