"""Bring a network trained in another framework: an ONNX file as an xfer source.

MXNet's ONNX importer (``mxnet.contrib.onnx.import_model``) looks up every weight among the
graph's inputs, but exporters since ONNX IR 4 list weights only as initializers; the importer
then fails with ``KeyError '<name>'``. The graph is therefore first given an input per
initializer. The network's input is renamed ``data``, as in every other source.
"""
import os
import tempfile

import mxnet as mx

#: Name of the data input of the returned source, as in every xfer source.
DATA_NAME = 'data'
#: Name of the layer added below a channels-last network so that it reads NCHW data.
TO_CHANNELS_LAST_LAYER = 'to_channels_last'
_CHANNEL_COUNTS = (1, 3, 4)


def from_onnx(path, channels_last='auto'):
    """A module holding the network and weights of the ONNX file at ``path``, its input named ``data``.

    Parameters
    ----------
    path : str
        An ONNX model file (needs the ``onnx`` package; ``pip install xfer[zoo]``).
    channels_last : {'auto', True, False}, default 'auto'
        Whether the network reads images as NHWC. Then a transpose layer named
        ``to_channels_last`` is added at the bottom, so the source reads NCHW batches like
        every xfer source and MXNet iterator. ``'auto'``: true when the input is 4-D with
        1, 3 or 4 as its last size and another size second.

    Returns
    -------
    mx.mod.Module
        Not bound, holding its params. Preprocessing the network expects (scaling, colour
        order, mean) stays the network's own: see where it came from.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the graph uses operators MXNet cannot import (named in the message), or has
        several inputs.
    """
    import onnx
    from mxnet.contrib.onnx.onnx2mx.import_model import import_model  # the wrapper in contrib.onnx only adds prints
    from mxnet.contrib.onnx.onnx2mx._import_helper import _convert_map

    if not os.path.isfile(path):
        raise FileNotFoundError('ONNX file not found: {}'.format(path))
    if channels_last not in ('auto', True, False):
        raise ValueError("channels_last must be 'auto', True or False, got {!r}".format(channels_last))
    model = onnx.load_model(path)
    unsupported = sorted({node.op_type for node in model.graph.node} - set(_convert_map))
    if unsupported:
        raise ValueError('{} uses ONNX operators that MXNet cannot import: {}'.format(path, unsupported))
    input_name, input_shape = _single_input(model.graph, path)
    _list_initializers_as_inputs(model.graph)
    with tempfile.TemporaryDirectory() as directory:
        fixed_path = os.path.join(directory, 'model.onnx')
        onnx.save_model(model, fixed_path)
        with mx.name.NameManager():  # layers MXNet names itself (convolution0, ...) are numbered afresh per file
            symbol, arg_params, aux_params = import_model(fixed_path)
    data = mx.sym.var(DATA_NAME)
    if channels_last is True or (channels_last == 'auto' and _looks_channels_last(input_shape)):
        data = mx.sym.transpose(data, axes=(0, 2, 3, 1), name=TO_CHANNELS_LAST_LAYER)
    symbol = symbol(**{input_name: data})
    module = mx.mod.Module(symbol, data_names=[DATA_NAME], label_names=None)
    module._arg_params, module._aux_params = arg_params, aux_params
    module.params_initialized = True
    return module


def _single_input(graph, path):
    """Name and shape (None where unknown) of the graph's one data input."""
    initializers = {tensor.name for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initializers]
    if len(inputs) != 1:
        raise ValueError('{} has {} data inputs {}; xfer sources read one'.format(
            path, len(inputs), [value.name for value in inputs]))
    dims = inputs[0].type.tensor_type.shape.dim
    return inputs[0].name, [dim.dim_value if dim.HasField('dim_value') else None for dim in dims]


def _list_initializers_as_inputs(graph):
    """Add a graph input for every initializer that is not one already (what MXNet's importer needs)."""
    import onnx
    listed = {value.name for value in graph.input}
    for tensor in graph.initializer:
        if tensor.name not in listed:
            graph.input.append(onnx.helper.make_tensor_value_info(tensor.name, tensor.data_type, tensor.dims))


def _looks_channels_last(shape):
    return len(shape) == 4 and shape[3] in _CHANNEL_COUNTS and shape[1] not in _CHANNEL_COUNTS
