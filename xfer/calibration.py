"""How far to trust predicted probabilities: calibration error, reliability diagrams and confidence off the data.

A model's *confidence* in a sample is its highest class probability. It is calibrated when, among
the samples it is ``p`` confident about, a fraction ``p`` is right; and it knows what it doesn't
know when it is less confident on inputs unlike its training data (other classes, noise, another
domain) than on the data it was trained for.
"""
from collections import OrderedDict

import numpy as np


def expected_calibration_error(probabilities, labels, n_bins=10):
    """Expected calibration error: the mean gap between confidence and accuracy, over confidence bins.

    ``ECE = sum over bins b of (|b| / n) * |accuracy(b) - mean confidence(b)|``, where a sample's
    confidence is its highest class probability and the bins split [0, 1] into ``n_bins`` equal
    parts (Guo et al., ICML 2017). 0 is perfectly calibrated.

    Parameters
    ----------
    probabilities : np.ndarray, shape (n_samples, n_classes)
    labels : np.ndarray of int, shape (n_samples,)
        Column indices of the true classes.
    n_bins : int, default 10
    """
    counts, confidence, accuracy = reliability_bins(probabilities, labels, n_bins)
    filled = counts > 0
    return float(np.sum(counts[filled] * np.abs(accuracy[filled] - confidence[filled])) / counts.sum())


def reliability_bins(probabilities, labels, n_bins=10):
    """Per confidence bin, the number of samples, their mean confidence and their accuracy.

    The bins split [0, 1] into ``n_bins`` equal parts, the last one closed; a sample falls in the
    bin of its highest class probability. Empty bins have confidence and accuracy ``nan``.

    Parameters
    ----------
    probabilities : np.ndarray, shape (n_samples, n_classes)
    labels : np.ndarray of int, shape (n_samples,)
        Column indices of the true classes.
    n_bins : int, default 10

    Returns
    -------
    counts, confidence, accuracy : np.ndarray, shape (n_bins,)
    """
    probabilities, labels = _checked(probabilities, labels)
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError('n_bins must be a positive int, got {!r}'.format(n_bins))
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid='ignore'):
        return (counts, np.bincount(bins, weights=confidence, minlength=n_bins) / counts,
                np.bincount(bins, weights=correct, minlength=n_bins) / counts)


def reliability_diagram(probabilities, labels, n_bins=10, ax=None, label=None):
    """Plot accuracy against confidence per bin (see :func:`reliability_bins`), with the diagonal.

    A calibrated model's points lie on the diagonal; points below it are over-confident, points
    above it under-confident. Call it once per model on the same axes to compare models.

    Parameters
    ----------
    probabilities : np.ndarray, shape (n_samples, n_classes)
    labels : np.ndarray of int, shape (n_samples,)
    n_bins : int, default 10
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure's axes by default.
    label : str, optional
        The legend entry; the ECE is appended to it.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    counts, confidence, accuracy = reliability_bins(probabilities, labels, n_bins)
    ece = expected_calibration_error(probabilities, labels, n_bins)
    if ax is None:
        ax = plt.figure(figsize=(4.5, 4.5)).add_subplot()
    if not any(line.get_gid() == _DIAGONAL for line in ax.get_lines()):
        ax.plot([0, 1], [0, 1], color='grey', linestyle=':', label='perfectly calibrated', gid=_DIAGONAL)
    filled = counts > 0
    ax.plot(confidence[filled], accuracy[filled], marker='o',
            label='{}ECE {:.3f}'.format(label + ', ' if label else '', ece))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel('confidence (highest class probability), per bin')
    ax.set_ylabel('accuracy in the bin')
    ax.legend(fontsize=8, loc='upper left')
    return ax


def mean_max_probability(probabilities):
    """Mean over samples of the highest class probability: how confident a model is on a data set."""
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 2 or len(probabilities) == 0:
        raise ValueError('probabilities must be a non-empty 2-D array, got shape {}'.format(probabilities.shape))
    return float(probabilities.max(axis=1).mean())


def confidence_summary(probabilities, labels=None, n_bins=10):
    """How confident each model is on each data set, and how accurate and calibrated where labels are known.

    Parameters
    ----------
    probabilities : dict of str to dict of str to np.ndarray
        Per model name, per data set name, the predicted probabilities ``(n_samples, n_classes)``;
        every model on the same data sets.
    labels : dict of str to np.ndarray, optional
        True class columns of the data sets that have them (e.g. the in-domain test set).
    n_bins : int, default 10
        Bins of the ECE.

    Returns
    -------
    OrderedDict of str to OrderedDict of str to float
        Per model: ``'accuracy on <set>'`` and ``'ECE on <set>'`` for every labelled set, then
        ``'confidence on <set>'`` (:func:`mean_max_probability`) for every set.
    """
    labels = labels or {}
    data_sets = _common_data_sets(probabilities)
    unknown = sorted(set(labels) - set(data_sets))
    if unknown:
        raise ValueError('labels are given for {} but the models predicted on {}'.format(unknown, data_sets))
    summary = OrderedDict()
    for model, per_set in probabilities.items():
        row = summary[model] = OrderedDict()
        for name in (name for name in data_sets if name in labels):
            predictions, truth = _checked(per_set[name], labels[name])
            row['accuracy on ' + name] = float(np.mean(predictions.argmax(axis=1) == truth))
            row['ECE on ' + name] = expected_calibration_error(predictions, truth, n_bins)
        for name in data_sets:
            row['confidence on ' + name] = mean_max_probability(per_set[name])
    return summary


def confidence_table(summary, digits=3):
    """A :func:`confidence_summary` as a Markdown table, one row per model."""
    if not summary:
        raise ValueError('The summary is empty: it needs at least one model')
    columns = list(next(iter(summary.values())))
    lines = ['| model | ' + ' | '.join(columns) + ' |', '|' + '---|' * (len(columns) + 1)]
    lines += ['| {} | {} |'.format(model, ' | '.join('{:.{}f}'.format(row[column], digits) for column in columns))
              for model, row in summary.items()]
    return '\n'.join(lines)


_DIAGONAL = 'xfer-calibration-diagonal'


def _common_data_sets(probabilities):
    if not probabilities:
        raise ValueError('probabilities is empty: it needs at least one model')
    data_sets = [list(per_set) for per_set in probabilities.values()]
    if any(sets != data_sets[0] for sets in data_sets) or not data_sets[0]:
        raise ValueError('every model needs predictions on the same data sets, got {}'.format(
            {model: list(per_set) for model, per_set in probabilities.items()}))
    return data_sets[0]


def _checked(probabilities, labels):
    probabilities = np.asarray(probabilities, dtype=float)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or len(probabilities) == 0:
        raise ValueError('probabilities must be a non-empty 2-D array, got shape {}'.format(probabilities.shape))
    if labels.shape != (len(probabilities),):
        raise ValueError('labels must have shape ({},), got {}'.format(len(probabilities), labels.shape))
    return probabilities, labels
