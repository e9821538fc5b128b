"""How far to trust predicted probabilities: calibration error and confidence on unfamiliar inputs."""
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
    n_bins : int, default 10
    """
    probabilities, labels = _checked(probabilities, labels)
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError('n_bins must be a positive int, got {!r}'.format(n_bins))
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    confidence_sums = np.bincount(bins, weights=confidence, minlength=n_bins)
    correct_sums = np.bincount(bins, weights=correct, minlength=n_bins)
    return float(np.abs(correct_sums - confidence_sums).sum() / len(labels))


def mean_max_probability(probabilities):
    """Mean over samples of the highest class probability: how confident a model is on a data set."""
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 2 or len(probabilities) == 0:
        raise ValueError('probabilities must be a non-empty 2-D array, got shape {}'.format(probabilities.shape))
    return float(probabilities.max(axis=1).mean())


def _checked(probabilities, labels):
    probabilities = np.asarray(probabilities, dtype=float)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or len(probabilities) == 0:
        raise ValueError('probabilities must be a non-empty 2-D array, got shape {}'.format(probabilities.shape))
    if labels.shape != (len(probabilities),):
        raise ValueError('labels must have shape ({},), got {}'.format(len(probabilities), labels.shape))
    return probabilities, labels
