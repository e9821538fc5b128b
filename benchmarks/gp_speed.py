"""Benchmark GpRepurposer's training and prediction against a per-class GPy loop like the original Xfer's.

Run from the repository root::

    python benchmarks/gp_speed.py          # raw features (GpRepurposer's default), ~2-5 min on 2 cores
    python benchmarks/gp_speed.py --l2     # also with apply_l2_norm=True

Features are LeNet ``fc1`` outputs (128-d) of real MNIST digits, all ten classes, from the
project's test model ``lenet_mnist04`` (trained on digits 0-4): 500 to train on, 500 others
held out. Both sides centre the features on the training mean (after L2-normalising the rows
with ``--l2``), use one RBF kernel whose lengthscale starts at the median pairwise distance of
the training features (GPy's default of 1 leaves EP unable to converge on raw ``fc1``
features, whose distances are about 20), and get 100 function evaluations.

* **xfer**: ``GpRepurposer._train_model_from_features`` (the meta-model's training, without
  the feature extraction every meta-model repurposer shares): one kernel shared by the ten
  one-vs-rest classifiers, k-means inducing inputs, parallel EP; then
  ``_predict_probability_from_features`` on the held-out features.
* **naive**: what the original Xfer did, with GPy's defaults: for each class, a
  ``GPy.models.SparseGPClassification`` with 100 inducing inputs drawn from the training
  points, its kernel and inducing inputs optimised by ``model.optimize(max_iters=100)``
  (L-BFGS-B, at most 100 evaluations, sequential EP); the ten probabilities normalised.

Both run with BLAS and OpenMP limited to one thread (xfer does so itself; the naive loop is
given the same, which speeds it up on a busy machine), in one process, one after the other.
Wall-clock and process CPU seconds are both reported, with the load average: on a shared
2-core machine other processes can stretch wall-clock times several-fold, while the CPU
seconds and the ratios move much less. The markdown report is printed and written to ``--output``.
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

import GPy  # noqa: E402
import mxnet as mx  # noqa: E402
from scipy.spatial.distance import pdist  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from xfer import GpRepurposer  # noqa: E402
from common import FEATURE_LAYER, Clock, cpu_model, digit_features, source_module, write_report  # noqa: E402

DEFAULT_OUTPUT = os.path.join(BENCHMARKS_DIR, 'results', 'gp_speed.md')
MAX_FUNCTION_EVALUATIONS = 100
NUM_INDUCING = 100
#: The time of the original Xfer 1.1 GpRepurposer on 500 such samples of ten classes (this machine).
ORIGINAL_XFER_SECONDS = 40.0
SEED = 0


def accuracy(probabilities, labels):
    return float(np.mean(probabilities.argmax(axis=1) == labels))


# ------------------------------------------------------------------------------------------- xfer
def run_xfer(train, test, apply_l2_norm):
    """Fit and predict with GpRepurposer: timings, evaluations and held-out accuracy."""
    repurposer = GpRepurposer(source_module(), [FEATURE_LAYER], max_function_evaluations=MAX_FUNCTION_EVALUATIONS,
                              apply_l2_norm=apply_l2_norm)
    indices = {FEATURE_LAYER: np.arange(train[0].shape[1])}
    with Clock() as fit:
        repurposer.target_model = repurposer._train_model_from_features(train[0], train[1], indices)
    with Clock() as predict:
        probabilities = repurposer._predict_probability_from_features(test[0])
    history = repurposer.optimization_history
    return dict(fit=fit, predict=predict, accuracy=accuracy(probabilities, test[1]),
                evaluations='{} in {} rounds'.format(sum(len(run) for run in history), len(history)))


# ------------------------------------------------------------------------------------------ naive
def preprocess(train_x, test_x, apply_l2_norm):
    """Row-normalised (if asked), then centred on the training mean, like GpRepurposer."""
    if apply_l2_norm:
        train_x, test_x = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in (train_x, test_x))
    mean = train_x.mean(axis=0)
    return train_x - mean, test_x - mean


def run_naive(train, test, apply_l2_norm):
    """One GPy sparse GP classifier per class, each optimised on its own with GPy's defaults."""
    inputs, test_inputs = preprocess(train[0], test[0], apply_l2_norm)
    lengthscale = np.median(pdist(inputs))
    np.random.seed(SEED)  # GPy draws the inducing inputs from numpy's global generator
    classifiers = []
    with threadpool_limits(limits=1), Clock() as fit:
        for digit in np.unique(train[1]):
            kernel = GPy.kern.RBF(inputs.shape[1], lengthscale=lengthscale, name=FEATURE_LAYER)
            classifier = GPy.models.SparseGPClassification(
                inputs, (train[1] == digit).astype(np.float64)[:, None], kernel=kernel, num_inducing=NUM_INDUCING)
            classifier.optimize(max_iters=MAX_FUNCTION_EVALUATIONS)
            classifiers.append(classifier)
    with Clock() as predict:
        positive = np.hstack([classifier.predict(test_inputs)[0] for classifier in classifiers])
        probabilities = positive / positive.sum(axis=1, keepdims=True)
    evaluations = sum(classifier.optimization_runs[-1].funct_eval for classifier in classifiers)
    return dict(fit=fit, predict=predict, accuracy=accuracy(probabilities, test[1]),
                evaluations='{} in {} optimisations'.format(evaluations, len(classifiers)))


