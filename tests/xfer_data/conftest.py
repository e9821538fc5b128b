"""Small real inputs written to disk: an image folder, a RecordIO file, CSV files, and a 3-channel net."""
import io
import os

import mxnet as mx
import numpy as np
import pytest
from PIL import Image

IMAGE_SIZE = 16
#: Created in this (unsorted) order; classes are numbered in sorted order: ant 0, bee 1, cat 2.
CLASS_COLOURS = {'cat': (200, 40, 40), 'ant': (90, 90, 90), 'bee': (40, 60, 210)}
IMAGES_PER_CLASS = 4
#: Labels of the record, CSV and numpy inputs: deliberately not starting at 0.
FIRST_LABEL = 3


def class_image(colour, index):
    """A (height 16, width 24) RGB image of one colour, brighter with ``index``, with a noise pattern."""
    rng = np.random.default_rng(index)
    base = np.array(colour, dtype=np.int64) + 10 * index
    noise = rng.integers(-20, 21, size=(IMAGE_SIZE, IMAGE_SIZE + 8, 1))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def expected_pixels(image):
    """What from_image_folder yields for an image of shorter side 16: the centre 16 x 16, as CHW floats."""
    height, width = image.shape[:2]
    top, left = (height - IMAGE_SIZE) // 2, (width - IMAGE_SIZE) // 2
    crop = image[top:top + IMAGE_SIZE, left:left + IMAGE_SIZE]
    if crop.ndim == 2:
        crop = np.stack([crop] * 3, axis=-1)
    return crop.transpose(2, 0, 1).astype(np.float32)


@pytest.fixture(scope='session')
def image_folder(tmp_path_factory):
    """``root/<class>/<n>.png``: 'ant' saved as grayscale, the others as RGB; 12 images in all.

    Returns the root and the expected (pixels, labels) in the iterator's order.
    """
    root = tmp_path_factory.mktemp('images')
    pixels, labels = {}, {}
    for name, colour in CLASS_COLOURS.items():
        os.makedirs(root / name)
        for index in range(IMAGES_PER_CLASS):
            image = class_image(colour, index)
            if name == 'ant':
                image = image[:, :, 0]
            Image.fromarray(image).save(root / name / '{}.png'.format(index))
            pixels[(name, index)] = expected_pixels(image)
    (root / 'notes.txt').write_text('not a class: files at the top are ignored')
    (root / 'cat' / 'readme.txt').write_text('not an image: skipped')
    order = [(name, index) for name in sorted(CLASS_COLOURS) for index in range(IMAGES_PER_CLASS)]
    images = np.stack([pixels[key] for key in order])
    labels = np.array([sorted(CLASS_COLOURS).index(name) for name, _ in order])
    return str(root), images, labels


@pytest.fixture(scope='session')
def pixel_data(image_folder):
    """The image folder's pixels as numpy arrays, with labels FIRST_LABEL.. instead of 0.."""
    _, images, labels = image_folder
    return images, labels + FIRST_LABEL


@pytest.fixture(scope='session')
def record_file(tmp_path_factory, pixel_data):
    """The same images packed as PNG records with labels FIRST_LABEL.. into a RecordIO file."""
    images, labels = pixel_data
    path = str(tmp_path_factory.mktemp('records') / 'images.rec')
    writer = mx.recordio.MXRecordIO(path, 'w')
    for index, (image, label) in enumerate(zip(images, labels)):
        encoded = io.BytesIO()
        Image.fromarray(image.transpose(1, 2, 0).astype(np.uint8)).save(encoded, format='PNG')
        writer.write(mx.recordio.pack(mx.recordio.IRHeader(0, float(label), index, 0), encoded.getvalue()))
    writer.close()
    return path


@pytest.fixture(scope='session')
def csv_files(tmp_path_factory, pixel_data):
    """The same images flattened into a data CSV, and their labels into a label CSV."""
    images, labels = pixel_data
    folder = tmp_path_factory.mktemp('csv')
    np.savetxt(folder / 'data.csv', images.reshape(len(images), -1), delimiter=',', fmt='%d')
    np.savetxt(folder / 'labels.csv', labels, delimiter=',', fmt='%d')
    return str(folder / 'data.csv'), str(folder / 'labels.csv')


@pytest.fixture(scope='session')
def rgb_source():
    """A small convolutional net for 3 x 16 x 16 images with seeded random weights (6 output classes)."""
    net = mx.sym.var('data')
    net = mx.sym.Convolution(net, kernel=(3, 3), num_filter=4, name='conv1')
    net = mx.sym.Activation(net, act_type='relu', name='act1')
    net = mx.sym.Pooling(net, pool_type='max', kernel=(2, 2), stride=(2, 2), name='pool1')
    net = mx.sym.Flatten(net, name='flatten')
    net = mx.sym.FullyConnected(net, num_hidden=16, name='fc1')
    net = mx.sym.Activation(net, act_type='relu', name='act2')
    net = mx.sym.FullyConnected(net, num_hidden=6, name='fc2')
    net = mx.sym.SoftmaxOutput(net, name='softmax')
    module = mx.mod.Module(net, label_names=['softmax_label'])
    module.bind(data_shapes=[('data', (1, 3, IMAGE_SIZE, IMAGE_SIZE))], label_shapes=[('softmax_label', (1,))])
    mx.random.seed(0)
    module.init_params(mx.init.Xavier(magnitude=2))
    return module
