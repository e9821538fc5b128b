"""xfer quick-start: repurpose a shipped MNIST network to new digits from a few labels.

The source network (``tests/data/models/lenet_mnist04``) was trained on MNIST digits 0-4 only.
The target task is digits 5-9, which it has never seen, with k labelled images per class.
The demo looks at the network with ModelHandler, then, for each k, compares every repurposer
(meta-models on the source's pool2 features, and the two fine-tuning ones) with the
same LeNet trained from scratch and with logistic regression on raw pixels. Last, it asks the
logistic regression, GP and BNN repurposers how sure they are about digits 5-9 (and how well
calibrated, see :mod:`xfer.calibration`), about digits 0-4 (classes the target task does not
have) and about noise.

It prints the accuracy table and saves one figure with both results.
Run it with ``bash scripts/quickstart.sh`` (sets up ``.venv`` first) or ``python demos/quickstart.py``.
"""
import argparse
import logging
import os
import sys
import time
import warnings

os.environ.setdefault('MXNET_SUBGRAPH_VERBOSE', '0')

import matplotlib  # noqa: E402
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import xfer  # noqa: E402
from xfer import datasets  # noqa: E402
from xfer.calibration import confidence_summary, confidence_table  # noqa: E402
from xfer.model_handler import ModelHandler  # noqa: E402

SOURCE_MODEL = os.path.join(REPO, 'tests', 'data', 'models', 'lenet_mnist04')
SOURCE_CLASSES = [0, 1, 2, 3, 4]
TARGET_CLASSES = [5, 6, 7, 8, 9]
FEATURE_LAYERS = ['pool2']
BATCH_SIZE = 16
TRAINING = dict(batch_size=BATCH_SIZE, optimizer='adam', optimizer_params={'learning_rate': 1e-3})
UNCERTAINTY_SHOTS = 10
UNCERTAINTY_METHODS = ('LrRepurposer', 'GpRepurposer', 'BnnRepurposer')


def repurposer_factories(epochs):
    """Every xfer method by name, as a function of the source module."""
    count = len(TARGET_CLASSES)
    return {
        'LrRepurposer': lambda source: xfer.LrRepurposer(source, FEATURE_LAYERS),
        'SvmRepurposer': lambda source: xfer.SvmRepurposer(source, FEATURE_LAYERS),
        'GpRepurposer': lambda source: xfer.GpRepurposer(source, FEATURE_LAYERS),
        'BnnRepurposer': lambda source: xfer.BnnRepurposer(source, FEATURE_LAYERS),
        'FineTune (new fc2)': lambda source: xfer.NeuralNetworkFineTuneRepurposer(
            source, 'act3', count, num_epochs=epochs, **TRAINING),
        'RandomFreeze (convs kept)': lambda source: xfer.NeuralNetworkRandomFreezeRepurposer(
            source, count, ['conv1', 'conv2'], [], num_epochs=epochs, **TRAINING),
        'LeNet from scratch': lambda source: xfer.NeuralNetworkRandomFreezeRepurposer(
            source, count, [], ['conv1', 'conv2', 'fc1'], num_epochs=epochs, **TRAINING),
    }


def load_digits(classes):
    """MNIST images of ``classes``, labelled 0.. in that order."""
    images, labels = datasets.load_mnist_5k()
    keep = datasets.split_by_class(labels, classes)
    return images[keep], labels[keep] - classes[0]


def iterator(images, labels=None, shuffle=False):
    labels = np.zeros(len(images)) if labels is None else labels
    return mx.io.NDArrayIter(images, labels, batch_size=BATCH_SIZE, shuffle=shuffle, label_name='softmax_label')


def tour_the_source_network(source):
    """What a user looks at first: the layers, their shapes and parameter counts."""
    handler = ModelHandler(source)
    print('Source network layers:', handler.layer_names)
    print('Convolutions:', handler.get_layer_names_matching_type('Convolution'))
    handler.summary((1, 1, 28, 28))


def repurposed(factory, train):
    """A fresh source module, repurposed on the labelled ``train`` images."""
    repurposer = factory(mx.mod.Module.load(SOURCE_MODEL, 0, label_names=['softmax_label']))
    repurposer.repurpose(iterator(*train, shuffle=True))
    return repurposer


def pixel_accuracy(train, test):
    classifier = LogisticRegression(max_iter=2000)
    classifier.fit(train[0].reshape(len(train[0]), -1), train[1])
    return classifier.score(test[0].reshape(len(test[0]), -1), test[1])


def compare(factories, images, labels, shots, draws):
    """results[method] = [(mean, std) of test accuracy per k], over ``draws`` random draws."""
    results = {name: [] for name in list(factories) + ['LR on raw pixels']}
    for k in shots:
        scores = {name: [] for name in results}
        started = time.time()
        for draw in range(draws):
            train_index, test_index = datasets.few_shot_split(labels, k, seed=draw)
            train, test = (images[train_index], labels[train_index]), (images[test_index], labels[test_index])
            for name, factory in factories.items():
                mx.random.seed(draw)
                np.random.seed(draw)
                predicted = repurposed(factory, train).predict_label(iterator(test[0]))
                scores[name].append(float(np.mean(predicted == test[1])))
            scores['LR on raw pixels'].append(pixel_accuracy(train, test))
        for name in results:
            results[name].append((np.mean(scores[name]), np.std(scores[name])))
        print('  k = {:>3} labels per class done in {:.0f} s'.format(k, time.time() - started), flush=True)
    return results


