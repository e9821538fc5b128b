"""An ImageNet network on real photos with few labels: EfficientNet-Lite0 -> Fashion-MNIST classes 0-4.

The Keras tutorial's recipe (bottleneck features of a pretrained network, a small classifier on
top) measured the xfer way, against what a user could do without transfer:

* ``auto LR`` / ``auto GP``: ``LrRepurposer`` / ``GpRepurposer`` with ``feature_layer_names='auto'``
  on ``xfer.model_zoo.get_model('efficientnet_lite0')``: the layer with the best LogME on the
  k-shot training features among ``candidate_layers(handler, skip_superseded=True)``;
* ``pool LR``: the 1,280-d pooled head, the layer users reach for first;
* ``best layer LR``: the best single layer in hindsight (highest test accuracy, per split) among the
  block outputs (the ``_add`` sums, the ``_project_conv`` projections of blocks without a skip, and
  ``pool``) and the layer ``'auto'`` chose; the first blocks' expansion and depthwise convolutions
  are left out of this search to keep the run short (their maps are 5-20 times larger);
* ``LeNet scratch``: the project's LeNet architecture (``tests/data/models/lenet_mnist04``) with
  every layer re-initialised and trained on the k-shot 28x28 images (``NeuralNetworkRandomFreezeRepurposer``,
  30 epochs of Adam at 1e-3, batch 16, as ``transfer_quality.py``);
* ``pixels LR``: the same logistic regression on the 784 raw pixels.

Data: Debian's ``dataset-fashion-mnist``. Classes 0-4 (T-shirt/top, Trouser, Pullover, Dress,
Coat). Training: per draw (seeds 0, 1, 2), 50 images per class from the train split, of which
the first k per class train at k; test: the first 200 per class of the t10k split, the same for
every draw. Images are resized (bilinear) to ``--image-size`` px and repeated to 3 channels,
0-255, for EfficientNet; LeNet and pixels LR see the original 28x28 in [0, 1].

Shortcut (as in ``transferability.py``): the candidate layers' features of each draw's training
images come from one ``get_layer_output`` pass, the test features of a layer from one pass too,
and the meta-models are fitted through the repurposers' own hooks
(``_train_model_from_features`` / ``_predict_label_from_features``): the same classifiers
``repurpose`` fits, without re-extracting features for every k.

Speed: ``get_layer_output(iterator, ['pool'])`` against a bare MXNet loop (a module bound once
to ``pool``, each batch's output copied into a preallocated matrix), alternating, best of
``--repeats``, ratio from one run.

    python benchmarks/imagenet_transfer.py                        # the full table, ~6-9 min on 2 cores
    python benchmarks/imagenet_transfer.py --shots 5 --draws 1    # quick check
"""
import argparse
import os
import sys
import time
from collections import OrderedDict

os.environ.setdefault('MXNET_SUBGRAPH_VERBOSE', '0')

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import xfer  # noqa: E402
from xfer import model_zoo, transferability  # noqa: E402
from xfer.data import datasets  # noqa: E402
from xfer.model_handler import ModelHandler  # noqa: E402

from benchmarks.common import Clock, cpu_model, write_report  # noqa: E402

CLASSES = [0, 1, 2, 3, 4]
POOL_PER_CLASS = 50
TEST_PER_CLASS = 200
BATCH_SIZE = 50
LENET_SOURCE = os.path.join(REPO, 'tests', 'data', 'models', 'lenet_mnist04')
LENET_EPOCHS = 30
LENET_BATCH_SIZE = 16
POOLED_HEAD = 'pool'
OUTPUT = os.path.join(REPO, 'benchmarks', 'results', 'imagenet_transfer.md')
METHODS = ('auto LR', 'auto GP', 'pool LR', 'best layer LR', 'LeNet scratch', 'pixels LR')


# ================================================================================ data
def first_per_class(labels, count, rng=None):
    """Indices of ``count`` images of each class in CLASSES (the first ones, or drawn by ``rng``), class by class."""
    chosen = []
    for label in CLASSES:
        indices = np.flatnonzero(labels == label)
        chosen.append(rng.permutation(indices)[:count] if rng is not None else indices[:count])
    return np.concatenate(chosen)


