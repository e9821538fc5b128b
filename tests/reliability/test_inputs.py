"""Bad inputs are refused at the door, before any training, with an error that names the bad value."""
import os
import re

import mxnet as mx
import numpy as np
import pytest

import xfer
from xfer import validation
from xfer.data import from_image_folder, from_numpy
from xfer.model_handler import ModelHandler
from xfer.validation import InvalidInputError, InvalidParameterError
from tests.xfer_data.conftest import image_folder, rgb_source  # noqa: F401 (fixtures)


@pytest.fixture(scope='module')
def digits(mnist_digits):
    """60 real digits of all ten classes, as float32 images (n, 1, 28, 28)."""
    images, labels = mnist_digits
    return images[:60].astype(np.float32), labels[:60].astype(np.int64)


def _fine_tuner(source, target_class_count=10, **kwargs):
    return xfer.NeuralNetworkFineTuneRepurposer(source, 'fc1', target_class_count, num_epochs=1, batch_size=20,
                                                **kwargs)


class _StreamingIter(mx.io.DataIter):
    """Batches of an NDArrayIter handed on one by one: an iterator xfer cannot see into up front."""

    def __init__(self, images, labels, batch_size=20):
        self._inner = mx.io.NDArrayIter(images, labels, batch_size=batch_size, label_name='softmax_label')
        super().__init__(batch_size)
        self.provide_data = self._inner.provide_data
        self.provide_label = self._inner.provide_label

    def reset(self):
        self._inner.reset()

    def next(self):
        return self._inner.next()


# ============================================================================ non-finite values
@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_a_non_finite_pixel_in_numpy_data_is_refused_up_front(digits, bad):
    images, labels = digits
    images = images.copy()
    images[7, 0, 3, 4] = bad
    with pytest.raises(InvalidInputError, match=re.escape('X hold 1 non-finite values (NaN or inf), the first at '
                                                          '(7, 0, 3, 4): {}'.format(bad))):
        from_numpy(images, labels)


def test_a_nan_pixel_in_a_streamed_batch_stops_fine_tuning_before_it_trains(lenet_module, digits):
    images, labels = digits
    images = images.copy()
    images[45, 0, 10, 10] = np.nan  # third batch of 20
    repurposer = _fine_tuner(lenet_module)
    with pytest.raises(InvalidInputError, match=r"The data 'data' of batch 3 hold 1 non-finite values .* nan"):
        repurposer.repurpose(_StreamingIter(images, labels))
    assert repurposer.target_model is None and repurposer.history == {}


def test_a_nan_pixel_in_an_ndarray_iter_stops_fine_tuning_before_it_trains(lenet_module, digits):
    images, labels = digits
    images = images.copy()
    images[2, 0, 0, 0] = np.nan
    repurposer = _fine_tuner(lenet_module)
    with pytest.raises(InvalidInputError, match=r'The training data hold 1 non-finite values .* \(2, 0, 0, 0\)'):
        repurposer.repurpose(mx.io.NDArrayIter(images, labels, batch_size=20))
    assert repurposer.target_model is None


def test_a_nan_pixel_in_a_streamed_batch_stops_feature_extraction(lenet_module, digits):
    images, labels = digits
    images = images.copy()
    images[0, 0, 5, 5] = np.inf
    with pytest.raises(InvalidInputError, match=r"The data 'data' of batch 1 hold 1 non-finite"):
        ModelHandler(lenet_module).get_layer_output(_StreamingIter(images, labels), ['fc1'])
    with pytest.raises(InvalidInputError, match=r"The data 'data' of batch 1 hold 1 non-finite"):
        xfer.LrRepurposer(lenet_module, ['fc1']).repurpose(_StreamingIter(images, labels))


def test_non_finite_features_are_refused(digits):
    """A network whose layer overflows float32 gives infinite features: refused, naming the layer."""
    data = mx.sym.var('data')
    huge = mx.sym.FullyConnected(mx.sym.flatten(data, name='flat'), num_hidden=4, name='huge')
    out = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(huge, num_hidden=10, name='fc'), name='softmax')
    module = mx.mod.Module(out)
    module.bind(data_shapes=[('data', (20, 1, 28, 28))], label_shapes=[('softmax_label', (20,))])
    module.init_params(mx.init.Constant(1e38))
    with pytest.raises(InvalidInputError, match=r"The features of layer 'huge' hold 240 non-finite values"):
        xfer.LrRepurposer(module, ['huge']).repurpose(from_numpy(*digits, batch_size=20))


# ====================================================================================== labels
@pytest.mark.parametrize('bad_label', [0.4, 1.6, 2.9])
def test_labels_that_are_not_whole_numbers_are_refused_not_truncated(digits, bad_label):
    images, labels = digits
    labels = labels.astype(np.float64)
    labels[5] = bad_label
    with pytest.raises(InvalidInputError, match=r'y must be whole numbers \(class ids\), got {} at index 5'.format(
            bad_label)):
        from_numpy(images, labels)


def test_non_whole_labels_of_an_iterator_are_refused(lenet_module, digits):
    images, labels = digits
    labels = labels.astype(np.float32)
    labels[25] = 1.5
    with pytest.raises(InvalidInputError, match=r'The labels of batch 2 must be whole numbers .* got 1.5'):
        ModelHandler(lenet_module).get_layer_output(mx.io.NDArrayIter(images, labels, batch_size=20), ['fc1'])


def test_a_label_float32_cannot_hold_is_refused(digits):
    images, labels = digits
    labels = labels.copy()
    labels[0] = 16777217
    with pytest.raises(InvalidInputError, match=r'y must be below 2\*\*24 = 16777216 in magnitude .* got 16777217'):
        from_numpy(images, labels)


@pytest.mark.parametrize('bad_label', [5, 9, -1])
def test_fine_tuning_labels_outside_the_target_classes_are_refused(lenet_module, digits, bad_label):
    images, labels = digits
    labels = labels % 5
    labels[3] = bad_label
    with pytest.raises(InvalidInputError, match=re.escape('The training labels must lie in 0..4 '
                                                          '(target_class_count=5), got [{}]'.format(bad_label))):
        _fine_tuner(lenet_module, 5).repurpose((images, labels))


def test_out_of_range_labels_of_a_streamed_validation_set_are_named(lenet_module, digits):
    images, labels = digits
    repurposer = _fine_tuner(lenet_module, 10)
    bad = labels.copy()
    bad[1] = 12
    with pytest.raises(InvalidInputError, match=re.escape('must lie in 0..9 (target_class_count=10), got [12]')):
        repurposer.repurpose((images, labels), validation_iterator=_StreamingIter(images, bad))


@pytest.mark.parametrize('make', [
    lambda source: _fine_tuner(source),
    lambda source: xfer.NeuralNetworkRandomFreezeRepurposer(source, 10, [], [], num_epochs=1),
    lambda source: xfer.LrRepurposer(source, ['fc1']),
    lambda source: xfer.SvmRepurposer(source, ['fc1']),
    lambda source: xfer.BnnRepurposer(source, ['fc1'], num_epochs=2),
    lambda source: xfer.GpRepurposer(source, ['fc1']),
], ids=['fine_tune', 'random_freeze', 'lr', 'svm', 'bnn', 'gp'])
def test_training_on_one_class_is_refused(lenet_module, digits, make):
    images, _ = digits
    repurposer = make(lenet_module)
    with pytest.raises(InvalidInputError, match=r'The training labels hold only the class \[3\]: training needs at '
                                                r'least two classes'):
        repurposer.repurpose((images, np.full(len(images), 3)))
    assert repurposer.target_model is None


@pytest.mark.parametrize('make', [lambda source: _fine_tuner(source),
                                  lambda source: xfer.LrRepurposer(source, ['fc1'])], ids=['fine_tune', 'lr'])
def test_training_without_labels_says_labels_are_missing(lenet_module, digits, make):
    with pytest.raises(InvalidInputError, match=r'The training iterator provides no labels \(its provide_label is '
                                                r'empty\) but a .* needs them'):
        make(lenet_module).repurpose(mx.io.NDArrayIter(digits[0], batch_size=20))


