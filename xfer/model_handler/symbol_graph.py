"""A read-and-rewrite view of an MXNet symbol's graph, the one place that touches graph JSON."""
import json

import mxnet as mx

from . import consts
from .exceptions import ModelError


class SymbolGraph:
    """The nodes of a symbol as MXNet serialises them, with the questions edits need answered.

    Nodes are kept in MXNet's order, which is topological: every node comes after its inputs.
    A *layer* is an operator node; variables (data, labels, parameters) are not layers.

    Parameters
    ----------
    symbol : mx.sym.Symbol
        The network.
    data_name : str
        Name of the network's data input.
    """

    def __init__(self, symbol, data_name):
        graph = json.loads(symbol.tojson())
        self.symbol = symbol
        self.data_name = data_name
        self.nodes = graph['nodes']
        self.heads = graph['heads']
        self._attrs = graph.get('attrs', {})

    # ----------------------------------------------------------------------------- inspection
    @property
    def layer_names(self):
        """Names of the operator nodes in topological order."""
        return [node['name'] for node in self.nodes if node['op'] != consts.VARIABLE_OP]

    def layer_id(self, layer_name):
        """Index of the node of a layer; unknown layer -> ValueError naming it."""
        for node_id, node in enumerate(self.nodes):
            if node['name'] == layer_name and node['op'] != consts.VARIABLE_OP:
                return node_id
        raise ValueError("Layer '{}' is not in the model. Layers: {}".format(layer_name, self.layer_names))

    def layer_type(self, layer_name):
        """MXNet operator name of a layer."""
        return self.nodes[self.layer_id(layer_name)]['op']

    def variable_id(self, name):
        """Index of a variable node, or None when the graph has none of that name."""
        for node_id, node in enumerate(self.nodes):
            if node['name'] == name and node['op'] == consts.VARIABLE_OP:
                return node_id
        return None

    def is_layer(self, node_id):
        return self.nodes[node_id]['op'] != consts.VARIABLE_OP

    def layer_inputs(self, node_id):
        """Indices of the layers whose outputs feed this node (variables excluded)."""
        return [source for source, _, _ in self.nodes[node_id]['inputs'] if self.is_layer(source)]

    def variable_inputs(self, node_id):
        """Names of the variables this node reads (data, labels and parameters)."""
        return [self.nodes[source]['name'] for source, _, _ in self.nodes[node_id]['inputs']
                if not self.is_layer(source)]

    def consumers(self, node_id):
        """Indices of the layers that read an output of this node."""
        return [consumer for consumer, node in enumerate(self.nodes)
                if any(source == node_id for source, _, _ in node['inputs'])]

    def is_loss_layer(self, node_id):
        """A loss/output layer is one that reads a label (``<name>_label``)."""
        return any(name.endswith(consts.LABEL_SUFFIX) for name in self.variable_inputs(node_id))

    def parameter_names(self, layer_names, argument_names, auxiliary_names):
        """Names of the arg/aux params read by the given layers, in graph order."""
        wanted = {self.layer_id(name) for name in layer_names}
        params = set(argument_names) | set(auxiliary_names)
        names = []
        for node_id in sorted(wanted):
            names += [name for name in self.variable_inputs(node_id)
                      if name in params and name not in names]
        return names

    def layers_inside_residual_blocks(self):
        """Indices of the layers a residual connection bypasses, in graph order.

        A residual connection is an edge into an element-wise sum (:data:`consts.SUM_TYPES`)
        from a node earlier than the sum's other input. In topological order it jumps over
        exactly the layers of the block it bypasses (and those of any block nested inside).
        """
        data_id = self.variable_id(self.data_name)
        jumped = [0] * (len(self.nodes) + 1)
        for target, node in enumerate(self.nodes):
            if node['op'] not in consts.SUM_TYPES:
                continue
            for source, _, _ in node['inputs']:
                if (self.is_layer(source) or source == data_id) and source + 1 < target:
                    jumped[source + 1] += 1
                    jumped[target] -= 1
        crossing, inside = 0, []
        for node_id in range(len(self.nodes)):
            crossing += jumped[node_id]
            if crossing and self.is_layer(node_id):
                inside.append(node_id)
        return inside

    def layers_read_only_by_batch_norm(self):
        """Indices of the layers whose output every reader normalises: all readers are BatchNorm layers."""
        reader_types = [set() for _ in self.nodes]
        for node in self.nodes:
            for source, _, _ in node['inputs']:
                reader_types[source].add(node['op'])
        return [node_id for node_id, types in enumerate(reader_types)
                if self.is_layer(node_id) and types == {consts.BATCH_NORM}]

    def names_of(self, node_ids):
        return [self.nodes[node_id]['name'] for node_id in node_ids]

    # ------------------------------------------------------------------------------- rewrites
    def without_top_layer(self):
        """The symbol with its output layer removed; the layer that fed it becomes the output."""
        head_id, _, _ = self.single_head('drop layers from the top')
        inputs = self.layer_inputs(head_id)
        if len(inputs) > 1:
            raise ModelError("Cannot drop layer '{}' from the top: it merges the outputs of layers {}, "
                             "so the new output would be ambiguous".format(
                                 self.nodes[head_id]['name'], self.names_of(inputs)))
        if not inputs:
            raise ModelError("Cannot drop layer '{}': it is the last layer that reads the data".format(
                self.nodes[head_id]['name']))
        new_head = next(entry for entry in self.nodes[head_id]['inputs'] if self.is_layer(entry[0]))
        return self._rebuild(self.nodes, [new_head])

    def without_bottom_layer(self):
        """The symbol with the layer that reads the data removed; all its readers read the data instead."""
        data_id = self.variable_id(self.data_name)
        first = self.consumers(data_id)
        if len(first) != 1:
            raise ModelError("Cannot drop from the bottom: the data input '{}' feeds {} layers {}, "
                             "so the layer to drop is ambiguous".format(
                                 self.data_name, len(first), self.names_of(first)))
        first_id = first[0]
        name = self.nodes[first_id]['name']
        if any(head[0] == first_id for head in self.heads):
            raise ModelError("Cannot drop layer '{}': it is an output of the model".format(name))
        nodes = [dict(node, inputs=[[data_id, 0, 0] if source == first_id else [source, index, version]
                                    for source, index, version in node['inputs']])
                 for node in self.nodes]
        return self._rebuild(nodes, self.heads)

    def with_global_stats(self, layer_names):
        """The symbol with the given BatchNorm layers normalising by their moving statistics.

        A BatchNorm in this mode neither uses nor updates batch statistics during training,
        which is how a frozen BatchNorm layer keeps its moving mean and variance.
        """
        batch_norms = {name for name in layer_names if self.layer_type(name) == consts.BATCH_NORM}
        return self.with_attributes({name: {'use_global_stats': 'True'} for name in batch_norms})

    def with_attributes(self, attributes_by_node):
        """The symbol with extra attributes set on the named nodes (layers or variables)."""
        nodes = [dict(node, attrs=dict(node.get('attrs', {}), **attributes_by_node[node['name']]))
                 if node['name'] in attributes_by_node else node
                 for node in self.nodes]
        return self._rebuild(nodes, self.heads)

    def renamed(self, new_layer_names):
        """The symbol with layers renamed by the dict ``new_layer_names`` (old name -> new name)."""
        nodes = [dict(node, name=new_layer_names.get(node['name'], node['name']))
                 if node['op'] != consts.VARIABLE_OP else node
                 for node in self.nodes]
        return self._rebuild(nodes, self.heads)

    def single_head(self, action):
        if len(self.heads) != 1:
            outputs = self.names_of([head[0] for head in self.heads])
            raise ModelError("Cannot {}: the model has {} outputs {}; choose one with update_sym "
                             "first".format(action, len(self.heads), outputs))
        return self.heads[0]

    def _rebuild(self, nodes, heads):
        """A symbol of the nodes reachable from ``heads``, re-indexed in their original order."""
        reachable = set()
        stack = [head[0] for head in heads]
        while stack:
            node_id = stack.pop()
            if node_id not in reachable:
                reachable.add(node_id)
                stack += [source for source, _, _ in nodes[node_id]['inputs']]
        kept = sorted(reachable)
        new_id = {old: new for new, old in enumerate(kept)}

        def remap(entry):
            return [new_id[entry[0]], entry[1], entry[2]]

        new_nodes = [dict(nodes[old], inputs=[remap(entry) for entry in nodes[old]['inputs']])
                     for old in kept]
        graph = {
            'nodes': new_nodes,
            'arg_nodes': [i for i, node in enumerate(new_nodes) if node['op'] == consts.VARIABLE_OP],
            'heads': [remap(head) for head in heads],
            'attrs': self._attrs,
        }
        return mx.sym.load_json(json.dumps(graph))