# -------------------------------------------------------------------------------------- reporting
def report(results, args, load_before, load_after):
    """The markdown report: setup, one table of both implementations per setting, the ratios."""
    command = 'python benchmarks/gp_speed.py ' + ' '.join(sys.argv[1:])
    lines = [
        '# GpRepurposer: training and prediction speed', '',
        '- Date: {}'.format(datetime.date.today().isoformat()),
        '- Machine: {}, {} cores, Python {}; load average {:.1f} before, {:.1f} after'.format(
            cpu_model(), os.cpu_count(), platform.python_version(), load_before, load_after),
        '- GPy {}, MXNet {}, numpy {}'.format(GPy.__version__, mx.__version__, np.__version__),
        '- Command: `{}`'.format(command.strip()),
        '- Data: LeNet `fc1` features (128-d) of {} training and {} held-out real MNIST digits, 10 classes; '
        'at most {} function evaluations'.format(args.train_size, args.test_size, MAX_FUNCTION_EVALUATIONS), '',
        '| features | implementation | fit wall s | fit CPU s | predict wall s | evaluations | held-out accuracy |',
        '|---|---|---|---|---|---|---|']
    for setting, (xfer, naive) in results.items():
        for name, result in (('xfer GpRepurposer', xfer), ('naive per-class GPy', naive)):
            lines.append('| {} | {} | {:.1f} | {:.1f} | {:.3f} | {} | {:.3f} |'.format(
                setting, name, result['fit'].wall, result['fit'].cpu, result['predict'].wall,
                result['evaluations'], result['accuracy']))
    lines.append('')
    for setting, (xfer, naive) in results.items():
        lines.append('{}: fit speed-up over the naive loop {:.1f}x wall-clock, {:.1f}x CPU; over the original '
                     'Xfer ({:.0f} s on this machine) {:.1f}x; accuracy {:+.3f}.'.format(
                         setting, naive['fit'].wall / xfer['fit'].wall, naive['fit'].cpu / xfer['fit'].cpu,
                         ORIGINAL_XFER_SECONDS, ORIGINAL_XFER_SECONDS / xfer['fit'].wall,
                         xfer['accuracy'] - naive['accuracy']))
    return '\n'.join(lines + [''])



def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--train-size', type=int, default=500, help='training samples (default: %(default)s)')
    parser.add_argument('--test-size', type=int, default=500, help='held-out samples (default: %(default)s)')
    parser.add_argument('--l2', action='store_true', help='also compare with L2-normalised features')
    parser.add_argument('--output', default=DEFAULT_OUTPUT, help='markdown report (default: %(default)s)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    load_before = os.getloadavg()[0]
    train, test = digit_features(args.train_size, args.test_size, SEED, np.float64)
    results = {}
    for setting, apply_l2_norm in [('raw', False)] + ([('L2-normalised', True)] if args.l2 else []):
        results[setting] = (run_xfer(train, test, apply_l2_norm), run_naive(train, test, apply_l2_norm))
        print('{} done'.format(setting), flush=True)
    text = report(results, args, load_before, os.getloadavg()[0])
    write_report(text, args.output)


if __name__ == '__main__':
    main()
