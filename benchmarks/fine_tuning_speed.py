"""What does xfer add to training? NeuralNetworkFineTuneRepurposer.repurpose vs a bare Module.fit.

Both train the same target network (the shipped LeNet up to ``fc1`` plus a new 5-way output)
on the same MNIST digits 5-9 for the same epochs; the bare run builds its module directly with
MXNet. Runs alternate and the best of ``--repeats`` is kept, all in one process.

    python benchmarks/fine_tuning_speed.py --epochs 5 --repeats 3
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
from common import cpu_model, write_report  # noqa: E402

SOURCE_MODEL = os.path.join(REPO, 'tests', 'data', 'models', 'lenet_mnist04')
OPTIMIZER = dict(optimizer='sgd', optimizer_params={'learning_rate': 0.01, 'momentum': 0.9})


def training_data():
    images, labels = datasets.load_mnist_5k()
    keep = labels >= 5
    return images[keep], labels[keep] - 5


def bare_fit_seconds(train_iterator, epochs):
    """Build the same target network with MXNet alone and time ``Module.fit``."""
    symbol, arg_params, aux_params = mx.model.load_checkpoint(SOURCE_MODEL, 0)
    features = symbol.get_internals()['fc1_output']
    head = mx.sym.FullyConnected(features, name='fc_target', num_hidden=5)
    target = mx.sym.SoftmaxOutput(head, name='softmax')
    module = mx.mod.Module(target, context=[mx.cpu()])
    train_iterator.reset()
    start = time.perf_counter()
    module.fit(train_iterator, num_epoch=epochs, arg_params=arg_params, aux_params=aux_params, allow_missing=True,
               initializer=mx.init.Xavier(rnd_type='gaussian', factor_type='in', magnitude=2), eval_metric='acc',
               kvstore='device', **OPTIMIZER)
    return time.perf_counter() - start


def xfer_fit_seconds(train_iterator, epochs):
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(mx.mod.Module.load(SOURCE_MODEL, 0), 'fc1', 5,
                                                      num_epochs=epochs, **OPTIMIZER)
    start = time.perf_counter()
    repurposer.repurpose(train_iterator, show_progress=False)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--epochs', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--output', default=os.path.join(REPO, 'benchmarks', 'results', 'fine_tuning_speed.md'))
    args = parser.parse_args(argv)

    images, labels = training_data()
    train_iterator = mx.io.NDArrayIter(images, labels, batch_size=args.batch_size, shuffle=True,
                                       label_name='softmax_label')
    bare_fit_seconds(train_iterator, 1)  # warm-up: MKL-DNN kernels, memory pools
    bare, ours = [], []
    for _ in range(args.repeats):
        bare.append(bare_fit_seconds(train_iterator, args.epochs))
        ours.append(xfer_fit_seconds(train_iterator, args.epochs))
    write_report('\n'.join([
        '# Fine-tuning speed: NeuralNetworkFineTuneRepurposer.repurpose vs a bare Module.fit',
        '',
        '{} on {} ({} cores), mxnet {}; best of {} alternating runs each, batch size {}.'.format(
            time.strftime('%Y-%m-%d'), cpu_model(), os.cpu_count(), mx.__version__, args.repeats, args.batch_size),
        '',
        '| samples | epochs | bare Module.fit s | xfer repurpose s | overhead |',
        '|---|---|---|---|---|',
        '| {} | {} | {:.2f} | {:.2f} | {:+.1%} |'.format(len(labels), args.epochs, min(bare), min(ours),
                                                      min(ours) / min(bare) - 1),
        '',
        'All runs (s): bare {}, xfer {}.'.format(np.round(bare, 2).tolist(), np.round(ours, 2).tolist()),
        '']), args.output)


if __name__ == '__main__':
    main()
