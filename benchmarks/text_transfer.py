"""Sentiment transfer across a domain shift: movie snippets (source) -> airline tweets (target).

Source: the shipped word CNN ``tests/data/models/text_sentiment`` trained on Rotten Tomatoes
snippets, fresh vs rotten (``tests/data/make_text_source_model.py``). Target: tweets addressed to
US airlines, positive vs negative (``load_sentiment_tweets(airlines_only=True)``; neutral tweets
dropped, since the source knows polarity only). For each of ``--draws`` random draws
(``few_shot_split`` seeds 0, 1, ...), k labelled tweets per class train every method, and a
held-out test set of all remaining positive tweets and as many random negative ones (balanced, so
chance is 50%) measures its accuracy:

* the source network as it is, no target labels (both corpora label negative 0, positive 1);
* logistic regression on binary bag-of-words of the k-shot tweets (no source);
* the same CNN trained from scratch: ``NeuralNetworkRandomFreezeRepurposer`` with every layer
  re-initialised, the same optimizer and epochs as fine-tuning;
* ``NeuralNetworkFineTuneRepurposer`` from ``act_fc1``;
* meta-model repurposers (``LrRepurposer``, ``SvmRepurposer``, ``GpRepurposer``) on the pooled
  convolution features ``concat`` or the hidden layer ``act_fc1``.

Why airline tweets only: the whole corpus mixes topics whose positive share differs (airlines 20%,
the rest 40%), and there a label follows the topic more than the wording; a bag of words learns
the topic words from 100 tweets, which no movie network can know.

    python benchmarks/text_transfer.py                         # k = 50 and 10, 5 draws, about 3 min on 2 cores
    python benchmarks/text_transfer.py --shots 50 --draws 1    # quick check
"""
import argparse
import json
import os
import sys
import time
from collections import OrderedDict

os.environ.setdefault('MXNET_SUBGRAPH_VERBOSE', '0')

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import CountVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import xfer  # noqa: E402
from common import cpu_model, write_report  # noqa: E402
from xfer import datasets, text_data  # noqa: E402
from xfer.model_handler import ModelHandler  # noqa: E402

SOURCE_MODEL = os.path.join(REPO, 'tests', 'data', 'models', 'text_sentiment')
OUTPUT = os.path.join(REPO, 'benchmarks', 'results', 'text_transfer.md')
LABEL_NAME = 'softmax_label'
BATCH_SIZE = 256
#: Shared by fine-tuning and scratch training: the same budget for both.
NETWORK_TRAINING = dict(batch_size=10, num_epochs=30, optimizer='adam', optimizer_params={'learning_rate': 0.001})
SCRATCH = 'CNN from scratch (same budget)'


def load_source():
    """The movie-snippet CNN, its vocabulary and its input length."""
    with open(SOURCE_MODEL + '-manifest.json') as stream:
        length = json.load(stream)['sequence_length']
    vocabulary = text_data.Vocabulary.load(SOURCE_MODEL + '-vocabulary.json')
    return mx.mod.Module.load(SOURCE_MODEL, 0, label_names=[LABEL_NAME]), vocabulary, length


def balanced_test(labels, test, seed):
    """The test indices, negatives subsampled (seeded) to as many as there are positives."""
    rng = np.random.default_rng(seed)
    size = int(np.sum(labels[test] == 1))
    return np.sort(np.concatenate([rng.choice(test[labels[test] == c], size, replace=False) for c in (0, 1)]))


def iterator(x, y, batch_size=BATCH_SIZE, shuffle=False):
    return mx.io.NDArrayIter(x, y, batch_size, shuffle=shuffle, label_name=LABEL_NAME)


# ============================================================================== methods
def source_as_is(source, x, y, train, test):
    """The movie network's own prediction (no target labels used)."""
    outputs, _ = ModelHandler(source).get_layer_output(iterator(x[test], y[test]), ['softmax'])
    return outputs['softmax'].argmax(axis=1)


def bag_of_words(texts, y, train, test):
    """Logistic regression on binary word counts of the training tweets (target data only)."""
    vectorizer = CountVectorizer(tokenizer=text_data.tokenize, lowercase=False, token_pattern=None, binary=True)
    train_counts = vectorizer.fit_transform([texts[i] for i in train])
    classifier = LogisticRegression(class_weight='balanced', max_iter=1000).fit(train_counts, y[train])
    return classifier.predict(vectorizer.transform([texts[i] for i in test]))


def repurposed(make_repurposer):
    """A method that trains ``make_repurposer(source)`` on the k-shot tweets and predicts the test set."""
    def method(source, x, y, train, test):
        repurposer = make_repurposer(source)
        repurposer.repurpose(iterator(x[train], y[train], batch_size=NETWORK_TRAINING['batch_size'], shuffle=True))
        return repurposer.predict_label(iterator(x[test], y[test]))
    return method