# =================================================================================== iterators
def test_an_empty_iterator_is_refused(lenet_module):
    empty = mx.io.NDArrayIter(np.zeros((0, 1, 28, 28), np.float32), batch_size=4)
    with pytest.raises(InvalidInputError, match='The iterator yielded no batch: it is empty'):
        ModelHandler(lenet_module).get_layer_output(empty, ['fc1'])


def test_an_empty_numpy_array_is_refused():
    with pytest.raises(ValueError, match=r'X must hold at least one sample .* got shape \(0, 1, 28, 28\)'):
        from_numpy(np.zeros((0, 1, 28, 28), np.float32))


def test_rolling_over_is_refused_everywhere(lenet_module, digits):
    images, labels = digits
    rolling = mx.io.NDArrayIter(images, labels, batch_size=16, last_batch_handle='roll_over')
    message = r"last_batch_handle='roll_over'.* use 'pad' \(xfer drops the padding\) or 'discard'"
    with pytest.raises(InvalidInputError, match=message):
        xfer.LrRepurposer(lenet_module, ['fc1']).repurpose(rolling)
    with pytest.raises(InvalidInputError, match=message):
        _fine_tuner(lenet_module).repurpose(rolling)
    with pytest.raises(InvalidParameterError, match=r"last_batch_handle must be one of \['pad', 'discard'\], got "
                                                    r"'roll_over'"):
        from_numpy(images, labels, last_batch_handle='roll_over')
    dataset = mx.gluon.data.ArrayDataset(images, labels.astype(np.float32))
    loader = mx.gluon.data.DataLoader(dataset, batch_size=16, last_batch='rollover')
    with pytest.raises(InvalidInputError, match=r"last_batch_handle='rollover'"):
        ModelHandler(lenet_module).get_layer_output(loader, ['fc1'])


def test_padding_and_discarding_give_one_row_per_sample_read(lenet_module, digits):
    images, labels = digits
    fitted = xfer.LrRepurposer(lenet_module, ['fc1'])
    fitted.repurpose(mx.io.NDArrayIter(images, labels, batch_size=16, last_batch_handle='pad'))
    assert fitted.predict_label(mx.io.NDArrayIter(images, labels, batch_size=16)).shape == (60,)
    discarding = mx.io.NDArrayIter(images, labels, batch_size=16, last_batch_handle='discard')
    assert fitted.predict_label(discarding).shape == (48,)


# ====================================================================================== shapes
def test_flat_data_into_a_convolutional_network_names_both_shapes(lenet_module, digits):
    flat = digits[0].reshape(60, 784)
    message = (r"Data of shape \(64, 784\) do not fit the network: layer 'conv1' \(Convolution\) reads data of "
               r"shape \(batch, 1, height, width\)")
    with pytest.raises(InvalidInputError, match=message):
        ModelHandler(lenet_module).get_layer_output(flat, ['fc1'])
    with pytest.raises(InvalidInputError, match=message):
        xfer.LrRepurposer(lenet_module, ['fc1']).repurpose((flat, digits[1]))
    with pytest.raises(InvalidInputError, match=message.replace('64', '20')):
        _fine_tuner(lenet_module).repurpose((flat, digits[1]))
    with pytest.raises(InvalidInputError, match=r'Data of shape \(1, 784\) do not fit the network: layer \'conv1\''):
        ModelHandler(lenet_module).summary((1, 784), print_fn=lambda line: None)


def test_data_shape_problem_says_none_for_data_the_network_reads(lenet_module):
    handler = ModelHandler(lenet_module)
    assert handler.data_shape_problem((5, 1, 28, 28)) is None
    assert 'Input data should be 4D' in handler.data_shape_problem((5, 784))


def test_images_of_another_size_than_the_source_was_trained_on_name_the_data_shape(lenet_module):
    with pytest.raises(xfer.model_handler.exceptions.ModelArchitectureError,
                       match=r"Param 'fc1_weight' has shape .* for data of shape \(64, 1, 32, 32\)"):
        ModelHandler(lenet_module).get_layer_output(np.zeros((4, 1, 32, 32), np.float32), ['fc1'])


