"""Try the bad inputs of issue 11 against xfer and say how each is answered.

Each case is a *clear* error (a ValueError, TypeError or OSError whose message names the bad
value), *silent* (no error: a wrong result) or *unclear* (any other error). Run from the
repository root: ``PYTHONPATH=$PWD python scripts/probe_inputs.py``; the last line counts them.
The tests in ``tests/reliability/test_inputs.py`` assert each answer.
"""
import logging
import os
import tempfile
import warnings

import mxnet as mx
import numpy as np

import xfer
from xfer.data import datasets
from xfer.model_handler import ModelHandler

SOURCE = os.path.join('tests', 'data', 'models', 'lenet_mnist04')


def lenet():
    return mx.mod.Module.load(SOURCE, 0, label_names=['softmax_label'])


class Streaming(mx.io.DataIter):
    """Batches handed on one by one, so that nothing can be checked before they are read."""

    def __init__(self, images, labels):
        self.inner = mx.io.NDArrayIter(images, labels, batch_size=20)
        super().__init__(20)
        self.provide_data, self.provide_label = self.inner.provide_data, self.inner.provide_label

    def reset(self):
        self.inner.reset()

    def next(self):
        return self.inner.next()


def cases(images, labels, directory):
    """(name, call, a word the message must hold) for every case."""
    def fine_tuner(classes=10, **kwargs):
        return xfer.NeuralNetworkFineTuneRepurposer(lenet(), 'fc1', classes, num_epochs=1, batch_size=20, **kwargs)

    def lr(layers=('fc1',), **kwargs):
        return xfer.LrRepurposer(lenet(), list(layers), **kwargs)

    def fitted(repurposer, data=(images, labels)):
        repurposer.repurpose(data)
        return repurposer

    def with_pixel(value):
        changed = images.copy()
        changed[45, 0, 10, 10] = value
        return changed

    def with_label(value, dtype=np.int64):
        changed = labels.astype(dtype)
        changed[3] = value
        return changed

    unlabelled = mx.io.NDArrayIter(images, batch_size=20)
    return [
        ('NaN pixel, numpy, LR', lambda: fitted(lr(), (with_pixel(np.nan), labels)), 'non-finite'),
        ('NaN pixel, streamed batch, fine-tune', lambda: fitted(fine_tuner(), Streaming(with_pixel(np.nan), labels)),
         'non-finite'),
        ('inf pixel, LR predict', lambda: fitted(lr()).predict_label(with_pixel(np.inf)), 'non-finite'),
        ('label 0.4', lambda: fitted(lr(), (images, with_label(0.4, np.float64))), '0.4'),
        ('label 1.6', lambda: fitted(lr(), (images, with_label(1.6, np.float64))), '1.6'),
        ('label 2.9', lambda: fitted(lr(), (images, with_label(2.9, np.float64))), '2.9'),
        ('label 16777217', lambda: fitted(lr(), (images, with_label(16777217))), '16777217'),
        ('fine-tune label 5, 5 classes', lambda: fitted(fine_tuner(5), (images, np.minimum(with_label(5), 5) % 6)),
         '5'),
        ('fine-tune label -1', lambda: fitted(fine_tuner(), (images, with_label(-1))), '-1'),
        ('fine-tune label 10, 10 classes', lambda: fitted(fine_tuner(), (images, with_label(10))), '10'),
        ('BNN on one class', lambda: fitted(xfer.BnnRepurposer(lenet(), ['fc1'], num_epochs=2),
                                            (images, np.zeros_like(labels))), 'class'),
        ('fine-tune on one class', lambda: fitted(fine_tuner(), (images, np.zeros_like(labels))), 'class'),
        ("last_batch_handle='roll_over'", lambda: fitted(lr(), mx.io.NDArrayIter(
            images, labels, batch_size=64, last_batch_handle='roll_over')), 'roll_over'),
        ('empty iterator', lambda: ModelHandler(lenet()).get_layer_output(
            mx.io.NDArrayIter(images[:0], batch_size=4), ['fc1']), 'empty'),
        ('patience=0', lambda: fine_tuner().repurpose((images, labels), (images, labels), patience=0), 'patience'),
        ('patience=-1', lambda: fine_tuner().repurpose((images, labels), (images, labels), patience=-1), 'patience'),
        ('patience=1.5', lambda: fine_tuner().repurpose((images, labels), (images, labels), patience=1.5),
         'patience'),
        ('mx.gpu on a machine without GPUs', lambda: fitted(lr(context_function=mx.gpu)), 'GPU'),
        ('flat (n, 784) into a conv net', lambda: fitted(lr(), (images.reshape(len(images), 784), labels)), '784'),
        ('summary((1, 784))', lambda: ModelHandler(lenet()).summary((1, 784), print_fn=lambda line: None), '784'),
        ('test images 32 x 32, fine-tune', lambda: fitted(fine_tuner()).predict_label(
            np.zeros((4, 1, 32, 32), np.float32)), '32'),
        ('test images 36 x 36, LR on pool1', lambda: fitted(lr(['pool1'])).predict_label(
            np.zeros((4, 1, 36, 36), np.float32)), 'pool1'),
        ('target_class_count=0', lambda: fitted(fine_tuner(0)), 'target_class_count'),
        ("target_class_count='five'", lambda: fitted(fine_tuner('five')), 'target_class_count'),
        ('target_class_count=2.5', lambda: fitted(fine_tuner(2.5)), 'target_class_count'),
        ('learning_rate=0', lambda: fitted(fine_tuner(optimizer_params={'learning_rate': 0})), 'learning_rate'),
        ("learning_rate='abc'", lambda: fitted(fine_tuner(optimizer_params={'learning_rate': 'abc'})),
         'learning_rate'),
        ("LR c='abc'", lambda: fitted(lr(c='abc')), "'abc'"),
        ('num_epochs=0', lambda: fitted(xfer.NeuralNetworkFineTuneRepurposer(lenet(), 'fc1', 10, num_epochs=0)),
         'num_epochs'),
        ("save_repurposer('dir/missing/m')", lambda: fitted(lr()).save_repurposer(
            os.path.join(directory, 'missing', 'm')), 'missing'),
        ('fine-tune without labels', lambda: fitted(fine_tuner(), unlabelled), 'labels'),
        ('fine-tune predicting unlabelled batches of 5', lambda: fitted(fine_tuner()).predict_label(
            mx.io.NDArrayIter(images[:7], batch_size=5)), None),
    ]


