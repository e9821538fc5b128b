"""A fingerprint of a network, so that a saved repurposer can tell whether it meets its own source again."""
import hashlib
import json

from .symbol_graph import SymbolGraph

#: The fingerprint's keys, in the order differences are reported.
FINGERPRINT_KEYS = ('graph_sha256', 'parameter_shapes', 'parameters_sha256')


def network_fingerprint(handler):
    """Checksums of a :class:`ModelHandler`'s graph (operators, names, wiring, attributes) and of its
    params' values, and the params' shapes, as JSON values."""
    graph = SymbolGraph(handler.symbol, handler.data_name)
    structure = [[node['op'], node['name'], [entry[:2] for entry in node['inputs']], node.get('attrs', {})]
                 for node in graph.nodes]  # an input's third number is a version counter that saving changes
    heads = [head[:2] for head in graph.heads]
    graph_digest = hashlib.sha256(json.dumps([structure, heads], sort_keys=True).encode('utf-8'))
    params = [('arg:' + name, value) for name, value in sorted(handler.arg_params.items())]
    params += [('aux:' + name, value) for name, value in sorted(handler.aux_params.items())]
    values_digest = hashlib.sha256()
    for name, value in params:
        array = value.asnumpy()
        values_digest.update('{}|{}|{}|'.format(name, array.dtype.str, array.shape).encode('utf-8'))
        values_digest.update(array.tobytes())
    return {'graph_sha256': graph_digest.hexdigest(),
            'parameter_shapes': {name: list(value.shape) for name, value in params},
            'parameters_sha256': values_digest.hexdigest()}


def fingerprint_differences(saved, current):
    """What differs between two fingerprints, as short sentences (empty when they match)."""
    differences = []
    if saved.get('graph_sha256') != current['graph_sha256']:
        differences.append('the graph (layers, wiring or layer settings) differs')
    saved_shapes, shapes = saved.get('parameter_shapes') or {}, current['parameter_shapes']
    changed = sorted(name for name in set(saved_shapes) | set(shapes) if saved_shapes.get(name) != shapes.get(name))
    if changed:
        differences.append('params {} differ in shape or presence (e.g. {}: saved {}, given {})'.format(
            len(changed), changed[0], saved_shapes.get(changed[0]), shapes.get(changed[0])))
    elif saved.get('parameters_sha256') != current['parameters_sha256']:
        differences.append("the params' values differ")
    return differences