def test_test_images_of_another_size_than_training_name_both_shapes(lenet_module, digits):
    repurposer = _fine_tuner(lenet_module)
    repurposer.repurpose(digits)
    with pytest.raises(InvalidInputError, match=re.escape("The data 'data' have shape (20, 1, 32, 32) per batch but "
                                                          "the repurposer was trained on (20, 1, 28, 28): give "
                                                          "samples of shape (1, 28, 28)")):
        repurposer.predict_label(np.zeros((4, 1, 32, 32), np.float32))


def test_a_meta_model_given_images_its_source_cannot_read_names_both_shapes(lenet_module, digits):
    repurposer = xfer.LrRepurposer(lenet_module, ['fc1'])
    repurposer.repurpose(digits)
    with pytest.raises(InvalidInputError, match=re.escape("The data 'data' have shape (64, 1, 32, 32) per batch but "
                                                          "the repurposer was trained on (64, 1, 28, 28)")):
        repurposer.predict_label(np.zeros((4, 1, 32, 32), np.float32))


def test_a_meta_model_given_features_of_another_width_names_the_layers_and_both_counts(lenet_module, digits):
    repurposer = xfer.LrRepurposer(lenet_module, ['pool1'])
    repurposer.repurpose(digits)
    with pytest.raises(InvalidInputError, match=re.escape("The features of layers ['pool1'] have 8192 columns here "
                                                          "but 4608 when the meta-model was trained")):
        repurposer.predict_label(np.zeros((4, 1, 36, 36), np.float32))


# ==================================================================================== contexts
def test_a_gpu_context_without_gpus_is_refused_at_first_use(lenet_module, digits, monkeypatch):
    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 0)
    message = r'context_function=mx.gpu with num_devices=1 but this machine has 0 GPUs; use mx.cpu'
    with pytest.raises(InvalidParameterError, match=message):
        xfer.LrRepurposer(lenet_module, ['fc1'], context_function=mx.gpu).repurpose(digits)
    with pytest.raises(InvalidParameterError, match=message):
        _fine_tuner(lenet_module, context_function=mx.gpu).repurpose(digits)
    with pytest.raises(InvalidParameterError, match=message):
        xfer.BnnRepurposer(lenet_module, ['fc1'], bnn_context_function=mx.gpu, num_epochs=2).repurpose(digits)


def test_more_gpus_than_the_machine_has_are_refused(lenet_module, digits, monkeypatch):
    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 2)
    with pytest.raises(InvalidParameterError, match=r'num_devices=3 but this machine has 2 GPUs'):
        ModelHandler(lenet_module, mx.gpu, num_devices=3).get_layer_output(digits, ['fc1'])


# ============================================================================= hyperparameters
FINE_TUNE = (lambda source, **kwargs: xfer.NeuralNetworkFineTuneRepurposer(source, 'fc1', **kwargs))


