"""Inspect, edit and run an MXNet network: the tool every repurposer is built on."""
import contextlib
import re
from collections import OrderedDict

import mxnet as mx
import numpy as np

from .. import validation
from ..data import as_data_iter
from . import consts
from .exceptions import ModelArchitectureError, ModelError
from .feature_buffer import FeatureBuffer
from .gluon_source import gluon_to_module
from .symbol_graph import SymbolGraph
from .unfused_binding import unfused_binding


class ModelHandler:
    """Holds a copy of a module's network and parameters, and edits and runs that copy.

    Parameters
    ----------
    module : mx.mod.Module or mx.gluon.HybridBlock
        The source network. Its symbol and parameters are copied: edits never touch it.
        A Gluon block is converted with :func:`~xfer.model_handler.gluon_to_module`.
    context_function : callable, default ``mx.context.cpu``
        ``mx.cpu`` or ``mx.gpu``; the handler runs on ``context_function(0..num_devices-1)``.
    num_devices : int, default 1
        How many devices of that kind to split each batch over.
    data_name : str, default ``'data'``
        Name of the network's data input.

    Attributes
    ----------
    symbol : mx.sym.Symbol
        The (edited) network.
    arg_params, aux_params : dict of str to mx.nd.NDArray
        Trained parameters of the network; edits drop the ones the network no longer uses.

    Examples
    --------
    >>> handler = ModelHandler(module)                       # doctest: +SKIP
    >>> handler.drop_layer_top(2)                            # doctest: +SKIP
    >>> features, labels = handler.get_layer_output(iterator, ['fc1'])  # doctest: +SKIP
    """

    def __init__(self, module, context_function=mx.context.cpu, num_devices=1, data_name='data'):
        module = as_module(module, data_name, 'module')
        _check_device_arguments(context_function, num_devices)
        self.symbol = mx.sym.load_json(module.symbol.tojson())
        self._graph_cache = None
        self.arg_params, self.aux_params = _copied_module_params(module)
        self.context_function = context_function
        self.num_devices = num_devices
        self.data_name = data_name
        self._check_has_data_input(self.symbol)
        self._frozen_parameter_names = set()
        self._feature_module_cache = None

    # ----------------------------------------------------------------------------- inspection
    @property
    def layer_names(self):
        """Names of the network's layers (operator nodes) from input to output."""
        return self._graph().layer_names

    @property
    def layer_type_dict(self):
        """An OrderedDict of layer name to MXNet operator, from input to output (as in Xfer 1.1)."""
        graph = self._graph()
        return OrderedDict((name, graph.layer_type(name)) for name in graph.layer_names)

    def get_layer_type(self, layer_name):
        """MXNet operator of a layer, e.g. ``'Convolution'``; unknown name -> ValueError."""
        return self._graph().layer_type(layer_name)

    def get_layer_names_matching_type(self, layer_type):
        """Names of the layers whose operator is ``layer_type`` (any case), in graph order."""
        graph = self._graph()
        wanted = str(layer_type).lower()
        return [name for name in graph.layer_names if graph.layer_type(name).lower() == wanted]

    def get_layers_reading(self, layer_name):
        """Names of the layers that take ``layer_name``'s output as input, in graph order."""
        graph = self._graph()
        return graph.names_of(graph.consumers(graph.layer_id(layer_name)))

    def get_layers_inside_residual_blocks(self):
        """Names of the layers that a residual (skip) connection bypasses, in graph order.

        The sum where the skip rejoins is not inside: in a ResNet or EfficientNet these are
        all layers but the block outputs and the layers between blocks.
        """
        graph = self._graph()
        return graph.names_of(graph.layers_inside_residual_blocks())

    def get_layers_read_only_by_batch_norm(self):
        """Names of the layers whose output only BatchNorm layers read, in graph order.

        The network never uses such an output as it is, only normalised: in EfficientNet or a
        ResNet these are the convolutions, each followed by its BatchNorm.
        """
        graph = self._graph()
        return graph.names_of(graph.layers_read_only_by_batch_norm())

    def get_layer_parameters(self, layer_names):
        """Names of the arg and aux params of the given layers, e.g. ``['conv1_weight', 'conv1_bias']``."""
        _check_is_list(layer_names, 'layer_names')
        return self._graph().parameter_names(layer_names, self._argument_parameter_names(self.symbol),
                                             self.symbol.list_auxiliary_states())

    def visualize_net(self):
        """A graphviz drawing of the network (``mx.viz.plot_network``)."""
        return mx.viz.plot_network(self.symbol, title='xfer model', hide_weights=True)

    def save_symbol(self, model_name):
        """Write the network to ``<model_name>-symbol.json``."""
        self.symbol.save('{}-symbol.json'.format(model_name))

    def summary(self, data_shape, print_fn=None):
        """Print every layer with its type, output shape, parameter count and trainability.

        Parameters
        ----------
        data_shape : tuple of int
            Shape of one data batch, batch axis first, e.g. ``(1, 1, 28, 28)``.
        print_fn : callable, optional
            Receives each line of the table; ``print`` by default.

        Notes
        -----
        The *trainable* column says ``no`` for layers whose params were frozen by the last
        :meth:`get_module` call, ``partly`` when only some were, ``-`` for layers with no params.
        """
        print_fn = print_fn or print
        validation.check_data_shape(self, data_shape)
        rows = self._summary_rows(tuple(data_shape))
        header = ('Layer', 'Type', 'Output shape', 'Params', 'Trainable')
        widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
        line = '  '.join('{:<%d}' % width for width in widths)
        ruler = '-' * (sum(widths) + 2 * (len(widths) - 1))
        print_fn(line.format(*header))
        print_fn(ruler)
        for row in rows:
            print_fn(line.format(*[str(cell) for cell in row]))
        print_fn(ruler)
        total = sum(row[3] for row in rows)
        frozen = sum(row[3] for row in rows if row[4] == 'no')
        print_fn('Total params: {:,}  (trainable: {:,}, frozen: {:,})'.format(total, total - frozen, frozen))

    def data_shape_problem(self, data_shape):
        """Why the network cannot read data of ``data_shape`` (batch axis first); None when it can.

        Asks the graph's shape inference only, e.g. for ``(1, 784)`` into a convolution:
        ``"layer 'conv1' (Convolution) reads data of shape (batch, 1, height, width); ..."``.
        Whether the trained params then fit is checked when the network is bound.
        """
        try:
            self.symbol.infer_shape_partial(**{self.data_name: tuple(data_shape)})
        except mx.base.MXNetError as error:
            return self._inference_failure(str(error))
        return None

    # -------------------------------------------------------------------------------- editing
    def drop_layer_top(self, num_layers_to_drop=1):
        """Remove ``num_layers_to_drop`` layers from the output end of the network."""
        self._check_drop_count(num_layers_to_drop)
        symbol = self.symbol
        for _ in range(num_layers_to_drop):
            symbol = SymbolGraph(symbol, self.data_name).without_top_layer()
        self.update_sym(symbol)

    def drop_layer_bottom(self, num_layers_to_drop=1):
        """Remove layers from the input end; every layer that read a dropped layer then reads the data.

        As in Xfer 1.1, a first layer feeding several branches can be dropped (each branch then
        reads the data); dropping is ambiguous, and refused, once the data feeds several layers.
        """
        self._check_drop_count(num_layers_to_drop)
        symbol = self.symbol
        for _ in range(num_layers_to_drop):
            symbol = SymbolGraph(symbol, self.data_name).without_bottom_layer()
        self.update_sym(symbol)

    def drop_layers_above(self, layer_name):
        """Keep the network up to and including ``layer_name``, which becomes the output.

        Unlike :meth:`drop_layer_top`, this cuts through residual blocks and branches: every
        layer ``layer_name`` does not depend on is dropped, e.g. ``drop_layers_above('block5_2_add')``.
        """
        graph = self._graph()
        graph.layer_id(layer_name)
        internals = self.symbol.get_internals()
        self.update_sym(internals[_output_name(internals, layer_name)])

    def add_layer_top(self, layer_list):
        """Wire the symbols of ``layer_list`` (one symbol or a list), in order, onto the network's output.

        Each symbol is built on an implicit input, e.g.
        ``[mx.sym.FullyConnected(name='fc_new', num_hidden=4), mx.sym.SoftmaxOutput(name='softmax')]``.
        """
        symbol = self.symbol
        _check_not_above_loss(SymbolGraph(symbol, self.data_name))  # reported first, as by Xfer 1.1
        for layer in self._checked_new_layers(layer_list):
            _check_not_above_loss(SymbolGraph(symbol, self.data_name))
            symbol = _stacked_on(layer, symbol)
        self.update_sym(symbol)

    def add_layer_bottom(self, layer_list):
        """Insert the symbols of ``layer_list`` (one symbol or a list), in order, between the data input and
        the network."""
        layers = self._checked_new_layers(layer_list)
        for layer in layers:
            labels = [name for name in layer.list_arguments() if name.endswith(consts.LABEL_SUFFIX)]
            if labels:
                raise ModelError("Cannot add layer '{}' at the bottom: it is a loss/output layer (it reads "
                                 "{})".format(layer.name, labels))
        below = mx.sym.var(self.data_name)
        for layer in layers:
            below = _stacked_on(layer, below)
        self.update_sym(self.symbol(**{self.data_name: below}))

    def update_sym(self, new_symbol):
        """Replace the network; params that ``new_symbol`` no longer uses are dropped."""
        if not isinstance(new_symbol, mx.sym.Symbol):
            raise TypeError('new_symbol must be an mxnet.sym.Symbol, got {}'.format(type(new_symbol).__name__))
        self._check_has_data_input(new_symbol)
        arguments = set(new_symbol.list_arguments())
        auxiliary = set(new_symbol.list_auxiliary_states())
        self.symbol = new_symbol
        self.arg_params = {name: value for name, value in self.arg_params.items() if name in arguments}
        self.aux_params = {name: value for name, value in self.aux_params.items() if name in auxiliary}

    # ----------------------------------------------------------------------- building, running
    def get_module(self, iterator, fixed_layer_parameters=None, random_layer_parameters=None,
                   learning_rate_multipliers=None):
        """A new module of the network bound to ``iterator``'s shapes, ready for ``fit``.

        ``iterator`` is any input :func:`xfer.data.as_data_iter` accepts (a DataIter, numpy
        arrays, a Gluon DataLoader).

        Params are Xavier-initialised (gaussian, factor 'in', magnitude 2), then the handler's
        trained params are copied in, except ``random_layer_parameters``. Params named in
        ``fixed_layer_parameters`` are frozen; a BatchNorm layer whose gamma and beta are both
        frozen also keeps its moving mean and variance (it normalises with them, as Keras does).
        ``learning_rate_multipliers`` (dict of param name to factor) scales the optimizer's
        learning rate for those params, e.g. 0.1 for transferred layers (new in xfer).
        Names that the network does not have are ignored.
        """
        iterator = self._as_iterator(iterator)
        known = set(self._argument_parameter_names(self.symbol)) | set(self.symbol.list_auxiliary_states())
        fixed = set(fixed_layer_parameters or []) & known
        random = set(random_layer_parameters or []) & known
        graph = self._graph()
        frozen_batch_norms = [name for name in self.get_layer_names_matching_type(consts.BATCH_NORM)
                              if self._arguments_all_in(name, fixed)]
        symbol = graph.with_global_stats(frozen_batch_norms) if frozen_batch_norms else self.symbol
        multipliers = _checked_multipliers(learning_rate_multipliers, known)
        if multipliers:
            symbol = SymbolGraph(symbol, self.data_name).with_attributes(
                {name: {'__lr_mult__': repr(factor)} for name, factor in multipliers.items()})
        fixed |= set(self.get_layer_parameters(frozen_batch_norms))
        data_shapes, label_shapes = _input_shapes(iterator, symbol)
        expected = _parameter_shapes(symbol, data_shapes + label_shapes)
        arg_params = {k: v for k, v in self.arg_params.items() if k not in random}
        aux_params = {k: v for k, v in self.aux_params.items() if k not in random}
        _check_parameter_shapes(expected, dict(arg_params, **aux_params), required=(), data_shapes=data_shapes)
        module = mx.mod.Module(symbol, data_names=[d.name for d in data_shapes],
                               label_names=[l.name for l in label_shapes], context=self._contexts(),
                               fixed_param_names=sorted(fixed & set(symbol.list_arguments())))
        module.bind(data_shapes=data_shapes, label_shapes=label_shapes or None)
        module.init_params(initializer=mx.init.Xavier(**consts.XAVIER_ARGS), arg_params=arg_params,
                           aux_params=aux_params, allow_missing=True, allow_extra=True)
        self._frozen_parameter_names = fixed
        return module

    def get_layer_output(self, data_iterator, layer_names):
        """Run the data through the network and return the outputs of the given layers.

        Parameters
        ----------
        data_iterator : mx.io.DataIter, numpy array, (X, y) tuple or gluon DataLoader
            Anything :func:`xfer.data.as_data_iter` accepts.
        layer_names : list of str

        Returns
        -------
        features : OrderedDict of str to np.ndarray
            Per layer, in the order asked, its outputs flattened to ``(n_samples, n_features)``.
        labels : np.ndarray of int, or None
            The iterator's labels (None if it provides none). Padding of the last batch is removed.
        """
        data_iterator = self._as_iterator(data_iterator)
        _check_is_list(layer_names, 'layer_names')
        if not layer_names:
            raise ValueError('layer_names is empty: name at least one layer of {}'.format(self.layer_names))
        graph = self._graph()
        for name in layer_names:
            graph.layer_id(name)
        module, expected = self._feature_module(data_iterator, layer_names)
        needed = set(expected) - {d.name for d in data_iterator.provide_data + data_iterator.provide_label}
        _check_parameter_shapes(expected, dict(self.arg_params, **self.aux_params), required=needed,
                                data_shapes=data_iterator.provide_data)
        module.set_params(self.arg_params, self.aux_params, allow_extra=True, force_init=True)
        return _collect_outputs(module, data_iterator, layer_names)

    # -------------------------------------------------------------------------------- helpers
    def _graph(self):
        """The symbol's graph, parsed once per symbol: edits replace the symbol, which makes a new one parsed."""
        if self._graph_cache is None or self._graph_cache.symbol is not self.symbol:
            self._graph_cache = SymbolGraph(self.symbol, self.data_name)
        return self._graph_cache

    def _contexts(self):
        validation.check_context(self.context_function, self.num_devices)
        return [self.context_function(i) for i in range(self.num_devices)]

    def _argument_parameter_names(self, symbol):
        """Arguments of ``symbol`` that are trainable params: neither the data nor a label."""
        return [name for name in symbol.list_arguments()
                if name != self.data_name and not name.endswith(consts.LABEL_SUFFIX)]

    def _arguments_all_in(self, layer_name, names):
        arguments = set(self._argument_parameter_names(self.symbol))
        own = [name for name in self.get_layer_parameters([layer_name]) if name in arguments]
        return bool(own) and set(own) <= names

    def _check_has_data_input(self, symbol):
        if self.data_name not in symbol.list_arguments():
            raise ValueError("The network has no data input named '{}'; its inputs are {}".format(
                self.data_name, symbol.list_arguments()))

    def _check_drop_count(self, num_layers_to_drop):
        if not isinstance(num_layers_to_drop, (int, np.integer)) or isinstance(num_layers_to_drop, bool):
            raise TypeError('num_layers_to_drop must be an int, got {!r}'.format(num_layers_to_drop))
        if num_layers_to_drop < 1:
            raise ValueError('num_layers_to_drop must be at least 1, got {}'.format(num_layers_to_drop))
        layer_count = len(self.layer_names)
        if num_layers_to_drop >= layer_count:
            raise ModelError('Cannot drop {} layers: the model has only {} ({}); at least one must '
                             'remain'.format(num_layers_to_drop, layer_count, self.layer_names))

    def _as_iterator(self, data):
        """``data`` as a DataIter (see :func:`xfer.data.as_data_iter`) that provides the network's data input."""
        iterator = validation.checked_iterator(as_data_iter(data))
        shapes = {d.name: d.shape for d in iterator.provide_data}
        if self.data_name not in shapes:
            raise ValueError("The iterator provides data named {} but the network reads '{}'".format(
                list(shapes), self.data_name))
        validation.check_data_shape(self, shapes[self.data_name])
        return iterator

    def _inference_failure(self, message):
        """The layer that MXNet's shape inference ``message`` blames, what it reads, and MXNet's reason."""
        found = re.search(r'Error in operator (\S+?): .*?Check failed: ([^\n]*)', message)
        if not found or found.group(1) not in self.layer_names:
            return 'MXNet cannot infer the shapes: {}'.format(message.strip().splitlines()[-1])
        layer, reason = found.groups()
        layer_type = self.get_layer_type(layer)
        weight = self.arg_params.get(layer + '_weight')
        reads = ''
        if layer_type == consts.CONVOLUTION and weight is not None:
            reads = ' reads data of shape (batch, {}, {})'.format(
                weight.shape[1], ', '.join(['height', 'width', 'depth'][:weight.ndim - 2]))
        return "layer '{}' ({}){}; MXNet says: {}".format(layer, layer_type, reads, reason.strip())

    def _checked_new_layers(self, layer_list):
        """The symbols of ``layer_list`` (one symbol, as Xfer 1.1 took, or a list) after checking types and
        that their names are new."""
        if isinstance(layer_list, mx.sym.Symbol):
            layer_list = [layer_list]
        _check_is_list(layer_list, 'layer_list')
        if not layer_list:
            raise ValueError('layer_list is empty: give at least one mx.sym.Symbol')
        taken = set(self.layer_names)
        for index, layer in enumerate(layer_list):
            if not isinstance(layer, mx.sym.Symbol):
                raise TypeError('layer_list[{}] must be an mxnet.sym.Symbol, got {}'.format(
                    index, type(layer).__name__))
            if len(layer.list_outputs()) != 1:
                raise ValueError('layer_list[{}] has {} outputs {}; a layer must have one'.format(
                    index, len(layer.list_outputs()), layer.list_outputs()))
            for name in SymbolGraph(layer, self.data_name).layer_names:
                if name in taken:
                    raise ValueError("A layer named '{}' is already in the model; give the new layer "
                                     "another name".format(name))
                taken.add(name)
        return layer_list

    def _feature_module(self, iterator, layer_names):
        """A module that outputs the given layers, bound once and reused while shapes repeat."""
        key = (self.symbol.tojson(), tuple(layer_names),
               tuple((d.name, tuple(d.shape)) for d in iterator.provide_data),
               tuple(str(context) for context in self._contexts()))
        if self._feature_module_cache is None or self._feature_module_cache[0] != key:
            outputs = _grouped_outputs(self.symbol, layer_names)
            data_shapes, label_shapes = _input_shapes(iterator, outputs)
            module = mx.mod.Module(outputs, data_names=[d.name for d in data_shapes],
                                   label_names=[l.name for l in label_shapes], context=self._contexts())
            with unfused_binding() if len(layer_names) > 1 else contextlib.nullcontext():
                module.bind(data_shapes=data_shapes, label_shapes=label_shapes or None, for_training=False)
            expected = _parameter_shapes(outputs, data_shapes + label_shapes)
            self._feature_module_cache = (key, (module, expected))
        return self._feature_module_cache[1]

    def _summary_rows(self, data_shape):
        graph = self._graph()
        internals = self.symbol.get_internals()
        _, output_shapes, _ = internals.infer_shape_partial(**{self.data_name: data_shape})
        shape_of_output = dict(zip(internals.list_outputs(), output_shapes))
        param_shapes = _parameter_shapes(self.symbol, [mx.io.DataDesc(self.data_name, data_shape)],
                                         partial=True)
        rows = []
        for name in graph.layer_names:
            params = self.get_layer_parameters([name])
            count = sum(int(np.prod(param_shapes[p])) for p in params if param_shapes.get(p))
            shape = shape_of_output.get(_output_name(internals, name))
            rows.append((name, graph.layer_type(name), _shape_text(shape), count,
                         _trainability(params, self._frozen_parameter_names)))
        return rows