def print_table(shots, results):
    print('| method | ' + ' | '.join('k = {}'.format(k) for k in shots) + ' |')
    print('|' + '---|' * (len(shots) + 1))
    for name, scores in results.items():
        print('| {} | {} |'.format(name, ' | '.join('{:.3f} ± {:.3f}'.format(mean, std) for mean, std in scores)))


def uncertainty(factories, images, labels):
    """LR, GP and BNN on target digits (accuracy, ECE, confidence), unseen digits 0-4 and noise (confidence)."""
    train_index, test_index = datasets.few_shot_split(labels, UNCERTAINTY_SHOTS, seed=0)
    other_digits, _ = load_digits(SOURCE_CLASSES)
    inputs = {'digits 5-9 (target)': images[test_index],
              'digits 0-4 (no such class)': other_digits[::5],
              'uniform noise': np.random.default_rng(0).random((500, 1, 28, 28), dtype=np.float32)}
    probabilities = {}
    for name in UNCERTAINTY_METHODS:
        mx.random.seed(0)
        np.random.seed(0)
        repurposer = repurposed(factories[name], (images[train_index], labels[train_index]))
        probabilities[name] = {kind: repurposer.predict_probability(iterator(data)) for kind, data in inputs.items()}
    return confidence_summary(probabilities, {'digits 5-9 (target)': labels[test_index]})


def print_uncertainty(summary):
    print('\nHow sure are they? Trained on {} labels per class; confidence = mean highest class probability:'.format(
        UNCERTAINTY_SHOTS))
    print(confidence_table(summary))


def plot(shots, results, confidence, path):
    """Left: accuracy against labels per class. Right: LR/GP/BNN confidence in and out of domain."""
    figure, (accuracy_axes, confidence_axes) = plt.subplots(1, 2, figsize=(13, 4.8))
    for name, scores in results.items():
        means, stds = np.array(scores).T
        style = '--' if name in ('LeNet from scratch', 'LR on raw pixels') else '-'
        accuracy_axes.errorbar(shots, means, yerr=stds, marker='o', capsize=3, linestyle=style, label=name)
    accuracy_axes.set_xscale('log')
    accuracy_axes.set_xticks(shots)
    accuracy_axes.set_xticklabels([str(k) for k in shots])
    accuracy_axes.set_xlabel('labelled images per class (target: MNIST digits 5-9)')
    accuracy_axes.set_ylabel('test accuracy')
    accuracy_axes.set_title('Transfer from a LeNet trained on digits 0-4')
    accuracy_axes.grid(alpha=0.3)
    accuracy_axes.legend(fontsize=8)
    columns = [column for column in next(iter(confidence.values())) if column.startswith('confidence on ')]
    kinds = [column[len('confidence on '):] for column in columns]
    width = 0.8 / len(confidence)
    for offset, (name, row) in enumerate(confidence.items()):
        positions = np.arange(len(kinds)) + (offset - (len(confidence) - 1) / 2) * width
        confidence_axes.bar(positions, [row[column] for column in columns], width, label=name)
    confidence_axes.axhline(1 / len(TARGET_CLASSES), color='grey', linestyle=':', label='chance (1/5)')
    confidence_axes.set_xticks(np.arange(len(kinds)))
    confidence_axes.set_xticklabels(kinds)
    confidence_axes.set_ylim(0, 1)
    confidence_axes.set_ylabel('mean highest class probability')
    confidence_axes.set_title('How sure are they? ({} labels per class)'.format(UNCERTAINTY_SHOTS))
    confidence_axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--shots', type=int, nargs='+', default=[1, 5, 10, 50], help='labels per class')
    parser.add_argument('--draws', type=int, default=3, help='random draws of the labelled images per k')
    parser.add_argument('--epochs', type=int, default=30, help='epochs for fine-tuning and from-scratch')
    parser.add_argument('--output', default=os.path.join(REPO, 'demos', 'output'), help='where to save the figure')
    args = parser.parse_args(argv)

    # Module.fit re-announces that a repurposer's module is bound and initialised: expected here.
    logging.getLogger().setLevel(logging.ERROR)
    warnings.filterwarnings('ignore', message='Parameters already initialized')
    start = time.time()
    tour_the_source_network(mx.mod.Module.load(SOURCE_MODEL, 0, label_names=['softmax_label']))
    images, labels = load_digits(TARGET_CLASSES)
    factories = repurposer_factories(args.epochs)
    print('\nTarget task: {} MNIST images of digits 5-9; {} random draws per k.'.format(len(labels), args.draws))
    results = compare(factories, images, labels, args.shots, args.draws)
    print('\nTest accuracy (mean ± std over draws):')
    print_table(args.shots, results)
    confidence = uncertainty(factories, images, labels)
    print_uncertainty(confidence)
    os.makedirs(args.output, exist_ok=True)
    figure_path = os.path.join(args.output, 'quickstart.png')
    plot(args.shots, results, confidence, figure_path)
    print('\nFigure saved to {}'.format(figure_path))
    print('Done in {:.0f} s.'.format(time.time() - start))


if __name__ == '__main__':
    main()