def k_shot(pool_labels, k):
    """Positions in a draw's pool of its first k images per class (the pool holds POOL_PER_CLASS per class)."""
    return np.concatenate([np.flatnonzero(pool_labels == label)[:k] for label in CLASSES])


def as_photos(images, size):
    """28x28 [0, 1] grayscale -> size x size 0-255 RGB, bilinear, as the pretrained network takes them."""
    resized = mx.nd.contrib.BilinearResize2D(mx.nd.array(images * 255.0), height=size, width=size)
    return mx.nd.clip(resized, 0, 255).tile((1, 3, 1, 1)).asnumpy()


def iterator(images, labels):
    return mx.io.NDArrayIter(images, labels, batch_size=BATCH_SIZE, label_name='softmax_label')


# ============================================================================ methods
def meta_model_accuracy(repurposer_class, layer, train_features, train_labels, test_features, test_labels, model):
    """Test accuracy of a meta-model repurposer fitted, through its own hooks, on one layer's features."""
    repurposer = repurposer_class(model, [layer])
    dims = train_features.shape[1]
    repurposer.target_model = repurposer._train_model_from_features(train_features, train_labels,
                                                                    OrderedDict([(layer, np.arange(dims))]))
    return float(np.mean(repurposer._predict_label_from_features(test_features) == test_labels))


def lenet_scratch_accuracy(train, test, seed):
    mx.random.seed(seed)
    np.random.seed(seed)
    repurposer = xfer.NeuralNetworkRandomFreezeRepurposer(
        mx.mod.Module.load(LENET_SOURCE, 0), len(CLASSES), [], ['conv1', 'conv2', 'fc1'], num_epochs=LENET_EPOCHS,
        batch_size=LENET_BATCH_SIZE, optimizer='adam', optimizer_params={'learning_rate': 1e-3})
    repurposer.repurpose(mx.io.NDArrayIter(*train, batch_size=LENET_BATCH_SIZE, shuffle=True,
                                           label_name='softmax_label'))
    return float(np.mean(repurposer.predict_label(iterator(*test)) == test[1]))


def pixels_accuracy(model, train, test):
    """The classifier LrRepurposer fits (its ``_new_model`` hook), on the raw 28x28 pixels."""
    classifier = xfer.LrRepurposer(model, [POOLED_HEAD])._new_model()
    classifier.fit(train[0].reshape(len(train[0]), -1), train[1])
    return float(np.mean(classifier.predict(test[0].reshape(len(test[0]), -1)) == test[1]))


class TestFeatures:
    """Test-set features of layers, each extracted once, when first asked for."""

    def __init__(self, handler, photos, labels):
        self.handler, self.photos, self.labels, self.cache = handler, photos, labels, {}

    def __call__(self, layers):
        missing = [layer for layer in layers if layer not in self.cache]
        if missing:
            outputs, _ = self.handler.get_layer_output(iterator(self.photos, self.labels), missing)
            self.cache.update(outputs)
        return self.cache


# ============================================================================ the table
def hindsight_layers(handler):
    """The layers searched for the best one in hindsight: the block outputs (sums where a skip rejoins, the
    projections of blocks without one) and the pooled head, whichever layers 'auto' may choose from."""
    inside_blocks = set(handler.get_layers_inside_residual_blocks())
    return [name for name in transferability.candidate_layers(handler)
            if name == POOLED_HEAD or (name.endswith(('_add', '_project_conv')) and name not in inside_blocks)]