# ---------------------------------------------------------------------------- module helpers
def as_module(source, data_name='data', argument_name='source_model'):
    """``source`` as a module: a module as it is, a Gluon HybridBlock converted; else TypeError."""
    if isinstance(source, mx.mod.Module):
        return source
    if isinstance(source, mx.gluon.HybridBlock):
        return gluon_to_module(source, data_name)
    raise TypeError('{} must be an mxnet.mod.Module or a gluon.HybridBlock, got {}'.format(
        argument_name, type(source).__name__))


def _checked_multipliers(multipliers, known):
    """The learning-rate multipliers of params the network has, after checking they are numbers >= 0."""
    if multipliers is None:
        return {}
    if not isinstance(multipliers, dict):
        raise TypeError('learning_rate_multipliers must be a dict of param name to factor, got {}'.format(
            type(multipliers).__name__))
    for name, factor in multipliers.items():
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor >= 0:
            raise ValueError('learning_rate_multipliers[{!r}] must be a number >= 0, got {!r}'.format(name, factor))
    return {name: float(factor) for name, factor in multipliers.items() if name in known}


def _check_device_arguments(context_function, num_devices):
    if not callable(context_function):
        raise TypeError('context_function must be mx.cpu or mx.gpu, got {!r}'.format(context_function))
    validation.check_integer('num_devices', num_devices)


