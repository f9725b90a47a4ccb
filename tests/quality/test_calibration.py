"""Reliability bins and the expected calibration error."""

import numpy as np
import pytest

from truthline.quality import QualityInputError, calibration_error, reliability


def test_bins_hold_each_confidence_level_and_its_accuracy() -> None:
    confidence = np.array([0.95] * 10 + [0.65] * 10 + [1.0])
    right = np.array([True] * 9 + [False] + [True] * 5 + [False] * 5 + [True])  # 90% at 0.95, 50% at 0.65
    bins = reliability(confidence, right)
    assert [(b.lower, b.upper, b.items) for b in bins] == [(0.6, 0.7, 10), (0.9, 1.0, 11)]  # 1.0: top bin
    assert bins[0].confidence == pytest.approx(0.65) and bins[0].accuracy == pytest.approx(0.5)
    assert bins[1].confidence == pytest.approx((9.5 + 1) / 11) and bins[1].accuracy == pytest.approx(10 / 11)
    expected = 10 / 21 * 0.15 + 11 / 21 * abs((9.5 + 1) / 11 - 10 / 11)
    assert calibration_error(confidence, right) == pytest.approx(expected)
    assert [b.items for b in reliability(confidence, right, bins=2)] == [21]  # all in the upper half; the empty bin is left out


def test_a_method_right_exactly_as_often_as_it_says_scores_zero() -> None:
    assert calibration_error(np.array([1.0, 1.0]), np.array([True, True])) == 0.0
    assert calibration_error(np.full(4, 0.5), np.array([True, False, True, False])) == 0.0
    assert np.isnan(calibration_error(np.zeros(0), np.zeros(0, dtype=bool)))
    assert reliability(np.array([1 + 1e-15]), np.array([True]))[0].confidence == 1.0  # rounding above 1: clipped


@pytest.mark.parametrize("confidence, right, field", [
    (np.array([0.5, 1.2]), np.array([True, False]), "confidence"),
    (np.array([0.5, np.nan]), np.array([True, False]), "confidence"),
    (np.array([0.5]), np.array([True, False]), "right"),
])
def test_bad_input_names_the_argument(confidence: np.ndarray, right: np.ndarray, field: str) -> None:
    with pytest.raises(QualityInputError) as err:
        reliability(confidence, right)
    assert err.value.field == field
    for bins in (0, 2.5, None):  # not a TypeError
        with pytest.raises(QualityInputError, match="bins"):
            reliability(np.array([0.5]), np.array([True]), bins=bins)
