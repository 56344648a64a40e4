"""Each metric against a small example worked out by hand."""
import numpy as np
import pytest

from agegender.vision.buckets import ADIENCE, BucketScheme
from training.metrics import (age_metrics, bucket_metrics, confident_answers, expected_calibration_error, gender_metrics,
                              group_means, per_class_rates)


def test_per_class_rates_by_hand():
    # truth:     0 0 0 1 1
    # predicted: 0 0 1 1 0   -> class 1: tp 1, fn 1, fp 1, tn 2
    rates = per_class_rates(np.array([0, 0, 0, 1, 1]), np.array([0, 0, 1, 1, 0]), ["male", "female"])
    female = rates["female"]
    assert female["precision"] == pytest.approx(0.5)
    assert female["recall"] == pytest.approx(0.5)
    assert female["fnr"] == pytest.approx(0.5)
    assert female["fpr"] == pytest.approx(1 / 3)
    assert rates["male"]["recall"] == pytest.approx(2 / 3)


def test_gender_accuracy_and_auc_by_hand():
    metrics = gender_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]))
    assert metrics["accuracy"] == pytest.approx(0.5)
    assert metrics["auc"] == pytest.approx(0.75)  # 3 of the 4 (female, male) pairs are ordered right


def test_expected_calibration_error_by_hand():
    # Two predictions at confidence 0.9 (one right), two at 0.6 (both right):
    # bin (0.85, 0.9]: accuracy 0.5, confidence 0.9 -> gap 0.4; bin (0.55, 0.6]: 1.0 vs 0.6 -> gap 0.4
    ece, table = expected_calibration_error(np.array([1, 0, 1, 0]), np.array([0.9, 0.9, 0.6, 0.4]))
    assert ece == pytest.approx(0.4)
    assert sum(row["count"] for row in table) == 4


def test_bucket_metrics_drop_gaps_and_measure_distance():
    scheme = BucketScheme.parse("0-9,20-29,40+", gaps_allowed=True)
    ages = np.array([5, 25, 45, 15])  # 15 is in a gap
    distribution = np.zeros((4, 101))
    distribution[[0, 1, 2, 3], [5, 45, 45, 15]] = 1  # right, two buckets off, right, (dropped)
    metrics = bucket_metrics(ages, distribution, scheme)
    assert metrics["evaluated"] == 3 and metrics["dropped_in_gaps"] == 1
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["distance_mean"] == pytest.approx(1 / 3)
    assert metrics["confusion"][1][2] == 1


def test_mae_by_hand():
    distribution = np.zeros((2, 101))
    distribution[0, [20, 30]] = 0.5  # expects 25
    distribution[1, 100] = 1  # 100+
    assert age_metrics(np.array([27, 110]), distribution)["mae"] == pytest.approx(1.0)


def test_adience_protocol_drops_true_ages_in_its_gaps_and_snaps_estimates_to_the_nearest_bucket():
    ages = np.array([30, 3, 35, 65, 1])  # 3 and 35 fall in gaps of 0-2,4-6,...,25-32,38-43,48-53,60+
    distribution = np.zeros((5, 101))
    distribution[np.arange(5), [34, 3, 35, 50, 5]] = 1  # 34 is in a gap, nearest 25-32: right; 50: 48-53; 5: 4-6
    metrics = bucket_metrics(ages, distribution, ADIENCE)
    assert metrics["evaluated"] == 3 and metrics["dropped_in_gaps"] == 2
    assert metrics["accuracy"] == pytest.approx(1 / 3)
    assert metrics["distance_mean"] == pytest.approx(2 / 3)  # 0, 1 (60+ -> 48-53), 1 (0-2 -> 4-6)
    confusion = np.array(metrics["confusion"])
    assert confusion.shape == (8, 8) and confusion.sum() == 3
    assert confusion[4, 4] == confusion[7, 6] == confusion[0, 1] == 1


def test_group_means_by_hand():
    values = np.array([1.0, 0.0, 1.0, 4.0])
    groups = np.array([0, 0, 0, 2])  # nobody in group 1: left out
    means = group_means(values, groups, ["a", "b", "c"])
    assert means == {"a": {"n": 3, "value": pytest.approx(2 / 3)}, "c": {"n": 1, "value": 4.0}}


def test_confident_answers_count_adults_and_their_accuracy():
    genders = np.array([1, 1, 0, 0, 1])
    p_female = np.array([0.9, 0.2, 0.1, 0.8, 0.6])  # right, wrong, right, wrong, right
    confident = np.array([True, True, True, False, True])
    true_ages = np.array([30, 40, 50, 60, 5])  # the last is a child
    out = confident_answers(genders, p_female, confident, true_ages)
    assert out["adults"] == 4
    assert out["coverage_adults"] == pytest.approx(3 / 4)
    assert out["accuracy_adults"] == pytest.approx(2 / 3)
    assert out["coverage_all"] == pytest.approx(4 / 5)
    assert out["accuracy_all"] == pytest.approx(3 / 4)


def test_confident_answers_with_nothing_sure_has_no_accuracy():
    out = confident_answers(np.array([1, 0]), np.array([0.9, 0.1]), np.array([False, False]), np.array([30, 40]))
    assert out["coverage_adults"] == 0 and out["accuracy_adults"] is None
