"""Calibration error and confidence, checked on cases worked by hand."""
import numpy as np
import pytest

from xfer.calibration import (confidence_summary, confidence_table, expected_calibration_error, mean_max_probability,
                              reliability_bins, reliability_diagram)


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


def test_reliability_bins_of_hand_worked_case():
    probabilities = np.array([[0.95, 0.05], [0.05, 0.95], [0.6, 0.4], [0.4, 0.6], [0.7, 0.3]])
    counts, confidence, accuracy = reliability_bins(probabilities, np.array([0, 0, 0, 1, 1]), n_bins=5)
    np.testing.assert_array_equal(counts, [0, 0, 0, 3, 2])  # bins [0.6, 0.8): 0.6, 0.6, 0.7; [0.8, 1]: 0.95, 0.95
    np.testing.assert_allclose(confidence[3:], [(0.6 + 0.6 + 0.7) / 3, 0.95])
    np.testing.assert_allclose(accuracy[3:], [2 / 3, 0.5])
    assert np.all(np.isnan(confidence[:3])) and np.all(np.isnan(accuracy[:3]))


def test_ece_skips_empty_bins_and_weighs_by_count():
    probabilities = np.array([[0.95, 0.05], [0.05, 0.95], [0.6, 0.4], [0.4, 0.6], [0.7, 0.3]])
    labels = np.array([0, 0, 0, 1, 1])
    expected = 3 / 5 * abs(2 / 3 - 1.9 / 3) + 2 / 5 * abs(0.5 - 0.95)
    assert expected_calibration_error(probabilities, labels, n_bins=5) == pytest.approx(expected)


def test_reliability_diagram_draws_the_bins_and_the_diagonal():
    matplotlib = pytest.importorskip('matplotlib')
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    probabilities = np.array([[0.95, 0.05], [0.05, 0.95], [0.6, 0.4], [0.4, 0.6]])
    labels = np.array([0, 0, 0, 1])
    ax = reliability_diagram(probabilities, labels, label='toy')
    # Flipped labels: right in the 0.9 bin only, so ECE = 0.5 * |0.5 - 0.95| + 0.5 * |0 - 0.6|.
    reliability_diagram(probabilities, 1 - labels, ax=ax, label='flipped')
    diagonal, toy, flipped = ax.get_lines()  # the diagonal is drawn once
    np.testing.assert_allclose(toy.get_xdata(), [0.6, 0.95])
    np.testing.assert_allclose(toy.get_ydata(), [1.0, 0.5])
    np.testing.assert_allclose(flipped.get_ydata(), [0.0, 0.5])
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [
        'perfectly calibrated', 'toy, ECE 0.425', 'flipped, ECE 0.525']
    assert ax.get_xlabel().startswith('confidence') and ax.get_ylabel().startswith('accuracy')
    plt.close(ax.figure)


def test_confidence_summary_and_table():
    probabilities = {'sure': {'test': np.array([[0.9, 0.1], [0.2, 0.8]]), 'noise': np.array([[0.7, 0.3]])},
                     'unsure': {'test': np.array([[0.6, 0.4], [0.6, 0.4]]), 'noise': np.array([[0.5, 0.5]])}}
    summary = confidence_summary(probabilities, {'test': np.array([0, 1])})
    assert list(summary['sure']) == ['accuracy on test', 'ECE on test', 'confidence on test', 'confidence on noise']
    assert summary['sure']['accuracy on test'] == 1.0
    assert summary['sure']['confidence on test'] == pytest.approx(0.85)
    assert summary['sure']['ECE on test'] == pytest.approx(0.5 * 0.1 + 0.5 * 0.2)
    assert summary['unsure']['accuracy on test'] == 0.5
    assert summary['unsure']['ECE on test'] == pytest.approx(0.1)
    assert summary['unsure']['confidence on noise'] == 0.5
    assert confidence_table(summary).splitlines() == [
        '| model | accuracy on test | ECE on test | confidence on test | confidence on noise |',
        '|---|---|---|---|---|',
        '| sure | 1.000 | 0.150 | 0.850 | 0.700 |',
        '| unsure | 0.500 | 0.100 | 0.600 | 0.500 |']


def test_confidence_summary_names_mismatched_data_sets():
    with pytest.raises(ValueError, match=r"every model needs predictions on the same data sets"):
        confidence_summary({'a': {'test': np.ones((1, 2)) / 2}, 'b': {'noise': np.ones((1, 2)) / 2}})
    with pytest.raises(ValueError, match=r"labels are given for \['other'\] but the models predicted on \['test'\]"):
        confidence_summary({'a': {'test': np.ones((1, 2)) / 2}}, {'other': np.zeros(1, int)})
