"""Do repurposers know what they don't know? Confidence in and out of domain, and calibration.

Each repurposer is trained on k labelled UCI digits 5-9 per class (source: the shipped LeNet,
MNIST 0-4). It then predicts on the remaining UCI digits (in domain) and on inputs from
elsewhere: Fashion-MNIST clothes (Debian ``dataset-fashion-mnist``, when installed) and uniform
noise. Printed per repurposer: test accuracy, expected calibration error (ECE) in domain, and the
mean highest class probability in and out of domain. A model that knows what it doesn't know
is much less confident out of domain.

    python benchmarks/uncertainty.py --shots 50 --methods lr bnn gp
"""
import argparse
import os
import sys

os.environ.setdefault('MXNET_SUBGRAPH_VERBOSE', '0')

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import xfer  # noqa: E402
from xfer import datasets  # noqa: E402
from xfer.calibration import expected_calibration_error, mean_max_probability  # noqa: E402

SOURCE_MODEL = os.path.join(REPO, 'tests', 'data', 'models', 'lenet_mnist04')
LAYERS = ['pool1', 'pool2']
OUT_OF_DOMAIN_SIZE = 500


def method_factories():
    return {
        'lr': lambda source: xfer.LrRepurposer(source, LAYERS),
        'svm': lambda source: xfer.SvmRepurposer(source, LAYERS, enable_probability_estimates=True),
        'gp': lambda source: xfer.GpRepurposer(source, LAYERS),
        'bnn': lambda source: xfer.BnnRepurposer(source, LAYERS),
        'fine_tune': lambda source: xfer.NeuralNetworkFineTuneRepurposer(
            source, 'act3', 5, num_epochs=30, optimizer='adam', optimizer_params={'learning_rate': 1e-3}),
    }


def out_of_domain_sets():
    """Named image sets the target task has never seen, each (n, 1, 28, 28) in [0, 1]."""
    sets = {'uniform noise': np.random.default_rng(0).random((OUT_OF_DOMAIN_SIZE, 1, 28, 28), dtype=np.float32)}
    try:
        clothes, _ = datasets.load_fashion_mnist('t10k', limit=OUT_OF_DOMAIN_SIZE)
        sets['Fashion-MNIST'] = clothes
    except FileNotFoundError as missing:
        print('Fashion-MNIST skipped: {}'.format(missing))
    return sets


def iterator(images, labels=None):
    if labels is None:
        labels = np.zeros(len(images))
    return mx.io.NDArrayIter(images, labels, batch_size=50, label_name='softmax_label')


def evaluate(name, factory, train, test, others):
    mx.random.seed(0)
    repurposer = factory(mx.mod.Module.load(SOURCE_MODEL, 0))
    repurposer.repurpose(iterator(*train))
    probabilities = repurposer.predict_probability(iterator(*test))
    row = {'method': name, 'accuracy': float((probabilities.argmax(axis=1) == test[1]).mean()),
           'ECE': expected_calibration_error(probabilities, test[1]),
           'confidence in domain': mean_max_probability(probabilities)}
    for other, images in others.items():
        row['confidence on ' + other] = mean_max_probability(repurposer.predict_probability(iterator(images)))
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--shots', type=int, default=50, help='labelled images per class')
    parser.add_argument('--methods', nargs='+', default=None, help='subset of: ' + ' '.join(method_factories()))
    parser.add_argument('--output', default=os.path.join(REPO, 'benchmarks', 'results', 'uncertainty.md'))
    args = parser.parse_args(argv)

    images, labels = datasets.load_uci_digits(image_size=28, border=4)
    keep = labels >= 5
    images, labels = images[keep], labels[keep] - 5
    train_index, test_index = datasets.few_shot_split(labels, args.shots, seed=0)
    train, test = (images[train_index], labels[train_index]), (images[test_index], labels[test_index])
    others = out_of_domain_sets()
    factories = method_factories()
    rows = [evaluate(name, factories[name], train, test, others) for name in (args.methods or factories)]
    columns = list(rows[0])
    lines = ['| ' + ' | '.join(columns) + ' |', '|' + '---|' * len(columns)]
    lines += ['| ' + ' | '.join(row[c] if isinstance(row[c], str) else '{:.3f}'.format(row[c]) for c in columns)
              + ' |' for row in rows]
    table = '\n'.join(lines)
    print(table)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, 'w') as output:
        output.write('# Uncertainty: UCI digits 5-9, {} labels per class\n\n{}\n'.format(args.shots, table))
    print('\nTable written to {}'.format(args.output))


if __name__ == '__main__':
    main()
