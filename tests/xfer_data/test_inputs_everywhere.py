"""Every kind of input works wherever xfer takes an iterator, and gives what the same data in an NDArrayIter gives."""
import mxnet as mx
import numpy as np
import pytest

import xfer
from xfer import data, transferability
from xfer.model_handler import ModelHandler
from tests.xfer_data.conftest import IMAGE_SIZE
from tests.xfer_data.test_sources import TupleDescribedIter

LAYERS = ['act1', 'fc1']


def _image_iter_with_tuple_descriptors(image_folder, pixel_data, record_file, csv_files):
    """MXNet's own ImageIter over an image list (the issue's crash: its descriptors are tuples)."""
    root, _, folder_labels = image_folder
    files = ['{}/{}.png'.format(name, index % 4) for name, index in
             zip(np.repeat(['ant', 'bee', 'cat'], 4), range(12))]
    image_list = [[float(label), name] for label, name in zip(pixel_data[1], files)]
    return mx.image.ImageIter(5, (3, IMAGE_SIZE, IMAGE_SIZE), imglist=image_list, path_root=root,
                              aug_list=[mx.image.CenterCropAug((IMAGE_SIZE, IMAGE_SIZE))])


INPUTS = {
    'image_folder': lambda folder, pixels, rec, csv: data.from_image_folder(folder[0], IMAGE_SIZE, batch_size=5),
    'image_iter_tuples': _image_iter_with_tuple_descriptors,
    # 12 records in batches of 4: MXNet's record iterator re-reads them the same way every pass (see docs/data.md)
    'image_record_iter': lambda folder, pixels, rec, csv: mx.io.ImageRecordIter(
        path_imgrec=rec, data_shape=(3, IMAGE_SIZE, IMAGE_SIZE), batch_size=4, preprocess_threads=1),
    'csv_iter': lambda folder, pixels, rec, csv: mx.io.CSVIter(
        data_csv=csv[0], data_shape=(3, IMAGE_SIZE, IMAGE_SIZE), label_csv=csv[1], batch_size=5, round_batch=False),
    'ndarray_iter_tuples': lambda folder, pixels, rec, csv: TupleDescribedIter(pixels[0], pixels[1], batch_size=5),
    'numpy_tuple': lambda folder, pixels, rec, csv: pixels,
    'data_loader': lambda folder, pixels, rec, csv: mx.gluon.data.DataLoader(
        mx.gluon.data.ArrayDataset(pixels[0], pixels[1]), batch_size=5),
}


@pytest.fixture(params=sorted(INPUTS))
def given(request, image_folder, pixel_data, record_file, csv_files):
    """One kind of input over the 12 images, and the labels it carries (0.. for the folder, 3.. otherwise)."""
    made = INPUTS[request.param](image_folder, pixel_data, record_file, csv_files)
    labels = image_folder[2] if request.param == 'image_folder' else pixel_data[1]
    return made, labels


def _reference(pixel_data, labels):
    return mx.io.NDArrayIter(pixel_data[0], labels, batch_size=5)


def test_get_layer_output_reads_every_input_without_padding(given, rgb_source, pixel_data):
    made, labels = given
    handler = ModelHandler(rgb_source)
    expected, _ = handler.get_layer_output(_reference(pixel_data, labels), LAYERS)
    for _ in range(2):  # a second pass over the same input gives the same rows
        features, read_labels = handler.get_layer_output(made, LAYERS)
        np.testing.assert_array_equal(read_labels, labels)
        for layer in LAYERS:
            np.testing.assert_allclose(features[layer], expected[layer], rtol=1e-5, atol=1e-4)


def test_get_module_binds_to_every_input(given, rgb_source):
    made, _ = given
    module = ModelHandler(rgb_source).get_module(made)
    assert module.data_shapes[0].name == 'data' and module.data_shapes[0].shape[1:] == (3, IMAGE_SIZE, IMAGE_SIZE)


def test_lr_repurposer_predicts_the_given_labels_from_every_input(given, rgb_source, pixel_data):
    made, labels = given
    reference = xfer.LrRepurposer(rgb_source, ['fc1'])
    reference.repurpose(_reference(pixel_data, labels))
    repurposer = xfer.LrRepurposer(rgb_source, ['fc1'])
    repurposer.repurpose(made)
    predicted = repurposer.predict_label(made)
    np.testing.assert_array_equal(predicted, reference.predict_label(_reference(pixel_data, labels)))
    assert set(predicted) <= set(labels) and (predicted == labels).mean() > 0.9
    assert repurposer.predict_probability(made).shape == (12, 3)
    assert all(isinstance(d, mx.io.DataDesc) for d in repurposer.provide_data + repurposer.provide_label)


def test_fine_tuning_trains_on_every_input_with_a_numpy_validation_split(given, rgb_source, pixel_data):
    made, labels = given
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(rgb_source, 'act2', target_class_count=6, num_epochs=2,
                                                      optimizer='adam', optimizer_params={'learning_rate': 0.01})
    repurposer.repurpose(made, validation_iterator=(pixel_data[0], labels))
    assert len(repurposer.history['validation_accuracy']) == 2
    probabilities = repurposer.predict_probability(made)
    assert probabilities.shape == (12, 6)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(repurposer.predict_label(made), probabilities.argmax(axis=1))


def test_transferability_ranks_from_every_input(given, rgb_source, pixel_data):
    made, labels = given
    expected = transferability.rank_layers(rgb_source, _reference(pixel_data, labels), layer_names=LAYERS)
    ranking = transferability.rank_layers(rgb_source, made, layer_names=LAYERS)
    assert ranking.names == expected.names
    np.testing.assert_allclose([row.score for row in ranking], [row.score for row in expected], rtol=1e-3)
    sources = transferability.rank_sources({'rgb': rgb_source}, made)
    assert sources[0].dimension == 6 and sources[0].score <= 0


def test_a_record_file_the_batch_size_does_not_divide_is_read_exactly_by_image_iter(record_file, pixel_data,
                                                                                    rgb_source):
    """12 records in batches of 5: ``mx.image.ImageIter`` pads the last batch and says so, pass after pass
    (``mx.io.ImageRecordIter`` does not, see docs/data.md)."""
    made = mx.image.ImageIter(5, (3, IMAGE_SIZE, IMAGE_SIZE), path_imgrec=record_file)
    handler = ModelHandler(rgb_source)
    expected, _ = handler.get_layer_output(_reference(pixel_data, pixel_data[1]), ['fc1'])
    for _ in range(2):
        features, labels = handler.get_layer_output(made, ['fc1'])
        np.testing.assert_array_equal(labels, pixel_data[1])
        np.testing.assert_allclose(features['fc1'], expected['fc1'], rtol=1e-5, atol=1e-4)
