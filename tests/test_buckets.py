import numpy as np
import pytest

from agegender.vision.buckets import ADIENCE, DECADES, DEFAULT, BucketScheme, scheme


def test_default_scheme_labels():
    assert DEFAULT.labels == ("0-2", "3-7", "8-14", "15-24", "25-37", "38-47", "48-59", "60+")


def test_probabilities_are_the_mass_in_each_bucket():
    distribution = np.zeros((1, 101))
    distribution[0, 30] = 0.75
    distribution[0, 70] = 0.25
    np.testing.assert_allclose(DEFAULT.probabilities(distribution)[0], [0, 0, 0, 0, 0.75, 0, 0, 0.25])


def test_gaps_are_renormalised_and_indexed_as_minus_one():
    distribution = np.zeros((1, 101))
    distribution[0, 3] = 0.5  # in the gap between 0-2 and 4-6
    distribution[0, 5] = 0.5
    np.testing.assert_allclose(ADIENCE.probabilities(distribution)[0, 1], 1.0)
    assert ADIENCE.index([3, 5, 14, 60, 99]).tolist() == [-1, 1, -1, 7, 7]


def test_last_class_counts_as_open_bucket():
    distribution = np.zeros((1, 101))
    distribution[0, 100] = 1
    assert DECADES.probabilities(distribution)[0, -1] == 1


@pytest.mark.parametrize("text", ["0-2,1-5", "0-2,10+,20-30", "5", "0-2", "a-b,3-4", "10-5,20+"])
def test_bad_schemes_are_refused(text):
    with pytest.raises(ValueError):
        BucketScheme.parse(text)


def test_named_and_written_out_schemes():
    with pytest.raises(ValueError, match="'default' is the Adience groups with the gaps closed"):
        scheme("adience")  # its gaps would label 14 years "8-13"
    assert scheme("0-17, 18-64, 65+").labels == ("0-17", "18-64", "65+")