def evaluate(args, model):
    handler = ModelHandler(model)
    candidates = transferability.candidate_layers(handler, skip_superseded=True)
    block_outputs = hindsight_layers(handler)
    train_images, train_labels = datasets.load_fashion_mnist('train')
    test_images, test_labels = datasets.load_fashion_mnist('t10k')
    test = first_per_class(test_labels, TEST_PER_CLASS)
    test_images, test_labels = test_images[test], test_labels[test]
    test_features = TestFeatures(handler, as_photos(test_images, args.image_size), test_labels)
    test_features(block_outputs)
    results = {method: {k: [] for k in args.shots} for method in METHODS}
    chosen = {k: [] for k in args.shots}
    for draw in range(args.draws):
        pool = first_per_class(train_labels, POOL_PER_CLASS, np.random.default_rng(draw))
        pool_images, pool_labels = train_images[pool], train_labels[pool]
        pool_features, _ = handler.get_layer_output(iterator(as_photos(pool_images, args.image_size), pool_labels),
                                                    list(dict.fromkeys(candidates + block_outputs)))
        for k in args.shots:
            rows = k_shot(pool_labels, k)
            labels = pool_labels[rows]
            train_features = OrderedDict((name, output[rows]) for name, output in pool_features.items())
            auto = transferability.rank_features(OrderedDict((name, train_features[name]) for name in candidates),
                                                 labels).names[0]
            chosen[k].append(auto)
            tests = test_features(block_outputs + [auto])

            def accuracy(repurposer_class, layer):
                return meta_model_accuracy(repurposer_class, layer, train_features[layer], labels, tests[layer],
                                           test_labels, model)

            per_layer = {layer: accuracy(xfer.LrRepurposer, layer) for layer in dict.fromkeys(block_outputs + [auto])}
            results['auto LR'][k].append(per_layer[auto])
            results['auto GP'][k].append(accuracy(xfer.GpRepurposer, auto))
            results['pool LR'][k].append(per_layer[POOLED_HEAD])
            results['best layer LR'][k].append(max(per_layer.values()))
            results['LeNet scratch'][k].append(lenet_scratch_accuracy((pool_images[rows], labels),
                                                                      (test_images, test_labels), draw))
            results['pixels LR'][k].append(pixels_accuracy(model, (pool_images[rows], labels),
                                                          (test_images, test_labels)))
            print('draw {} k={:>2}: auto={} '.format(draw, k, auto)
                  + ' '.join('{}={:.3f}'.format(method, results[method][k][-1]) for method in METHODS), flush=True)
            best = max(per_layer, key=per_layer.get)
            print('          best layer in hindsight: {} {:.3f}'.format(best, per_layer[best]), flush=True)
    return results, chosen


def accuracy_table(results, shots):
    lines = ['| method | ' + ' | '.join('k = {}'.format(k) for k in shots) + ' |',
             '|---|' + '---:|' * len(shots)]
    for method in METHODS:
        lines.append('| {} | '.format(method) + ' | '.join('{:.3f}'.format(np.mean(results[method][k]))
                                                           for k in shots) + ' |')
    return '\n'.join(lines)


def target_lines(results, shots):
    lines = []
    for k in [k for k in shots if k in (5, 10)]:
        auto = np.mean(results['auto LR'][k])
        over_lenet = 100 * (auto - np.mean(results['LeNet scratch'][k]))
        below_best = 100 * (np.mean(results['best layer LR'][k]) - auto)
        lines.append('- k = {}: auto LR {:+.1f} points over the LeNet from scratch (target >= +3: {}), {:.1f} points '
                     'below the best layer in hindsight (target <= 1.5: {})'.format(
                         k, over_lenet, 'met' if over_lenet >= 3 else 'MISSED', below_best,
                         'met' if below_best <= 1.5 else 'MISSED'))
    return lines


