"""Does transfer help? Every repurposer vs the same network trained from scratch, on real digits.

Source: the shipped LeNet trained on MNIST digits 0-4 (``tests/data/models/lenet_mnist04``).
Target: UCI optical digits 5-9 (scikit-learn's ``load_digits``, 8x8 scaled up to 28x28): new
classes *and* a new domain. For k labelled images per class (the rest is the test set) and
several random draws, it prints mean ± std test accuracy and fit time of each method.

    python benchmarks/transfer_quality.py                        # k = 1 5 10 50, 10 draws
    python benchmarks/transfer_quality.py --shots 10 --draws 2 --methods lr fine_tune scratch
"""
import argparse
import os
import sys
import time

os.environ.setdefault('MXNET_SUBGRAPH_VERBOSE', '0')

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import xfer  # noqa: E402
from xfer import datasets  # noqa: E402

SOURCE_MODEL = os.path.join(REPO, 'tests', 'data', 'models', 'lenet_mnist04')
TARGET_CLASSES = [5, 6, 7, 8, 9]
BATCH_SIZE = 16
FINE_TUNE_EPOCHS = 30
FINE_TUNE_OPTIMIZER = dict(optimizer='adam', optimizer_params={'learning_rate': 1e-3})


def method_factories(layers):
    """Every method, as a function of the source model that returns an unfitted repurposer."""
    count = len(TARGET_CLASSES)
    return {
        'lr': lambda source: xfer.LrRepurposer(source, layers),
        'svm': lambda source: xfer.SvmRepurposer(source, layers),
        'gp': lambda source: xfer.GpRepurposer(source, layers),
        'bnn': lambda source: xfer.BnnRepurposer(source, layers),
        'fine_tune': lambda source: xfer.NeuralNetworkFineTuneRepurposer(
            source, 'act3', count, num_epochs=FINE_TUNE_EPOCHS, batch_size=BATCH_SIZE, **FINE_TUNE_OPTIMIZER),
        'random_freeze': lambda source: xfer.NeuralNetworkRandomFreezeRepurposer(
            source, count, ['conv1', 'conv2'], [], num_epochs=FINE_TUNE_EPOCHS, batch_size=BATCH_SIZE,
            **FINE_TUNE_OPTIMIZER),
        'scratch': lambda source: xfer.NeuralNetworkRandomFreezeRepurposer(
            source, count, [], ['conv1', 'conv2', 'fc1'], num_epochs=FINE_TUNE_EPOCHS, batch_size=BATCH_SIZE,
            **FINE_TUNE_OPTIMIZER),
    }


def load_target():
    images, labels = datasets.load_uci_digits(image_size=28, border=4)
    keep = datasets.split_by_class(labels, TARGET_CLASSES)
    return images[keep], labels[keep] - TARGET_CLASSES[0]


def iterator(images, labels, shuffle=False):
    return mx.io.NDArrayIter(images, labels, batch_size=BATCH_SIZE, shuffle=shuffle, label_name='softmax_label')


def run_once(factory, train, test, seed, source=SOURCE_MODEL):
    """Accuracy on ``test`` and seconds to repurpose on ``train``."""
    mx.random.seed(seed)
    np.random.seed(seed)
    repurposer = factory(mx.mod.Module.load(source, 0))
    start = time.perf_counter()
    repurposer.repurpose(iterator(*train, shuffle=True))
    seconds = time.perf_counter() - start
    accuracy = float((repurposer.predict_label(iterator(*test)) == test[1]).mean())
    return accuracy, seconds


def evaluate(methods, images, labels, shots, draws, source=SOURCE_MODEL):
    """results[method][k] = (accuracies, seconds) over the draws."""
    results = {name: {} for name in methods}
    for k in shots:
        splits = [datasets.few_shot_split(labels, k, seed=draw) for draw in range(draws)]
        for name, factory in methods.items():
            runs = [run_once(factory, (images[train], labels[train]), (images[test], labels[test]), draw, source)
                    for draw, (train, test) in enumerate(splits)]
            results[name][k] = ([accuracy for accuracy, _ in runs], [seconds for _, seconds in runs])
            print('  k={:<3} {:<14} accuracy {:.3f} ± {:.3f}  fit {:.2f} s'.format(
                k, name, np.mean(results[name][k][0]), np.std(results[name][k][0]), np.mean(results[name][k][1])),
                flush=True)
    return results


def markdown_table(results, shots):
    lines = ['| method | ' + ' | '.join('k={} accuracy | k={} fit s'.format(k, k) for k in shots) + ' |',
             '|---|' + '---|---|' * len(shots)]
    for name, per_k in results.items():
        cells = []
        for k in shots:
            accuracies, seconds = per_k[k]
            cells += ['{:.3f} ± {:.3f}'.format(np.mean(accuracies), np.std(accuracies)), '{:.2f}'.format(np.mean(seconds))]
        lines.append('| {} | {} |'.format(name, ' | '.join(cells)))
    return '\n'.join(lines)


def scratch_comparison(results, shots):
    """Per method and k, whether its mean accuracy beats the from-scratch network's."""
    if 'scratch' not in results:
        return ''
    lines = []
    for name, per_k in results.items():
        if name == 'scratch':
            continue
        wins = ['k={}: {:+.3f}'.format(k, np.mean(per_k[k][0]) - np.mean(results['scratch'][k][0])) for k in shots]
        lines.append('{:<14} vs scratch  {}'.format(name, '  '.join(wins)))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--shots', type=int, nargs='+', default=[1, 5, 10, 50])
    parser.add_argument('--draws', type=int, default=10)
    parser.add_argument('--layers', nargs='+', default=['pool1', 'pool2'], help="feature layers of the meta-models, or 'auto' / 'auto:N'")
    parser.add_argument('--methods', nargs='+', default=None, help='subset of: ' + ' '.join(method_factories([])))
    parser.add_argument('--source', default=SOURCE_MODEL, help='checkpoint prefix of the source model (epoch 0)')
    parser.add_argument('--output', default=os.path.join(REPO, 'benchmarks', 'results', 'transfer_quality.md'))
    args = parser.parse_args(argv)

    factories = method_factories(args.layers[0] if args.layers[0].startswith('auto') else args.layers)
    methods = {name: factories[name] for name in (args.methods or factories)}
    images, labels = load_target()
    print('Target: {} UCI digits 5-9; features from {}; {} draws per k'.format(len(labels), args.layers, args.draws))
    results = evaluate(methods, images, labels, args.shots, args.draws, args.source)
    table, comparison = markdown_table(results, args.shots), scratch_comparison(results, args.shots)
    print('\n' + table + '\n\n' + comparison)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, 'w') as output:
        output.write('# Transfer quality: LeNet (MNIST 0-4) -> UCI digits 5-9\n\n{} on {} cores, mxnet {}, features '
                     '{}, {} draws\n\n{}\n\n```\n{}\n```\n'.format(time.strftime('%Y-%m-%d'), os.cpu_count(),
                                                              mx.__version__, args.layers, args.draws, table,
                                                              comparison))
    print('\nTable written to {}'.format(args.output))


if __name__ == '__main__':
    main()
