"""xfer quick-start: repurpose a shipped MNIST network to new digits from a few labels.

The source network (``tests/data/models/lenet_mnist04``) was trained on MNIST digits 0-4 only.
The target task is digits 5-9, which it has never seen, with k labelled images per class.
The demo inspects and edits the network with ModelHandler, then compares, for each k:

* features of the source network + logistic regression (meta-model transfer),
* the source network with a new output layer, fine-tuned with its convolutions frozen,
* the same LeNet trained from scratch on the k labels,
* logistic regression on raw pixels.

It prints a table and saves a plot of accuracy against labels per class.
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
from xfer import datasets  # noqa: E402
from xfer.model_handler import ModelHandler  # noqa: E402

SOURCE_MODEL = os.path.join(REPO, 'tests', 'data', 'models', 'lenet_mnist04')
TARGET_CLASSES = [5, 6, 7, 8, 9]
BATCH_SIZE = 32


def load_target_task():
    """MNIST digits 5-9 relabelled 0-4: the classes the source network never saw."""
    images, labels = datasets.load_mnist_5k()
    keep = datasets.split_by_class(labels, TARGET_CLASSES)
    return images[keep], labels[keep] - TARGET_CLASSES[0]


def iterator(images, labels, shuffle=False):
    return mx.io.NDArrayIter(images, labels, batch_size=BATCH_SIZE, shuffle=shuffle, label_name='softmax_label')


def tour_the_source_network(source):
    """What a user looks at first: the layers, their shapes and parameter counts."""
    handler = ModelHandler(source)
    print('Source network layers:', handler.layer_names)
    print('Convolutions:', handler.get_layer_names_matching_type('Convolution'))
    handler.summary((1, 1, 28, 28))


def meta_model_accuracy(source, train, test):
    """Logistic regression on the source network's fc1 features."""
    handler = ModelHandler(source)
    train_features, train_labels = handler.get_layer_output(iterator(*train), ['fc1'])
    test_features, test_labels = handler.get_layer_output(iterator(*test), ['fc1'])
    classifier = LogisticRegression(max_iter=2000, class_weight='balanced')
    classifier.fit(train_features['fc1'], train_labels)
    return classifier.score(test_features['fc1'], test_labels)


def fine_tuned_accuracy(source, train, test, epochs):
    """Source network with a new 5-way output, convolutions frozen, trained on the k labels."""
    return _new_head_accuracy(source, train, test, epochs, freeze_convolutions=True)


def scratch_accuracy(source, train, test, epochs):
    """The same LeNet, every layer freshly initialised, trained on the k labels alone."""
    return _new_head_accuracy(source, train, test, epochs, freeze_convolutions=False)


def _new_head_accuracy(source, train, test, epochs, freeze_convolutions):
    handler = ModelHandler(source)
    handler.drop_layer_top(2)
    handler.add_layer_top([mx.sym.FullyConnected(name='fc_target', num_hidden=len(TARGET_CLASSES)),
                           mx.sym.SoftmaxOutput(name='softmax')])
    train_iterator = iterator(*train, shuffle=True)
    if freeze_convolutions:
        frozen = handler.get_layer_parameters(handler.get_layer_names_matching_type('Convolution'))
        module = handler.get_module(train_iterator, fixed_layer_parameters=frozen)
    else:
        module = handler.get_module(train_iterator, random_layer_parameters=handler.get_layer_parameters(
            handler.layer_names))
    module.fit(train_iterator, num_epoch=epochs, optimizer='adam', optimizer_params={'learning_rate': 1e-3})
    return dict(module.score(iterator(*test), 'acc'))['accuracy']


def pixel_accuracy(train, test):
    classifier = LogisticRegression(max_iter=2000, class_weight='balanced')
    classifier.fit(train[0].reshape(len(train[0]), -1), train[1])
    return classifier.score(test[0].reshape(len(test[0]), -1), test[1])


def compare(source, images, labels, shots, draws, epochs):
    """Mean and std accuracy of every method, per number of labels per class."""
    methods = {
        'xfer features + LR': lambda train, test: meta_model_accuracy(source, train, test),
        'xfer fine-tune (convs frozen)': lambda train, test: fine_tuned_accuracy(source, train, test, epochs),
        'LeNet from scratch': lambda train, test: scratch_accuracy(source, train, test, epochs),
        'LR on raw pixels': pixel_accuracy,
    }
    results = {name: [] for name in methods}
    for k in shots:
        scores = {name: [] for name in methods}
        for draw in range(draws):
            mx.random.seed(draw)
            train_index, test_index = datasets.few_shot_split(labels, k, seed=draw)
            train = images[train_index], labels[train_index]
            test = images[test_index], labels[test_index]
            for name, method in methods.items():
                scores[name].append(method(train, test))
        for name in methods:
            results[name].append((np.mean(scores[name]), np.std(scores[name])))
        print('  k = {:>3} labels per class done'.format(k))
    return results


def print_table(shots, results):
    header = '| method | ' + ' | '.join('k = {}'.format(k) for k in shots) + ' |'
    print(header)
    print('|' + '---|' * (len(shots) + 1))
    for name, scores in results.items():
        cells = ['{:.3f} ± {:.3f}'.format(mean, std) for mean, std in scores]
        print('| {} | {} |'.format(name, ' | '.join(cells)))


def plot(shots, results, path):
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for name, scores in results.items():
        means = np.array([mean for mean, _ in scores])
        stds = np.array([std for _, std in scores])
        axes.errorbar(shots, means, yerr=stds, marker='o', capsize=3, label=name)
    axes.set_xscale('log')
    axes.set_xticks(shots)
    axes.set_xticklabels([str(k) for k in shots])
    axes.set_xlabel('labelled images per class (target: MNIST digits 5-9)')
    axes.set_ylabel('test accuracy')
    axes.set_title('Transfer from a LeNet trained on digits 0-4')
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--shots', type=int, nargs='+', default=[1, 5, 10, 50], help='labels per class')
    parser.add_argument('--draws', type=int, default=3, help='random draws of the labelled images per k')
    parser.add_argument('--epochs', type=int, default=30, help='epochs for fine-tuning and from-scratch')
    parser.add_argument('--output', default=os.path.join(REPO, 'demos', 'output'), help='where to save the plot')
    args = parser.parse_args(argv)

    # Module.fit re-announces that get_module's module is bound and initialised: expected here.
    logging.getLogger().setLevel(logging.ERROR)
    warnings.filterwarnings('ignore', message='Parameters already initialized')
    start = time.time()
    source = mx.mod.Module.load(SOURCE_MODEL, 0, label_names=['softmax_label'])
    tour_the_source_network(source)
    images, labels = load_target_task()
    print('\nTarget task: {} MNIST images of digits 5-9; {} random draws per k.'.format(len(labels), args.draws))
    results = compare(source, images, labels, args.shots, args.draws, args.epochs)
    print('\nTest accuracy (mean ± std over draws):')
    print_table(args.shots, results)
    os.makedirs(args.output, exist_ok=True)
    figure_path = os.path.join(args.output, 'quickstart_accuracy.png')
    plot(args.shots, results, figure_path)
    print('\nPlot saved to {}'.format(figure_path))
    print('Done in {:.0f} s.'.format(time.time() - start))


if __name__ == '__main__':
    main()