def _check_is_list(value, name):
    if not isinstance(value, list):
        raise TypeError('{} must be a list, got {}'.format(name, type(value).__name__))


def _copied_module_params(module):
    """Copies of a module's params: live ones when bound and initialised, else the stored ones."""
    if module.binded and module.params_initialized:
        arg_params, aux_params = module.get_params()
    else:
        arg_params, aux_params = module._arg_params or {}, module._aux_params or {}
    return ({name: value.copy() for name, value in arg_params.items()},
            {name: value.copy() for name, value in aux_params.items()})


def _check_not_above_loss(graph):
    """ModelError if the network's output is a loss/output layer, which nothing can be stacked on."""
    head_id = graph.single_head('add layers to the top')[0]
    if graph.is_loss_layer(head_id):
        raise ModelError("Cannot add layers above '{}': that is a loss/output layer (it reads a label); "
                         "drop it first".format(graph.nodes[head_id]['name']))


def _stacked_on(layer, below):
    """``layer`` with its implicit (first) input replaced by the output of ``below``."""
    return layer(**{layer.list_arguments()[0]: below})


def _output_name(internals, layer_name):
    """The name under which ``get_internals()`` lists a layer's (first) output."""
    outputs = internals.list_outputs()
    for candidate in (layer_name + consts.OUTPUT_SUFFIX, layer_name + consts.OUTPUT_SUFFIX + '0'):
        if candidate in outputs:
            return candidate
    raise ValueError("Layer '{}' has no output in the network".format(layer_name))


