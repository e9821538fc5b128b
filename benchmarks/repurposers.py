"""Where meta-model repurposers spend their time, and what xfer adds to a bare scikit-learn fit.

Source: the shipped LeNet (MNIST 0-4); features ``fc1`` of 500 MNIST digits of all ten classes
for training and 500 others for testing. Per repurposer: seconds to extract features (one pass),
to fit the meta-model, to predict, and the test accuracy. For LR and SVM it also times the same
work done by hand (``ModelHandler.get_layer_output`` + the bare scikit-learn estimator) and
prints xfer's overhead over it.

    python benchmarks/repurposers.py --methods lr svm gp bnn
"""
import argparse
import os
import sys
import time

os.environ.setdefault('MXNET_SUBGRAPH_VERBOSE', '0')

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import xfer  # noqa: E402
from xfer import datasets  # noqa: E402
from xfer.model_handler import ModelHandler  # noqa: E402

SOURCE_MODEL = os.path.join(REPO, 'tests', 'data', 'models', 'lenet_mnist04')
LAYERS = ['fc1']
FACTORIES = {
    'lr': lambda source: xfer.LrRepurposer(source, LAYERS),
    'svm': lambda source: xfer.SvmRepurposer(source, LAYERS),
    'gp': lambda source: xfer.GpRepurposer(source, LAYERS),
    'bnn': lambda source: xfer.BnnRepurposer(source, LAYERS),
}
BARE_ESTIMATORS = {
    'lr': lambda: LogisticRegression(C=1.0, tol=1e-4, n_jobs=-1, class_weight='balanced', max_iter=1000),
    'svm': lambda: SVC(C=1.0, kernel='linear', gamma='auto', random_state=0),
}


def iterator(images, labels):
    return mx.io.NDArrayIter(images, labels, batch_size=50, label_name='softmax_label')


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def xfer_row(name, train, test):
    """Extraction, fit and predict seconds of the repurposer, and its accuracy."""
    repurposer = FACTORIES[name](mx.mod.Module.load(SOURCE_MODEL, 0))
    data, extract = timed(lambda: repurposer.get_features_from_source_model(iterator(*train)))
    model, fit = timed(lambda: repurposer._train_model_from_features(data.features, data.labels,
                                                                     data.feature_indices_per_layer))
    repurposer.target_model = model
    labels, predict = timed(lambda: repurposer.predict_label(iterator(*test)))
    _, whole = timed(lambda: repurposer.repurpose(iterator(*train)))
    return {'extract s': extract, 'fit s': fit, 'predict s': predict, 'repurpose s': whole,
            'accuracy': float((labels == test[1]).mean())}


def bare_seconds(name, train):
    """The same extraction and fit done by hand: ModelHandler features, then the bare estimator."""
    def work():
        features, labels = ModelHandler(mx.mod.Module.load(SOURCE_MODEL, 0)).get_layer_output(iterator(*train),
                                                                                             LAYERS)
        BARE_ESTIMATORS[name]().fit(features[LAYERS[0]], labels)
    return timed(work)[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--methods', nargs='+', default=list(FACTORIES))
    parser.add_argument('--repeats', type=int, default=3, help='repeats of the LR/SVM overhead measurement')
    args = parser.parse_args(argv)

    images, labels = datasets.load_mnist_5k()
    order = np.random.default_rng(0).permutation(len(labels))
    train = images[order[:500]], labels[order[:500]]
    test = images[order[500:1000]], labels[order[500:1000]]
    print('| repurposer | extract s | fit s | predict s | repurpose s | accuracy | bare extract+fit s | overhead |')
    print('|---|---|---|---|---|---|---|---|')
    for name in args.methods:
        row = xfer_row(name, train, test)
        bare, overhead = '-', '-'
        if name in BARE_ESTIMATORS:
            ours = min(timed(lambda: FACTORIES[name](mx.mod.Module.load(SOURCE_MODEL, 0)).repurpose(
                iterator(*train)))[1] for _ in range(args.repeats))
            bare_best = min(bare_seconds(name, train) for _ in range(args.repeats))
            bare, overhead = '{:.3f}'.format(bare_best), '{:+.1%}'.format(ours / bare_best - 1)
        print('| {} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {} | {} |'.format(
            name, row['extract s'], row['fit s'], row['predict s'], row['repurpose s'], row['accuracy'], bare,
            overhead), flush=True)


if __name__ == '__main__':
    main()
