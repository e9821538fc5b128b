"""Benchmark BnnRepurposer's training and prediction against a per-sample loop over ``xfer.prob``.

Run from the repository root::

    python benchmarks/bnn_speed.py                       # defaults: 1,000 training / 500 held-out digits
    python benchmarks/bnn_speed.py --naive-epochs 200    # train the naive loop fully too (slow: minutes)

Features are LeNet ``fc1`` outputs (128-d) of real MNIST digits, all ten classes, from the
project's test model ``lenet_mnist04`` (trained on digits 0-4). Both sides use BnnRepurposer's
default arguments (200 epochs, batch 20, 3 Monte Carlo samples per step, Adam 1e-3, prior
sigma 100, 1 hidden layer of 10 units, 100 samples to predict) and are seeded alike.

* **xfer**: ``BnnRepurposer._train_model_from_features`` (the meta-model's training, without
  the feature extraction that every meta-model repurposer shares), then
  ``_predict_probability_from_features`` on the held-out features.
* **naive**: the textbook loop over ``xfer.prob``'s building blocks: per minibatch, draw each
  posterior sample with ``generate_sample()``, run the Gluon network on it through
  ``FunctionalNetwork``, score with ``BNNLoss`` and step a ``gluon.Trainer``; predictions
  average the softmax of 100 samples, one at a time. Timed for ``--naive-epochs`` epochs and
  extrapolated to 200 (its accuracy is reported only when it trains all 200).

Wall-clock and process CPU seconds are both reported, with the load average: on a shared
2-core machine other processes can stretch wall-clock times two- or threefold, while the CPU
seconds and the xfer/naive ratio move much less. The markdown report is printed and written
to ``--output``.
"""
import argparse
import datetime
import os
import platform
import sys

import numpy as np

BENCHMARKS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCHMARKS_DIR)
sys.path.insert(0, REPO_ROOT)
os.environ.setdefault('MXNET_SUBGRAPH_VERBOSE', '0')

import mxnet as mx  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

from xfer import BnnRepurposer  # noqa: E402
from xfer.bnn_classifier import l2_normalize  # noqa: E402
from xfer.bnn_repurposer import POSTERIOR_SIGMA_INIT, kl_annealing_weights  # noqa: E402
from xfer.prob import (BNNLoss, Categorical, FunctionalNetwork, GaussianPrior,  # noqa: E402
                       GaussianVariationalPosterior)
from xfer.sampled_mlp import SampledMlp  # noqa: E402
from common import FEATURE_LAYER, Clock, cpu_model, digit_features, source_module, write_report  # noqa: E402

DEFAULT_OUTPUT = os.path.join(BENCHMARKS_DIR, 'results', 'bnn_speed.md')
#: The time of the original Xfer 1.1 BnnRepurposer with default arguments on 1,000 such samples (this machine).
ORIGINAL_XFER_SECONDS = 66.0
SEED = 0


# ------------------------------------------------------------------------------------------- xfer
def run_xfer(train, test):
    """Fit and predict with BnnRepurposer's defaults: timings and held-out accuracy."""
    mx.random.seed(SEED)
    repurposer = BnnRepurposer(source_module(), [FEATURE_LAYER])
    with Clock() as fit:
        repurposer.target_model = repurposer._train_model_from_features(*train)
    with Clock() as predict:
        probabilities = repurposer._predict_probability_from_features(test[0])
    return dict(fit=fit, predict=predict, epochs=repurposer.num_epochs,
                accuracy=float(np.mean(probabilities.argmax(axis=1) == test[1])))


# ------------------------------------------------------------------------------------------ naive
class NaiveBnn:
    """The same model and defaults trained the textbook way: one posterior sample at a time."""

    def __init__(self, n_in, n_classes, defaults, ctx=mx.cpu()):
        self.defaults, self.ctx = defaults, ctx
        model = SampledMlp(n_in, n_classes, defaults['num_layers'], defaults['n_hidden'])
        network = model.gluon_network()
        network.initialize(mx.init.Xavier(), ctx=ctx)
        self.network = FunctionalNetwork(network)
        means = [param.data().asnumpy() for param in network.collect_params().values()]
        self.posterior = GaussianVariationalPosterior(means, [np.full((1, 1), POSTERIOR_SIGMA_INIT)],
                                                      model.shapes, ctx)
        prior = GaussianPrior([np.zeros((1, 1))], [np.full((1, 1), defaults['sigma'])], model.shapes, ctx)
        self.loss = BNNLoss(prior, Categorical(ctx), self.posterior)
        self.trainer = gluon.Trainer(self.posterior.trainable_params(), 'adam',
                                     {'learning_rate': defaults['learning_rate']})

    def train_epoch(self, data, labels, kl_weight):
        batch_size, num_rows = self.defaults['batch_size'], data.shape[0]
        order = mx.nd.random.shuffle(mx.nd.arange(num_rows, ctx=self.ctx))
        data, labels = data.take(order), labels.take(order)
        for start in range(0, num_rows, batch_size):
            batch, batch_labels = data[start:start + batch_size], labels[start:start + batch_size]
            with autograd.record():
                samples = [self.posterior.generate_sample() for _ in range(self.defaults['num_samples_mc'])]
                outputs = [self.network(batch, sample) for sample in samples]
                loss = self.loss(outputs, batch_labels, samples, kl_weight * batch.shape[0] / num_rows)
            loss.backward()
            self.trainer.step(1)

    def predict_probability(self, data):
        probabilities = [mx.nd.softmax(self.network(data, self.posterior.generate_sample()), axis=1)
                         for _ in range(self.defaults['num_samples_mc_prediction'])]
        return (mx.nd.add_n(*probabilities) / len(probabilities)).asnumpy()


