"""feature_layer_names='auto': layers chosen by LogME on the training data, kept through save and load."""
import mxnet as mx
import numpy as np
import pytest

import xfer
from xfer import transferability
from xfer.model_handler import ModelHandler


@pytest.fixture
def train_iterator(mnist_digits):
    images, labels = mnist_digits
    return mx.io.NDArrayIter(images[:150], labels[:150], batch_size=25, label_name='softmax_label')


def test_auto_keeps_the_best_ranked_layers(lenet_module, train_iterator, monkeypatch):
    passes = []
    original = ModelHandler.get_layer_output
    monkeypatch.setattr(ModelHandler, 'get_layer_output',
                        lambda handler, iterator, names: passes.append(names) or original(handler, iterator, names))
    repurposer = xfer.LrRepurposer(lenet_module, 'auto:2')
    repurposer.repurpose(train_iterator)
    assert len(passes) == 1, 'ranking and training share one pass through the network'
    candidates = transferability.candidate_layers(ModelHandler(lenet_module), skip_superseded=True)
    expected = transferability.rank_layers(lenet_module, train_iterator, layer_names=candidates)
    assert repurposer.layer_ranking.names == expected.names
    assert 'conv2' not in candidates and 'act2' not in candidates, 'maps that are pooled later are left out'
    assert repurposer.selected_feature_layer_names == expected.names[:2]
    widths = [row.dimension for row in expected.rows[:2]]
    assert repurposer.target_model.coef_.shape[1] == sum(widths)
    assert repurposer.get_params()['feature_layer_names'] == 'auto:2'


def test_the_choice_is_saved_and_loaded(lenet_module, train_iterator, tmp_path):
    repurposer = xfer.LrRepurposer(lenet_module, 'auto')
    repurposer.repurpose(train_iterator)
    repurposer.save_repurposer('auto', str(tmp_path))
    loaded = xfer.load('auto', str(tmp_path))
    assert loaded.selected_feature_layer_names == repurposer.selected_feature_layer_names
    np.testing.assert_array_equal(loaded.predict_probability(train_iterator),
                                  repurposer.predict_probability(train_iterator))


def test_features_before_the_choice_is_made(lenet_module, train_iterator):
    with pytest.raises(ValueError, match=r"chosen \('auto'\) when repurpose runs"):
        xfer.LrRepurposer(lenet_module, 'auto').get_features_from_source_model(train_iterator)


@pytest.mark.parametrize('spec', ['auto:0', 'auto:x', 'automatic'])
def test_bad_auto_specs_are_named(lenet_module, spec):
    with pytest.raises(TypeError, match="'auto' or 'auto:N' \\(N >= 1\\), got '{}'".format(spec)):
        xfer.LrRepurposer(lenet_module, spec)
