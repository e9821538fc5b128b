"""Calibration error and confidence, checked on cases worked by hand."""
import numpy as np
import pytest

from xfer.calibration import expected_calibration_error, mean_max_probability


def test_ece_of_hand_worked_bins():
    # Two samples in bin 0.9-1.0 (confidence 0.95, one right): gap |0.5 - 0.95| = 0.45, weight 2/4.
    # Two samples in bin 0.6-0.7 (confidence 0.6, both right): gap |1 - 0.6| = 0.4, weight 2/4.
    probabilities = np.array([[0.95, 0.05], [0.05, 0.95], [0.6, 0.4], [0.4, 0.6]])
    labels = np.array([0, 0, 0, 1])
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.5 * 0.45 + 0.5 * 0.4)


def test_a_calibrated_model_has_ece_near_zero():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, 200000)
    labels = (rng.uniform(size=confidence.size) > confidence).astype(int)  # class 0 right with prob. confidence
    probabilities = np.stack([confidence, 1 - confidence], axis=1)
    assert expected_calibration_error(probabilities, labels) < 0.01
    assert expected_calibration_error(probabilities, 1 - labels) > 0.4


def test_mean_max_probability():
    assert mean_max_probability(np.array([[0.2, 0.8], [0.5, 0.5]])) == pytest.approx(0.65)


@pytest.mark.parametrize('probabilities, labels, message', [
    (np.ones(3), np.zeros(3, int), r'probabilities must be a non-empty 2-D array, got shape \(3,\)'),
    (np.ones((3, 2)) / 2, np.zeros(2, int), r'labels must have shape \(3,\), got \(2,\)'),
])
def test_bad_inputs_are_named(probabilities, labels, message):
    with pytest.raises(ValueError, match=message):
        expected_calibration_error(probabilities, labels)


def test_bin_count_must_be_positive():
    with pytest.raises(ValueError, match='n_bins must be a positive int, got 0'):
        expected_calibration_error(np.ones((2, 2)) / 2, np.zeros(2, int), n_bins=0)