def run_naive(train, test, num_epochs):
    """Train the naive loop for ``num_epochs`` of the default schedule; timings extrapolated to all epochs."""
    mx.random.seed(SEED)
    defaults = BnnRepurposer(source_module(), [FEATURE_LAYER]).get_params()
    bnn = NaiveBnn(train[0].shape[1], int(train[1].max()) + 1, defaults)
    data, labels = mx.nd.array(l2_normalize(train[0])), mx.nd.array(train[1])
    weights = kl_annealing_weights(defaults['num_epochs'])
    with Clock() as fit:
        for kl_weight in weights[:num_epochs]:
            bnn.train_epoch(data, labels, kl_weight)
    with Clock() as predict:
        probabilities = bnn.predict_probability(mx.nd.array(l2_normalize(test[0])))
    scale = len(weights) / num_epochs
    fit.wall, fit.cpu = fit.wall * scale, fit.cpu * scale
    accuracy = float(np.mean(probabilities.argmax(axis=1) == test[1])) if num_epochs == len(weights) else None
    return dict(fit=fit, predict=predict, epochs=num_epochs, accuracy=accuracy)


# -------------------------------------------------------------------------------------- reporting
def report(xfer, naive, args, load_before, load_after):
    command = 'python benchmarks/bnn_speed.py ' + ' '.join(sys.argv[1:])
    naive_label = 'naive per-sample loop{}'.format(
        '' if naive['accuracy'] is not None else ' ({} epochs timed, x{:g} to 200)'.format(
            naive['epochs'], 200 / naive['epochs']))
    rows = [('xfer BnnRepurposer', xfer), (naive_label, naive)]
    lines = [
        '# BnnRepurposer: training and prediction speed', '',
        '- Date: {}'.format(datetime.date.today().isoformat()),
        '- Machine: {}, {} cores, Python {}; load average {:.1f} before, {:.1f} after'.format(
            cpu_model(), os.cpu_count(), platform.python_version(), load_before, load_after),
        '- MXNet {}, numpy {}'.format(mx.__version__, np.__version__),
        '- Command: `{}`'.format(command.strip()),
        '- Data: LeNet `fc1` features (128-d) of {} training and {} held-out real MNIST digits, 10 classes; '
        'default arguments (200 epochs, batch 20, 3 samples per step, 100 to predict)'.format(
            args.train_size, args.test_size), '',
        '| implementation | fit wall s | fit CPU s | predict wall s | held-out accuracy |',
        '|---|---|---|---|---|']
    for name, result in rows:
        lines.append('| {} | {:.1f} | {:.1f} | {:.3f} | {} |'.format(
            name, result['fit'].wall, result['fit'].cpu, result['predict'].wall,
            '-' if result['accuracy'] is None else '{:.3f}'.format(result['accuracy'])))
    lines += ['', 'Fit speed-up over the naive loop: {:.1f}x wall-clock, {:.1f}x CPU; over the original Xfer '
              '({:.0f} s on this machine): {:.1f}x.'.format(
                  naive['fit'].wall / xfer['fit'].wall, naive['fit'].cpu / xfer['fit'].cpu,
                  ORIGINAL_XFER_SECONDS, ORIGINAL_XFER_SECONDS / xfer['fit'].wall), '']
    return '\n'.join(lines)



def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--train-size', type=int, default=1000, help='training samples (default: %(default)s)')
    parser.add_argument('--test-size', type=int, default=500, help='held-out samples (default: %(default)s)')
    parser.add_argument('--naive-epochs', type=int, default=5,
                        help='epochs of the naive loop to time, 1-200 (default: %(default)s)')
    parser.add_argument('--output', default=DEFAULT_OUTPUT, help='markdown file (default: %(default)s)')
    args = parser.parse_args(argv)
    if not 1 <= args.naive_epochs <= 200:
        parser.error('--naive-epochs must be between 1 and 200, got {}'.format(args.naive_epochs))
    return args


def main(argv=None):
    args = parse_args(argv)
    train, test = digit_features(args.train_size, args.test_size, SEED)
    load_before = os.getloadavg()[0]
    naive = run_naive(train, test, args.naive_epochs)
    xfer = run_xfer(train, test)
    text = report(xfer, naive, args, load_before, os.getloadavg()[0])
    write_report(text, args.output)


if __name__ == '__main__':
    main()
