"""Helpers the benchmarks share: the machine they ran on, real digit features, timing, writing reports."""
import os
import platform
import time

import mxnet as mx
import numpy as np

from xfer import datasets
from xfer.model_handler import ModelHandler

SOURCE_MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tests', 'data', 'models',
                            'lenet_mnist04')
FEATURE_LAYER = 'fc1'


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or ``platform.processor()``."""
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            for line in cpuinfo:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def source_module():
    """The shipped LeNet trained on MNIST digits 0-4."""
    return mx.mod.Module.load(SOURCE_MODEL, 0, label_names=['softmax_label'])


def digit_features(train_size, test_size, seed=0, dtype=np.float32):
    """LeNet ``fc1`` features and labels of shuffled real digits: (train_x, train_y), (test_x, test_y)."""
    images, labels = datasets.load_mnist_5k()
    order = np.random.default_rng(seed).permutation(len(labels))[:train_size + test_size]
    iterator = mx.io.NDArrayIter(images[order], labels[order], batch_size=250, label_name='softmax_label')
    outputs, labels = ModelHandler(source_module()).get_layer_output(iterator, [FEATURE_LAYER])
    features = outputs[FEATURE_LAYER].astype(dtype, copy=False)
    return (features[:train_size], labels[:train_size]), (features[train_size:], labels[train_size:])


def write_report(text, path):
    """Print the report and write it to ``path`` (folders created as needed)."""
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w') as output:
        output.write(text)
    print('Written to {}'.format(path))


class Clock:
    """Wall-clock and process CPU seconds of a ``with`` block, MXNet's pending work included."""

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info):
        mx.nd.waitall()
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu
