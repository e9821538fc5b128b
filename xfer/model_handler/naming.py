"""MXNet's naming conventions for graph inputs and outputs, in one place for the rest of xfer."""
from . import consts


def label_names(symbol):
    """The arguments of ``symbol`` that are label inputs (``softmax_label``...)."""
    return [name for name in symbol.list_arguments() if name.endswith(consts.LABEL_SUFFIX)]


def output_layer_name(symbol):
    """The name of the layer that makes ``symbol``'s first output (``softmax_output`` -> ``softmax``)."""
    return symbol.list_outputs()[0].rsplit(consts.OUTPUT_SUFFIX, 1)[0]


def output_name_for_label(label_name):
    """The name MXNet gives an output layer reading ``label_name`` (``softmax_label`` -> ``softmax``)."""
    if label_name.endswith(consts.LABEL_SUFFIX):
        return label_name[:-len(consts.LABEL_SUFFIX)]
    return label_name + consts.OUTPUT_SUFFIX
