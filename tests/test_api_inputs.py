"""The API takes images as the libraries people use give them, and gives faces left to right, unrounded,
with the results files' schema one call away."""
import cv2
import numpy as np
import pytest

from agegender import FaceAnalyzer


@pytest.fixture(scope="module")
def analyzer(random_models):
    with FaceAnalyzer(models=random_models) as analyzer:
        yield analyzer


@pytest.fixture(scope="module")
def group(group_photo):
    return cv2.imread(str(group_photo))


def boxes(faces) -> np.ndarray:
    return np.array([face.box for face in faces])


def test_rgb_pil_and_grayscale_images_find_the_faces_a_bgr_array_finds(analyzer, group, group_photo):
    from PIL import Image
    bgr = analyzer.analyze(group)
    assert len(bgr) >= 5
    rgb = analyzer.analyze(np.ascontiguousarray(group[..., ::-1]), color="rgb")
    pil = analyzer.analyze(Image.open(group_photo))
    for faces in (rgb, pil):
        np.testing.assert_allclose(boxes(faces), boxes(bgr), atol=0.5)
        assert [f.age_bucket for f in faces] == [f.age_bucket for f in bgr]
    gray = analyzer.analyze(cv2.cvtColor(group, cv2.COLOR_BGR2GRAY))
    assert len(gray) >= len(bgr) - 1
    with pytest.raises(ValueError, match="color must be 'bgr' or 'rgb'"):
        analyzer.analyze(group, color="hsv")


def test_faces_come_left_to_right_unrounded_with_the_results_schema(analyzer, group):
    faces = analyzer.analyze(group)
    assert [f.box[0] for f in faces] == sorted(f.box[0] for f in faces)
    assert any(f.box != tuple(round(v, 1) for v in f.box) for f in faces)  # not round-tripped through text
    for face in faces:
        as_written = face.to_dict()
        assert as_written["box"] == [round(v, 1) for v in face.box]
        assert set(as_written) == {"box", "score", "landmarks", "designs"}
        assert as_written["designs"]["multitask"]["age_bucket"] == face.age_bucket
        low, _, high = face.age_bucket.partition("-")
        assert face.age_years == round(face.age) and int(low.rstrip("+")) <= face.age_years <= int(high or 999)
