"""Gluon networks as source models: a HybridBlock turned into a module with its params."""
import mxnet as mx
from mxnet import gluon

from .symbol_graph import SymbolGraph

#: Suffix Gluon gives the operator of a block (``dense0`` -> ``dense0_fwd``).
_GLUON_OPERATOR_SUFFIX = '_fwd'


def gluon_to_module(block, data_name='data'):
    """A module holding ``block``'s network and a copy of its params, ready for xfer.

    Layers keep the names Gluon shows (the block names: ``hybridsequential0_dense0``, not the
    operator name ``hybridsequential0_dense0_fwd``), so ``get_layer_parameters`` finds a
    layer's ``<name>_weight`` and ``<name>_bias``. The module is not bound; like a module from
    ``mx.mod.Module.load``, it holds its params until it is bound.

    Parameters
    ----------
    block : mx.gluon.HybridBlock
        An initialised network whose parameter shapes are known (run one forward pass first
        if it was initialised with deferred shapes).
    data_name : str, default 'data'
        Name of the data input of the module.
    """
    if not isinstance(block, gluon.HybridBlock):
        raise TypeError('Expected a gluon.HybridBlock, got {}'.format(type(block).__name__))
    params = block.collect_params()
    _check_initialised(params)
    symbol = _named_as_in_gluon(block(mx.sym.var(data_name)), data_name)
    auxiliary = set(symbol.list_auxiliary_states())
    values = {name: param.data(param.list_ctx()[0]).copyto(mx.cpu()) for name, param in params.items()}
    module = mx.mod.Module(symbol, data_names=[data_name], label_names=None)
    module._arg_params = {name: value for name, value in values.items() if name not in auxiliary}
    module._aux_params = {name: value for name, value in values.items() if name in auxiliary}
    module.params_initialized = True
    return module


def _check_initialised(params):
    unready = [name for name, param in params.items() if param._data is None or 0 in param.shape]
    if unready:
        raise ValueError('Params {} of the Gluon block are not initialised or have unknown shapes: call '
                         'block.initialize() and run one forward pass first'.format(unready[:5]))


def _named_as_in_gluon(symbol, data_name):
    graph = SymbolGraph(symbol, data_name)
    taken = set(graph.layer_names)
    new_names = {}
    for name in graph.layer_names:
        short = name[:-len(_GLUON_OPERATOR_SUFFIX)]
        if name.endswith(_GLUON_OPERATOR_SUFFIX) and short not in taken:
            new_names[name] = short
            taken.add(short)
    return graph.renamed(new_names)