# ============================================================================== speed
def extraction_speed(model, size, count, repeats):
    """Per side ('xfer', 'bare'): samples per wall-clock second and per CPU second, best of ``repeats``.

    CPU time counts what the process itself did, so it is the steadier measure on a shared machine.
    """
    rng = np.random.default_rng(0)
    photos = rng.uniform(0, 255, (count, 3, size, size)).astype(np.float32)
    labels = np.zeros(count)
    handler = ModelHandler(model)
    internals = handler.symbol.get_internals()
    bare = mx.mod.Module(internals[POOLED_HEAD + '_output'], label_names=None)
    bare.bind(data_shapes=[('data', (BATCH_SIZE, 3, size, size))], for_training=False)
    bare.set_params(handler.arg_params, handler.aux_params, allow_extra=True)

    def run_bare():
        data = iterator(photos, labels)
        output = None
        row = 0
        for batch in data:
            bare.forward(batch, is_train=False)
            values = bare.get_outputs()[0]
            valid = BATCH_SIZE - (batch.pad or 0)
            if output is None:
                output = np.empty((count, int(np.prod(values.shape[1:]))), dtype=np.float32)
            output[row:row + valid] = values.asnumpy().reshape(len(values), -1)[:valid]
            row += valid
        return output

    def run_xfer():
        return handler.get_layer_output(iterator(photos, labels), [POOLED_HEAD])[0][POOLED_HEAD]

    np.testing.assert_allclose(run_xfer()[:BATCH_SIZE], run_bare()[:BATCH_SIZE], rtol=1e-4, atol=1e-5)
    wall, cpu = {'xfer': [], 'bare': []}, {'xfer': [], 'bare': []}
    for repeat in range(repeats):
        for side in (['xfer', 'bare'] if repeat % 2 == 0 else ['bare', 'xfer']):
            with Clock() as clock:
                (run_xfer if side == 'xfer' else run_bare)()
            wall[side].append(clock.wall)
            cpu[side].append(clock.cpu)
    return {side: (count / min(wall[side]), count / min(cpu[side])) for side in wall}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--shots', type=int, nargs='+', default=[2, 5, 10, 50])
    parser.add_argument('--draws', type=int, default=3)
    parser.add_argument('--image-size', type=int, default=96)
    parser.add_argument('--speed-images', type=int, default=1000)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--output', default=OUTPUT)
    args = parser.parse_args(argv)
    if max(args.shots) > POOL_PER_CLASS:
        parser.error('--shots at most {}'.format(POOL_PER_CLASS))
    start = time.perf_counter()
    model = model_zoo.get_model('efficientnet_lite0')
    results, chosen = evaluate(args, model)
    speeds = extraction_speed(model, args.image_size, args.speed_images, args.repeats)
    wall_ratio, cpu_ratio = (speeds['xfer'][i] / speeds['bare'][i] for i in range(2))
    minutes = (time.perf_counter() - start) / 60
    report = '\n'.join([
        '# EfficientNet-Lite0 (ImageNet) -> Fashion-MNIST classes 0-4',
        '',
        'Written by `python benchmarks/imagenet_transfer.py {}` on {} ({} CPU cores, shared with other '
        'developers\' jobs while it ran), MXNet {}, in {:.0f} min.'.format(
            ' '.join(argv if argv is not None else sys.argv[1:]), cpu_model(), os.cpu_count(), mx.__version__,
            minutes),
        '',
        'Test accuracy, mean of {} draws; {} test images ({} per class); EfficientNet at {} px. '
        'See the script\'s docstring for the methods.'.format(args.draws, TEST_PER_CLASS * len(CLASSES),
                                                              TEST_PER_CLASS, args.image_size),
        '',
        accuracy_table(results, args.shots),
        '',
        'Layers `\'auto\'` chose (one per draw): ' + '; '.join(
            'k = {}: {}'.format(k, ', '.join(chosen[k])) for k in args.shots),
        '',
        'Targets:',
        '',
    ] + target_lines(results, args.shots) + [
        '',
        '## Extraction speed',
        '',
        '| side | samples per wall-clock s | samples per CPU s |',
        '|---|---:|---:|',
        '| xfer `get_layer_output([\'pool\'])` | {:.1f} | {:.1f} |'.format(*speeds['xfer']),
        '| bare MXNet loop into a preallocated matrix | {:.1f} | {:.1f} |'.format(*speeds['bare']),
        '',
        'xfer / bare = {:.3f} wall-clock, {:.3f} CPU time (target >= 0.97: {}); {} random images at {} px, batch {}, '
        'best of {} alternating runs per side.'.format(
            wall_ratio, cpu_ratio, 'met' if min(wall_ratio, cpu_ratio) >= 0.97 else 'MISSED', args.speed_images,
            args.image_size, BATCH_SIZE, args.repeats),
        ''])
    write_report(report, args.output)


if __name__ == '__main__':
    main()