@pytest.mark.parametrize('make, arguments, name', [
    (FINE_TUNE, dict(target_class_count=0), 'target_class_count'),
    (FINE_TUNE, dict(target_class_count='five'), 'target_class_count'),
    (FINE_TUNE, dict(target_class_count=2.5), 'target_class_count'),
    (FINE_TUNE, dict(target_class_count=4, num_epochs=0), 'num_epochs'),
    (FINE_TUNE, dict(target_class_count=4, batch_size=-3), 'batch_size'),
    (FINE_TUNE, dict(target_class_count=4, optimizer_params={'learning_rate': 0}), "optimizer_params['learning_rate']"),
    (FINE_TUNE, dict(target_class_count=4, optimizer_params={'learning_rate': 'abc'}),
     "optimizer_params['learning_rate']"),
    (FINE_TUNE, dict(target_class_count=4, optimizer_params={'momentum': float('nan')}),
     "optimizer_params['momentum']"),
    (FINE_TUNE, dict(target_class_count=4, optimizer='no_such_optimizer'), 'optimizer'),
    (FINE_TUNE, dict(target_class_count=4, transferred_learning_rate_multiplier=-1), 'transferred_learning_rate'),
    (lambda source, **kwargs: xfer.NeuralNetworkRandomFreezeRepurposer(source, 4, [], [], **kwargs),
     dict(num_layers_to_drop=0), 'num_layers_to_drop'),
    (lambda source, **kwargs: xfer.LrRepurposer(source, ['fc1'], **kwargs), dict(c='abc'), 'c'),
    (lambda source, **kwargs: xfer.LrRepurposer(source, ['fc1'], **kwargs), dict(c=0), 'c'),
    (lambda source, **kwargs: xfer.LrRepurposer(source, ['fc1'], **kwargs), dict(tol=-1e-4), 'tol'),
    (lambda source, **kwargs: xfer.LrRepurposer(source, ['fc1'], **kwargs), dict(n_jobs=0), 'n_jobs'),
    (lambda source, **kwargs: xfer.SvmRepurposer(source, ['fc1'], **kwargs), dict(kernel='cubic'), 'kernel'),
    (lambda source, **kwargs: xfer.SvmRepurposer(source, ['fc1'], **kwargs), dict(c=float('inf')), 'c'),
    (lambda source, **kwargs: xfer.SvmRepurposer(source, ['fc1'], **kwargs), dict(gamma='big'), 'gamma'),
    (lambda source, **kwargs: xfer.BnnRepurposer(source, ['fc1'], **kwargs), dict(n_hidden=0), 'n_hidden'),
    (lambda source, **kwargs: xfer.BnnRepurposer(source, ['fc1'], **kwargs), dict(num_layers=-1), 'num_layers'),
    (lambda source, **kwargs: xfer.BnnRepurposer(source, ['fc1'], **kwargs), dict(sigma=0), 'sigma'),
    (lambda source, **kwargs: xfer.BnnRepurposer(source, ['fc1'], **kwargs), dict(learning_rate='abc'),
     'learning_rate'),
], ids=lambda value: None if callable(value) else str(value))
def test_invalid_hyperparameters_are_named_at_construction(lenet_module, make, arguments, name):
    bad = list(arguments.values())[-1]
    if isinstance(bad, dict):
        bad = list(bad.values())[0]
    with pytest.raises(InvalidParameterError, match=r'{}.* got .*{}'.format(re.escape(name), re.escape(repr(bad)))):
        make(lenet_module, **arguments)


@pytest.mark.parametrize('patience', [0, -1, 1.5, 'two'])
def test_patience_must_be_a_positive_int_and_is_checked_before_training(lenet_module, digits, patience):
    repurposer = _fine_tuner(lenet_module)
    with pytest.raises(InvalidParameterError, match=r'patience must be an integer of at least 1, got {}'.format(
            re.escape(repr(patience)))):
        repurposer.repurpose(digits, validation_iterator=digits, patience=patience)
    assert repurposer.target_model is None


def test_invalid_parameter_errors_are_value_and_type_errors():
    with pytest.raises(ValueError):
        validation.check_integer('n', 'five')
    with pytest.raises(TypeError):
        validation.check_integer('n', 'five')


# ========================================================================================= saving
def test_saving_into_a_missing_directory_names_it(lenet_module, digits, tmp_path):
    repurposer = xfer.LrRepurposer(lenet_module, ['fc1'])
    repurposer.repurpose(digits)
    missing = os.path.join(str(tmp_path), 'missing')
    with pytest.raises(FileNotFoundError, match=r"the directory '?{}'? does not exist".format(re.escape(missing))):
        repurposer.save_repurposer(os.path.join(missing, 'm'))
    assert not os.path.exists(missing)


# ================================================================================ valid inputs
def test_labels_that_do_not_start_at_zero_still_work_for_meta_models(lenet_module, digits):
    images, labels = digits
    keep = np.isin(labels, [3, 7, 9])
    repurposer = xfer.LrRepurposer(lenet_module, ['fc1'])
    repurposer.repurpose((images[keep], labels[keep]))
    predicted = repurposer.predict_label((images[keep], labels[keep]))
    assert set(predicted) <= {3, 7, 9}
    assert np.mean(predicted == labels[keep]) > 0.8


def test_an_image_iter_over_an_image_folder_still_works(image_folder, rgb_source):
    """ImageIter describes its outputs with tuples and pads its last batch: still read exactly."""
    root, images, labels = image_folder
    iterator = from_image_folder(root, image_size=16, batch_size=5)
    repurposer = xfer.LrRepurposer(rgb_source, ['fc1'])
    repurposer.repurpose(iterator)
    np.testing.assert_array_equal(repurposer.predict_label(iterator), labels)


def test_an_image_folder_refuses_to_roll_over(image_folder):
    with pytest.raises(InvalidParameterError, match=r"last_batch_handle must be one of \['pad', 'discard'\]"):
        from_image_folder(image_folder[0], image_size=16, batch_size=5, last_batch_handle='roll_over')


@pytest.mark.parametrize('num_devices', [0, 1.5, 'two'])
def test_a_bad_device_count_is_named_at_construction(lenet_module, num_devices):
    with pytest.raises(InvalidParameterError, match=r'num_devices must be an integer of at least 1, got {}'.format(
            re.escape(repr(num_devices)))):
        _fine_tuner(lenet_module, num_devices=num_devices)


def test_an_optimizer_instance_is_still_accepted(lenet_module):
    optimizer = mx.optimizer.Adam(learning_rate=1e-3)
    assert _fine_tuner(lenet_module, optimizer=optimizer).optimizer is optimizer


def test_an_image_iter_that_rolls_over_is_refused_through_its_wrapper(image_folder, rgb_source):
    """ImageIter describes its outputs with tuples, so xfer wraps it; the setting is still found."""
    root, images, labels = image_folder
    lines = [[float(label), os.path.join(name, '{}.png'.format(index))]
             for label, name in enumerate(['ant', 'bee', 'cat']) for index in range(4)]
    rolling = mx.image.ImageIter(5, (3, 16, 16), imglist=lines, path_root=root, last_batch_handle='roll_over')
    with pytest.raises(InvalidInputError, match=r"last_batch_handle='roll_over'"):
        xfer.LrRepurposer(rgb_source, ['fc1']).repurpose(rolling)


def test_a_fine_tuned_network_predicts_data_without_labels(lenet_module, digits, tmp_path):
    """Its output layer reads a label, but predicting needs none: the same numbers with or without."""
    images, labels = digits
    repurposer = _fine_tuner(lenet_module)
    repurposer.repurpose((images, labels))
    with_labels = repurposer.predict_probability(mx.io.NDArrayIter(images[:7], labels[:7], batch_size=5))
    np.testing.assert_allclose(repurposer.predict_probability(images[:7]), with_labels, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(repurposer.predict_probability(mx.io.NDArrayIter(images[:7], batch_size=5)),
                               with_labels, rtol=1e-4, atol=1e-6)
    repurposer.save_repurposer('tuned', str(tmp_path))
    loaded = xfer.load(str(tmp_path / 'tuned'), source_model=lenet_module)
    np.testing.assert_allclose(loaded.predict_probability(mx.io.NDArrayIter(images[:7], batch_size=5)),
                               with_labels, rtol=1e-4, atol=1e-6)


class _PaddedWithGarbage(mx.io.DataIter):
    """One batch of 4 rows whose last 2 are padding filled with NaN, as some readers leave them."""

    def __init__(self):
        super().__init__(4)
        self.provide_data = [mx.io.DataDesc('data', (4, 3))]
        self.provide_label = [mx.io.DataDesc('softmax_label', (4,))]
        self._done = False

    def reset(self):
        self._done = False

    def next(self):
        if self._done:
            raise StopIteration
        self._done = True
        data = mx.nd.array([[1, 2, 3], [4, 5, 6], [np.nan] * 3, [np.nan] * 3])
        return mx.io.DataBatch([data], [mx.nd.array([0, 1, np.nan, np.nan])], pad=2)


def test_the_padding_of_a_last_batch_is_not_checked():
    checked = validation.checked_iterator(_PaddedWithGarbage(), class_count=2)
    batch = checked.next()
    assert batch.pad == 2
    with pytest.raises(StopIteration):
        checked.next()


def test_the_padding_of_a_last_batch_is_not_read_as_training_labels():
    validation.check_training_labels(_PaddedWithGarbage(), class_count=2)
