"""xfer.data's iterators: from_numpy, from_image_folder, shards, and as_data_iter's conversions."""
import mxnet as mx
import numpy as np
import pytest

import xfer
from xfer import data
from tests.xfer_data.conftest import CLASS_COLOURS, IMAGE_SIZE


def passed_rows(iterator):
    """Data and labels of one pass over ``iterator``, without the padding of the last batch."""
    iterator.reset()
    images, labels = [], []
    for batch in iterator:
        valid = batch.data[0].shape[0] - (batch.pad or 0)
        images.append(batch.data[0].asnumpy()[:valid])
        if batch.label:
            labels.append(batch.label[0].asnumpy()[:valid])
    return np.concatenate(images), (np.concatenate(labels) if labels else None)


def test_image_folder_classes_are_the_sorted_subfolders(image_folder):
    root, images, labels = image_folder
    iterator = data.from_image_folder(root, IMAGE_SIZE, batch_size=5)
    assert iterator.class_names == sorted(CLASS_COLOURS) == ['ant', 'bee', 'cat']
    assert isinstance(iterator, mx.image.ImageIter)
    pixels, read_labels = passed_rows(iterator)
    np.testing.assert_array_equal(read_labels, labels)
    assert pixels.shape == (12, 3, IMAGE_SIZE, IMAGE_SIZE) and pixels.dtype == np.float32


def test_image_folder_gives_raw_rgb_centre_crops_and_grayscale_as_three_channels(image_folder):
    root, images, labels = image_folder
    pixels, _ = passed_rows(data.from_image_folder(root, IMAGE_SIZE, batch_size=5))
    np.testing.assert_array_equal(pixels, images)  # 16 x 24 images: the centre 16 x 16, values 0-255
    assert pixels.max() > 200
    grayscale = pixels[labels == 0]
    np.testing.assert_array_equal(grayscale[:, 0], grayscale[:, 1])
    np.testing.assert_array_equal(grayscale[:, 0], grayscale[:, 2])


def test_image_folder_resizes_the_shorter_side_before_cropping(image_folder):
    root, images, _ = image_folder
    pixels, _ = passed_rows(data.from_image_folder(root, 8, batch_size=12))
    assert pixels.shape == (12, 3, 8, 8)
    # halving 16 x 24 to 8 x 12 and cropping the centre 8 x 8 keeps each image's mean colour
    np.testing.assert_allclose(pixels.mean(axis=(2, 3)), images.mean(axis=(2, 3)), atol=4)


def test_image_folder_errors_name_the_folder(tmp_path):
    with pytest.raises(ValueError, match='does not exist or is not a folder'):
        data.from_image_folder(str(tmp_path / 'missing'), 8, 2)
    with pytest.raises(ValueError, match='has no subfolders'):
        data.from_image_folder(str(tmp_path), 8, 2)
    (tmp_path / 'empty_class').mkdir()
    with pytest.raises(ValueError, match="empty_class' holds no image"):
        data.from_image_folder(str(tmp_path), 8, 2)
    with pytest.raises(ValueError, match=r"image_size must be a positive int .* got \(8, 8\)"):
        data.from_image_folder(str(tmp_path), (8, 8), 2)


@pytest.mark.parametrize('num_parts', [1, 2, 3, 5])
def test_shards_cover_every_sample_exactly_once(num_parts):
    shards = [data.shard_indices(11, num_parts, part) for part in range(num_parts)]
    np.testing.assert_array_equal(np.sort(np.concatenate(shards)), np.arange(11))
    sizes = [len(shard) for shard in shards]
    assert max(sizes) - min(sizes) <= 1


def test_numpy_shards_cover_the_data_exactly_once_with_every_class():
    X = np.arange(11, dtype=np.float32).reshape(11, 1)
    y = np.repeat([4, 5, 6], [4, 4, 3])  # sorted by class, as arrays often are
    seen = []
    for part in range(3):
        rows, labels = passed_rows(data.from_numpy(X, y, batch_size=2, num_parts=3, part_index=part))
        assert set(labels) == {4, 5, 6}, 'strided shards give every worker every class'
        np.testing.assert_array_equal(labels, y[rows[:, 0].astype(int)])
        seen.append(rows[:, 0])
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(11))


def test_image_folder_shards_cover_the_images_exactly_once(image_folder):
    root, images, labels = image_folder
    parts = [passed_rows(data.from_image_folder(root, IMAGE_SIZE, batch_size=3, num_parts=2, part_index=part))
             for part in range(2)]
    assert [len(part[1]) for part in parts] == [6, 6]
    np.testing.assert_array_equal(np.concatenate([part[0] for part in parts]),
                                  np.concatenate([images[0::2], images[1::2]]))