def scratch(source):
    layers = ModelHandler(source).layer_names[:-2]
    return xfer.NeuralNetworkRandomFreezeRepurposer(source, 2, fixed_layers=[], random_layers=layers,
                                                    num_layers_to_drop=2, **NETWORK_TRAINING)


METHODS = OrderedDict([
    ('source network as is (no target labels)', source_as_is),
    ('LR on bag of words (no source)', None),
    (SCRATCH, repurposed(scratch)),
    ('NeuralNetworkFineTuneRepurposer (act_fc1)',
     repurposed(lambda source: xfer.NeuralNetworkFineTuneRepurposer(source, 'act_fc1', 2, **NETWORK_TRAINING))),
    ('LrRepurposer (concat)', repurposed(lambda source: xfer.LrRepurposer(source, ['concat']))),
    ('LrRepurposer (act_fc1)', repurposed(lambda source: xfer.LrRepurposer(source, ['act_fc1']))),
    ('SvmRepurposer (concat)', repurposed(lambda source: xfer.SvmRepurposer(source, ['concat']))),
    ('GpRepurposer (concat)', repurposed(lambda source: xfer.GpRepurposer(source, ['concat']))),
])


# ================================================================================== run
def run(shots, draws):
    """accuracies[k][method] = list of test accuracies over the draws; also the test-set size per k."""
    source, vocabulary, length = load_source()
    texts, labels = text_data.load_sentiment_tweets(airlines_only=True)
    x = vocabulary.encode(texts, length).astype(np.float32)
    accuracies, test_sizes = OrderedDict(), OrderedDict()
    for k in shots:
        accuracies[k] = OrderedDict((name, []) for name in METHODS)
        for draw in range(draws):
            train, rest = datasets.few_shot_split(labels, k, seed=draw)
            test = balanced_test(labels, rest, draw)
            test_sizes[k] = len(test)
            for name, method in METHODS.items():
                mx.random.seed(draw)
                np.random.seed(draw)
                started = time.perf_counter()
                predicted = (bag_of_words(texts, labels, train, test) if method is None
                             else method(source, x, labels, train, test))
                accuracies[k][name].append(float(np.mean(predicted == labels[test])))
                print('  k={} draw {} {:<45} {:.3f}  ({:.1f} s)'.format(
                    k, draw, name, accuracies[k][name][-1], time.perf_counter() - started), flush=True)
    return accuracies, test_sizes


def table(accuracies):
    """Rows: methods; per k the mean (sd) accuracy and the gain over scratch in points."""
    shots = list(accuracies)
    lines = ['| method | ' + ' | '.join('k={0} accuracy | k={0} vs scratch (pts)'.format(k) for k in shots) + ' |',
             '|---|' + '---:|---:|' * len(shots)]
    for name in METHODS:
        cells = []
        for k in shots:
            values, baseline = np.array(accuracies[k][name]), np.array(accuracies[k][SCRATCH])
            cells += ['{:.3f} ({:.3f})'.format(values.mean(), values.std()),
                      '{:+.1f}'.format(100 * (values - baseline).mean())]
        lines.append('| {} | {} |'.format(name, ' | '.join(cells)))
    return '\n'.join(lines)


def report(accuracies, test_sizes, draws, seconds):
    with open(SOURCE_MODEL + '-manifest.json') as stream:
        source_accuracy = json.load(stream)['held_out_accuracy']
    return '\n'.join([
        '# Text transfer: movie snippets -> airline tweets\n',
        '{} on {} ({} cores), mxnet {}; {} draws (few_shot_split seeds 0..{}); {:.0f} s in all.\n'.format(
            time.strftime('%Y-%m-%d'), cpu_model(), os.cpu_count(), mx.__version__, draws, draws - 1, seconds),
        'Source: `tests/data/models/text_sentiment`, a word CNN trained on Rotten Tomatoes snippets '
        '(held-out accuracy {:.3f}). Target: tweets to US airlines, negative vs positive, k labelled tweets per '
        'class; accuracy on a balanced held-out set of {} tweets (chance 0.5), mean (sd) over draws, and the '
        'mean per-draw difference to the CNN trained from scratch with the same budget ({}).\n'.format(
            source_accuracy, ', '.join('{} (k={})'.format(size, k) for k, size in test_sizes.items()),
            ', '.join('{}={}'.format(k, v) for k, v in NETWORK_TRAINING.items())),
        table(accuracies) + '\n',
        'Command: `python benchmarks/text_transfer.py --shots {} --draws {}`\n'.format(
            ' '.join(str(k) for k in accuracies), draws),
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--shots', type=int, nargs='+', default=[50, 10])
    parser.add_argument('--draws', type=int, default=5)
    parser.add_argument('--output', default=OUTPUT)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    accuracies, test_sizes = run(args.shots, args.draws)
    write_report(report(accuracies, test_sizes, args.draws, time.perf_counter() - started), args.output)


if __name__ == '__main__':
    main()
