"""What a face's label says: the bucket and "~NN y" come from one estimate, and gender is given as sure
only when the calibrated model is sure and the face is not a child's."""
import numpy as np
import pytest

from agegender.vision.buckets import NAMED, BucketScheme
from agegender.vision.designs import GenderRule, Predictions
from agegender.outputs.labels import gender_segments

AGES = 101


def random_distributions(rng: np.random.Generator, count: int) -> np.ndarray:
    """Peaked, flat, two-humped and near-degenerate distributions over 0..100 years."""
    grid = np.arange(AGES)
    out = []
    for _ in range(count):
        kind = rng.integers(4)
        if kind == 0:
            d = np.exp(-0.5 * ((grid - rng.uniform(0, 100)) / rng.uniform(0.5, 20)) ** 2)
        elif kind == 1:
            d = rng.dirichlet(np.full(AGES, rng.uniform(0.05, 2)))
        elif kind == 2:
            d = sum(np.exp(-0.5 * ((grid - rng.uniform(0, 100)) / rng.uniform(1, 8)) ** 2) for _ in range(2))
        else:
            d = np.full(AGES, 1e-9)
            d[rng.integers(AGES)] = 1
        out.append(d / d.sum())
    return np.array(out)


def random_scheme(rng: np.random.Generator) -> BucketScheme:
    edges = np.sort(rng.choice(np.arange(1, 95), int(rng.integers(2, 9)), replace=False))
    parts, low = [], 0
    for edge in edges:
        if edge - 1 >= low:
            parts.append(f"{low}-{edge - 1}")
            low = int(edge) + int(rng.integers(0, 3))  # sometimes leave a gap, as the Adience scheme does
    parts.append(f"{low}+")
    return BucketScheme.parse(",".join(parts), gaps_allowed=True)  # (the app refuses gaps; evaluation has them)


def schemes() -> list[BucketScheme]:
    rng = np.random.default_rng(7)
    return list(NAMED.values()) + [random_scheme(rng) for _ in range(30)]


@pytest.mark.parametrize("scheme", schemes(), ids=str)
def test_the_bucket_always_holds_the_age_that_is_shown(scheme):
    predictions = Predictions(random_distributions(np.random.default_rng(len(str(scheme))), 400),
                              np.full(400, 0.5, np.float32), scheme, ("male", "female"))
    for age, years, bucket in zip(predictions.expected_age, predictions.age_years, predictions.bucket_index):
        assert f"{years}" == f"{age:.0f}"  # the number shown is the one the bucket was chosen by
        low, high = scheme.ranges[bucket]
        in_gap = not any(lo <= years <= hi for lo, hi in scheme.ranges)
        if in_gap:  # the nearest bucket, no bucket nearer
            gap = min(max(lo - years, 0) + max(years - hi, 0) for lo, hi in scheme.ranges)
            assert max(low - years, 0) + max(years - high, 0) == gap
        else:
            assert low <= years <= high


def test_a_two_humped_distribution_no_longer_gives_a_contradictory_label():
    # most mass in 25-37, a long tail of old ages: the mean is 43, the bucket of most mass 25-37
    distribution = np.zeros(AGES)
    distribution[30], distribution[70] = 0.6, 0.4
    predictions = Predictions(distribution[None], np.array([0.9]), NAMED["default"], ("male", "female"))
    assert predictions.age_years[0] == 46
    assert predictions.bucket_labels == ["38-47"]


def test_gender_is_sure_only_above_the_threshold_and_for_adults():
    distribution = np.zeros((4, AGES))
    distribution[[0, 1, 2], 30] = 1  # adults
    distribution[3, 6] = 1  # a child
    p_female = np.array([0.97, 0.90, 0.02, 0.99])
    predictions = Predictions(distribution, p_female, NAMED["default"], ("male", "female"), GenderRule.uniform(0.95, 12))
    assert predictions.gender_confident.tolist() == [True, False, True, False]
    assert [predictions.face(i)["gender"] for i in range(4)] == ["female", "female", "male", "female"]
    assert texts(gender_segments(predictions, 0)) == [("female 97%", 0.75)]
    assert texts(gender_segments(predictions, 1)) == [("?", 0.75), ("female 90%", 0.5)]
    assert texts(gender_segments(predictions, 3)) == [("?", 0.75), ("child", 0.5)]  # not "? female 99%"
    assert [predictions.face(i)["gender_confident"] for i in range(4)] == [True, False, True, False]


def test_no_confidence_reads_100_percent():
    distribution = np.zeros((3, AGES))
    distribution[:, 30] = 1
    predictions = Predictions(distribution, np.array([0.9999, 0.00001, 0.985]), NAMED["default"],
                              ("male", "female"), GenderRule.uniform(0.95, 12))
    assert texts(gender_segments(predictions, 0)) == [("female 99%", 0.75)]
    assert texts(gender_segments(predictions, 1)) == [("male 99%", 0.75)]
    assert texts(gender_segments(predictions, 2)) == [("female 98%", 0.75)]


def texts(segments) -> list[tuple[str, float]]:
    return [(segment.text, segment.size) for segment in segments]


def test_a_band_never_given_as_sure_shows_the_lean_without_a_percentage():
    distribution = np.zeros((2, AGES))
    distribution[0, 15], distribution[1, 30] = 1, 1
    rule = GenderRule(((12.0, None), (20.0, 0.9)))  # 12-19 never sure
    predictions = Predictions(distribution, np.array([0.995, 0.8]), NAMED["default"], ("male", "female"), rule)
    assert texts(gender_segments(predictions, 0)) == [("?", 0.75), ("leans female", 0.5)]
    assert texts(gender_segments(predictions, 1)) == [("?", 0.75), ("female 80%", 0.5)]