def _grouped_outputs(symbol, layer_names):
    """One symbol whose outputs are the given layers' outputs."""
    internals = symbol.get_internals()
    return mx.sym.Group([internals[_output_name(internals, name)] for name in layer_names])


def _input_shapes(iterator, symbol):
    """The iterator's data descriptions, and those of its labels that ``symbol`` reads."""
    arguments = set(symbol.list_arguments())
    labels = [label for label in iterator.provide_label if label.name in arguments]
    provided = {label.name for label in labels}
    missing = [name for name in arguments if name.endswith(consts.LABEL_SUFFIX) and name not in provided]
    if missing:
        raise ValueError('The network reads labels {} that the iterator does not provide (it provides '
                         '{})'.format(missing, [label.name for label in iterator.provide_label]))
    return list(iterator.provide_data), labels


def _parameter_shapes(symbol, input_descriptions, partial=False):
    """Shapes of every argument and auxiliary state of ``symbol`` for the given input shapes."""
    infer = symbol.infer_shape_partial if partial else symbol.infer_shape
    arg_shapes, _, aux_shapes = infer(**{d.name: tuple(d.shape) for d in input_descriptions})
    return dict(zip(symbol.list_arguments() + symbol.list_auxiliary_states(), arg_shapes + aux_shapes))