def answer(call, word):
    """('clear' | 'silent' | 'unclear' | 'works', what happened); ``word`` None: the call should succeed."""
    try:
        result = call()
    except Exception as error:  # noqa: BLE001 - every failure is classified, none hidden
        message = str(error)
        clear = (word is not None and isinstance(error, (ValueError, TypeError, OSError)) and word in message
                 and 'Traceback' not in message)
        return ('clear' if clear else 'unclear'), '{}: {}'.format(type(error).__name__, message.splitlines()[0][:150])
    return ('works' if word is None else 'silent'), 'returned a {}'.format(type(result).__name__)


def main():
    warnings.simplefilter('ignore')
    logging.disable(logging.WARNING)
    images, labels = datasets.load_mnist_5k()
    order = np.random.default_rng(0).permutation(len(labels))[:70]
    images, labels = images[order].astype(np.float32), labels[order].astype(np.int64)
    counts = {'clear': 0, 'silent': 0, 'unclear': 0, 'works': 0}
    with tempfile.TemporaryDirectory() as directory:
        for name, call, word in cases(images, labels, directory):
            kind, what = answer(call, word)
            counts[kind] += 1
            print('{:<8} {:<45} {}'.format(kind, name, what))
    print('cases {}: clear errors {}, silently wrong {}, unclear errors {}, valid inputs that work {}'.format(
        sum(counts.values()), counts['clear'], counts['silent'], counts['unclear'], counts['works']))


if __name__ == '__main__':
    main()
