"""The All-Age-Faces loader, its stored split, the mixed-source training data and the camera augmentation."""
import numpy as np
import pytest

from tests.conftest import AAF, UTKFACE, need
from training.augment import augment
from training.utkface import make_split, read_split


def test_aaf_labels_agree_with_file_names_and_the_stored_split():
    need(AAF)
    from training.aaf import load_labels
    samples, skipped = load_labels(AAF)
    assert len(samples) == 6637 and skipped == []
    assert {s.gender for s in samples} == {0, 1}
    assert sum(s.gender == 1 for s in samples) == 3677  # the dataset's own count of women
    assert 2 <= min(s.age for s in samples) and max(s.age for s in samples) <= 80
    assert make_split(samples) == read_split(prefix="aaf")


def test_aaf_loader_skips_rows_that_contradict_their_file_name(tmp_path):
    from training.aaf import load_labels
    (tmp_path / "labels.csv").write_text("file,age,gender\nimages/00001A25.jpg,25,male\n"
                                         "images/00002A30.jpg,31,female\nimages/00003A40.jpg,40,robot\n"
                                         "notes.txt,20,male\n")
    samples, skipped = load_labels(tmp_path)
    assert [(s.name, s.age, s.gender) for s in samples] == [("images/00001A25.jpg", 25, 0)]
    assert skipped == ["images/00002A30.jpg", "images/00003A40.jpg", "notes.txt"]


def test_stored_splits_are_disjoint():
    for prefix in ("utkface", "aaf"):
        split = read_split(prefix=prefix)
        parts = [set(split[p]) for p in ("train", "val", "test")]
        assert all(parts) and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


def _faces(count: int = 16) -> np.ndarray:
    """Structured crops (gradients and a bright oval), not noise, so blur and occlusion have something to change."""
    y, x = np.mgrid[0:112, 0:112]
    base = np.stack([x * 2, y * 2, (x + y)], axis=-1).astype(np.uint8)
    base[((x - 56) / 30) ** 2 + ((y - 56) / 40) ** 2 < 1] = (220, 180, 150)
    return np.repeat(base[None], count, axis=0)


def test_augmentation_keeps_shape_and_type_and_changes_the_crop():
    crops = _faces()
    rng = np.random.default_rng(1)
    out = np.stack([augment(c, rng) for c in crops])
    assert out.shape == crops.shape and out.dtype == np.uint8
    assert np.all(np.abs(out.astype(int) - crops).reshape(len(crops), -1).mean(axis=1) > 0.5)
    assert np.array_equal(crops, _faces())  # the inputs are left alone


def test_augmentation_is_reproducible_under_a_seed():
    crops = _faces(8)
    first = [augment(c, np.random.default_rng([3, 1, 4])) for c in crops]
    second = [augment(c, np.random.default_rng([3, 1, 4])) for c in crops]
    third = [augment(c, np.random.default_rng([3, 1, 5])) for c in crops]
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not all(np.array_equal(a, c) for a, c in zip(first, third))


@pytest.mark.parametrize("step", ["_small_face", "_blur", "_exposure", "_white_balance", "_noise", "_occlude",
                                  "_compress", "_jitter_alignment"])
def test_every_augmentation_step_keeps_the_crop_valid(step):
    import training.augment as module
    rng = np.random.default_rng(0)
    for crop in _faces(20):
        out = getattr(module, step)(crop, rng)
        assert out.shape == (112, 112, 3) and out.dtype == np.uint8


def test_augmented_jpeg_keeps_a_faces_brightness_as_a_cameras_encoder_does():
    """OpenCV's encoder takes BGR; handed RGB as it is, it keeps the brightness of a face with blue and red
    swapped, and the true brightness suffers. Real faces, brightness as a camera computes it."""
    need(UTKFACE)
    import cv2
    from training.augment import jpeg_round_trip_rgb
    names = sorted(read_split()["train"])[:32]
    faces = [cv2.cvtColor(cv2.resize(cv2.imread(str(UTKFACE / n)), (112, 112), interpolation=cv2.INTER_AREA),
                          cv2.COLOR_BGR2RGB) for n in names]

    def brightness(rgb):
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[..., 0].astype(float)

    def misread_round_trip(rgb, quality):  # what the augmentation did before
        return cv2.imdecode(cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)

    errors = np.array([[np.abs(brightness(round_trip(face, 30)) - brightness(face)).mean()
                        for round_trip in (jpeg_round_trip_rgb, misread_round_trip)] for face in faces])
    assert errors[:, 0].mean() < errors[:, 1].mean() and (errors[:, 0] < errors[:, 1]).mean() > 0.75
