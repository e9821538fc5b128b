"""Images in one subfolder per class, read with MXNet's ``ImageIter``."""
import os

import mxnet as mx
import numpy as np

from .. import validation
from .sharding import shard_indices

#: File name endings :func:`from_image_folder` reads (any case); other files are skipped.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')


def from_image_folder(root, image_size, batch_size, shuffle=False, num_parts=1, part_index=0, data_name='data',
                      label_name='softmax_label', last_batch_handle='pad'):
    """An ``mx.image.ImageIter`` over ``root/<class name>/<image file>``.

    Classes are the subfolders of ``root`` in sorted order: the images of the first are class 0,
    and so on; the names are kept in the iterator's ``class_names`` attribute. Every image is
    decoded as RGB (grayscale images become 3 equal channels), resized so that its shorter
    side is ``image_size`` and centre-cropped to ``image_size`` x ``image_size``. Batches are
    float32 NCHW with the raw 0-255 pixel values (pretrained networks in xfer normalise
    inside) and the classes as float labels.

    Parameters
    ----------
    root : str
        Folder with one subfolder per class holding ``.jpg``, ``.jpeg``, ``.png`` or ``.bmp`` files.
    image_size : int
        Side of the square images the iterator yields.
    batch_size : int
    shuffle : bool, default False
        Shuffle the images at every ``reset`` (for training).
    num_parts, part_index : int, default 1 and 0
        Read only shard ``part_index`` of ``num_parts`` (strided over the sorted images, so
        every worker sees every class), see :func:`~xfer.data.shard_indices`.
    data_name, label_name : str
        Names under which the network reads the data and the labels.
    last_batch_handle : {'pad', 'discard'}, default 'pad'
        As in ``ImageIter``; xfer removes the padding of the last batch from its results.
        ``'roll_over'`` is refused: it moves rows between passes (see :mod:`xfer.validation`).

    Returns
    -------
    mx.image.ImageIter
        With ``class_names``, a list of str.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError('image_size must be a positive int (the side of a square image), got {!r}'.format(
            image_size))
    validation.check_choice('last_batch_handle', last_batch_handle, validation.SUPPORTED_LAST_BATCH_HANDLES)
    class_names = _class_names(root)
    images = [[float(label), os.path.join(name, file_name)]
              for label, name in enumerate(class_names) for file_name in _image_files(root, name)]
    images = [images[i] for i in shard_indices(len(images), num_parts, part_index)]
    size = int(image_size)
    iterator = mx.image.ImageIter(batch_size, (3, size, size), imglist=images, path_root=root, shuffle=shuffle,
                                  aug_list=[mx.image.ResizeAug(size), mx.image.CenterCropAug((size, size))],
                                  data_name=data_name, label_name=label_name, last_batch_handle=last_batch_handle)
    iterator.class_names = class_names
    return iterator


def _class_names(root):
    if not os.path.isdir(root):
        raise ValueError('Image folder {!r} does not exist or is not a folder'.format(root))
    names = sorted(name for name in os.listdir(root)
                   if os.path.isdir(os.path.join(root, name)) and not name.startswith('.'))
    if not names:
        raise ValueError('Image folder {!r} has no subfolders: put the images of each class in a subfolder '
                         'named after the class'.format(root))
    return names


def _image_files(root, class_name):
    folder = os.path.join(root, class_name)
    files = sorted(name for name in os.listdir(folder) if name.lower().endswith(IMAGE_EXTENSIONS)
                   and os.path.isfile(os.path.join(folder, name)))
    if not files:
        raise ValueError('Class folder {!r} holds no image ({})'.format(folder, ', '.join(IMAGE_EXTENSIONS)))
    return files