def test_shard_arguments_are_checked():
    with pytest.raises(ValueError, match=r'part_index must be in 0..2 for num_parts=3, got 3'):
        data.shard_indices(10, 3, 3)
    with pytest.raises(ValueError, match=r'num_parts must be an int >= 1, got 0'):
        data.shard_indices(10, 0, 0)
    with pytest.raises(ValueError, match='Cannot split 2 samples into num_parts=3 shards'):
        data.from_numpy(np.zeros((2, 1)), num_parts=3, part_index=0)


def test_from_numpy_pads_the_last_batch_and_reads_float32():
    X = np.arange(10, dtype=np.float64).reshape(5, 2)
    iterator = data.from_numpy(X, np.array([7, 8, 7, 8, 9]), batch_size=2)
    assert iterator.provide_data[0].shape == (2, 2) and iterator.provide_data[0].dtype == np.float32
    rows, labels = passed_rows(iterator)
    np.testing.assert_array_equal(rows, X)
    np.testing.assert_array_equal(labels, [7, 8, 7, 8, 9])
    assert passed_rows(data.from_numpy(X))[1] is None


def test_from_numpy_checks_its_arrays():
    with pytest.raises(TypeError, match='X must be a numpy array, got list'):
        data.from_numpy([[1.0]])
    with pytest.raises(ValueError, match=r'y must have shape \(3,\), one class per sample of X, got \(2,\)'):
        data.from_numpy(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match='batch_size must be a positive int, got 0'):
        data.from_numpy(np.zeros((3, 2)), batch_size=0)


class TupleDescribedIter(mx.io.NDArrayIter):
    """An NDArrayIter describing its data and labels as ``(name, shape)`` tuples, as ImageIter does."""

    @property
    def provide_data(self):
        return [(d.name, d.shape) for d in super().provide_data]

    @property
    def provide_label(self):
        return [(d.name, d.shape) for d in super().provide_label]


def test_tuple_descriptors_become_data_descs():
    iterator = data.as_data_iter(TupleDescribedIter(np.zeros((5, 2)), np.ones(5), batch_size=2))
    assert isinstance(iterator, data.DescribedIter)
    assert iterator.provide_data == [mx.io.DataDesc('data', (2, 2))]
    assert iterator.provide_label == [mx.io.DataDesc('softmax_label', (2,))]
    assert iterator.num_data == 5, 'other attributes are the wrapped iterator\'s'
    assert len(passed_rows(iterator)[0]) == 5


def test_as_data_iter_keeps_described_iterators_and_reads_arrays():
    iterator = mx.io.NDArrayIter(np.zeros((5, 2)), batch_size=2)
    assert data.as_data_iter(iterator) is iterator
    X, y = np.arange(6.0).reshape(3, 2), np.array([1, 2, 1])
    for converted in (data.as_data_iter(X, y, batch_size=2), data.as_data_iter((X, y), batch_size=2)):
        assert converted.provide_data[0].shape == (2, 2)
        np.testing.assert_array_equal(passed_rows(converted)[1], y)
    assert data.as_data_iter(X).provide_data[0].shape == (data.DEFAULT_BATCH_SIZE, 2)


def test_as_data_iter_names_what_it_refuses():
    with pytest.raises(TypeError, match=r'Expected an mxnet.io.DataIter, a numpy array, an \(X, y\) tuple of numpy '
                                        r'arrays or a gluon.data.DataLoader, got list'):
        data.as_data_iter([[1.0, 2.0]])
    with pytest.raises(TypeError, match='label is only taken with a numpy array as data, got data of type NDArrayIter'):
        data.as_data_iter(mx.io.NDArrayIter(np.zeros((2, 2))), np.zeros(2))


def test_data_loader_batches_with_the_last_one_padded():
    X, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10) % 3 + 1
    loader = mx.gluon.data.DataLoader(mx.gluon.data.ArrayDataset(X, y), batch_size=4)
    iterator = data.as_data_iter(loader)
    assert isinstance(iterator, data.DataLoaderIter)
    assert iterator.provide_data == [mx.io.DataDesc('data', (4, 2))]
    assert iterator.provide_label == [mx.io.DataDesc('softmax_label', (4,))]
    batches = list(iterator)
    assert [batch.pad for batch in batches] == [0, 0, 2] and batches[-1].data[0].shape == (4, 2)
    for _ in range(2):  # a second pass reads the same
        rows, labels = passed_rows(iterator)
        np.testing.assert_array_equal(rows, X)
        np.testing.assert_array_equal(labels, y)
    unlabelled = data.as_data_iter(mx.gluon.data.DataLoader(mx.gluon.data.ArrayDataset(X), batch_size=4))
    assert unlabelled.provide_label == [] and passed_rows(unlabelled)[1] is None


def test_the_old_module_names_are_the_new_modules():
    import xfer.datasets
    import xfer.text_data
    assert xfer.datasets is data.datasets and xfer.text_data is data.text
    from xfer import datasets, text_data
    assert datasets.load_mnist_5k is data.datasets.load_mnist_5k and text_data.Vocabulary is data.text.Vocabulary