def _check_parameter_shapes(expected, params, required, data_shapes):
    """Raise ModelArchitectureError for a required param that is missing or a param of the wrong shape
    (which data of another shape than the network was trained on also cause: the message names them)."""
    missing = sorted(name for name in required if name not in params)
    if missing:
        raise ModelArchitectureError('The network needs params {} that the handler does not have'.format(
            missing))
    for name, value in params.items():
        if name in expected and tuple(value.shape) != tuple(expected[name]):
            raise ModelArchitectureError("Param '{}' has shape {} but the network needs shape {} for data of shape "
                                         "{}".format(name, tuple(value.shape), tuple(expected[name]),
                                                     ', '.join(str(tuple(d.shape)) for d in data_shapes)))


def _collect_outputs(module, iterator, layer_names):
    """Forward every batch once and gather the outputs, without the last batch's padding."""
    expected_rows = getattr(iterator, 'num_data', None)
    feature_buffers = [FeatureBuffer(expected_rows) for _ in layer_names]
    label_buffer = FeatureBuffer(expected_rows)
    iterator.reset()
    for batch in iterator:
        module.forward(batch, is_train=False)
        valid = batch.data[0].shape[0] - (batch.pad or 0)
        for buffer, output in zip(feature_buffers, module.get_outputs()):
            buffer.append_ndarray(output, valid)
        if batch.label:
            label_buffer.append_ndarray(batch.label[0], valid)
    features = OrderedDict((name, buffer.result()) for name, buffer in zip(layer_names, feature_buffers))
    labels = label_buffer.result().ravel().astype(np.int64) if iterator.provide_label else None
    return features, labels


def _shape_text(shape):
    return str(tuple(shape)) if shape else '?'


def _trainability(params, frozen):
    if not params:
        return '-'
    frozen_count = sum(name in frozen for name in params)
    return 'yes' if frozen_count == 0 else ('no' if frozen_count == len(params) else 'partly')
