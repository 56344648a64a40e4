"""The Python API: FaceAnalyzer.analyze is stateless and returns typed faces; track follows them."""
import cv2
import numpy as np
import pytest

import agegender
from agegender.config import ConfigError
from agegender.errors import ModelError
from tests.conftest import MEDIA, ROOT, need


@pytest.fixture(scope="module")
def analyzer():
    return agegender.FaceAnalyzer()


def portraits() -> list:
    return sorted(need(MEDIA).glob("portrait-*.jpg"))


def test_the_group_photo_gives_six_faces_with_age_and_gender(analyzer, group_photo):
    faces = analyzer.analyze(cv2.imread(str(group_photo)))
    assert len(faces) == 6
    for face in faces:
        x1, y1, x2, y2 = face.box
        assert 0 <= x1 < x2 and 0 <= y1 < y2 and face.score > 0.9 and len(face.landmarks) == 5
        assert face.age_bucket in analyzer.scheme.labels and 0 < face.age < 100
        assert face.gender == ("female" if face.p_female > 0.5 else "male")
        assert abs(sum(face.age_bucket_probs.values()) - 1) < 0.01
        assert set(face.designs) == {"multitask"} and face.designs["multitask"].age == face.age
        assert face.track is None


def test_analyze_is_stateless_whatever_came_before(analyzer, group_photo):
    alone = [analyzer.analyze(path) for path in portraits()]
    analyzer.analyze(group_photo)
    list(analyzer.track([cv2.imread(str(group_photo))] * 3))  # tracks in the same analyzer: not seen by analyze
    after_group = [analyzer.analyze(path) for path in portraits()]
    assert all(len(faces) >= 1 for faces in alone)
    assert after_group == alone


def test_a_path_and_the_decoded_array_give_the_same_faces(analyzer):
    path = portraits()[0]
    assert [f.box for f in analyzer.analyze(path)] == [f.box for f in analyzer.analyze(cv2.imread(str(path)))]


def test_both_designs_answer_for_every_face(group_photo):
    faces = agegender.FaceAnalyzer(design="compare").analyze(group_photo)
    with pytest.warns(DeprecationWarning, match="now called 'compare'"):
        assert agegender.FaceAnalyzer(design="both").design == "compare"
    assert len(faces) == 6
    assert all(set(face.designs) == {"multitask", "single"} for face in faces)
    assert all(face.gender == face.designs["multitask"].gender for face in faces)


def test_the_former_name_both_is_warned_of_once(caplog):
    with pytest.warns(DeprecationWarning) as warned:
        assert agegender.FaceAnalyzer(design="both").design == "compare"
    assert [str(w.message) for w in warned] == ["design 'both' is now called 'compare'"]
    assert "now called" not in caplog.text  # a program is told by the warning, not by a log line as well


def test_track_follows_faces_through_video_frames(analyzer, crowd_video):
    capture = cv2.VideoCapture(str(crowd_video))
    frames = [cv2.resize(capture.read()[1], (960, 540)) for _ in range(6)]
    results = list(analyzer.track(frames, detect_every=3))
    assert len(results) == 6 and all(results)
    first_ids = {face.track for face in results[0]}
    assert None not in first_ids and first_ids & {face.track for face in results[-1]}


def test_the_reference_detector_finds_facenet_pytorchs_faces_in_the_group_photo(group_photo):
    """detector="reference" reaches the detector: at facenet-pytorch's settings (min face 20) the boxes are
    the ones facenet-pytorch's MTCNN found (tests/data/mtcnn_reference.json), to a fraction of a pixel."""
    import json
    reference = json.loads((ROOT / "tests" / "data" / "mtcnn_reference.json").read_text())["images"]["group.jpg"]
    faces = agegender.FaceAnalyzer(detector="reference", min_face=20).analyze(group_photo)
    expected = sorted(face["box"] for face in reference["faces"])
    assert len(faces) == len(expected) == 6
    np.testing.assert_allclose([f.box for f in faces], expected, atol=1.0)


def test_wrong_arguments_say_what_is_expected(analyzer):
    with pytest.raises(ValueError, match="design must be one of"):
        agegender.FaceAnalyzer(design="fast")
    with pytest.raises(ValueError, match="uint8 BGR array"):
        analyzer.analyze(np.zeros((10, 10), np.float32))
    with pytest.raises(ConfigError, match="'detector' must be one of fast, reference"):
        agegender.FaceAnalyzer(detector="quick")


def test_a_models_folder_covers_the_detector_too(tmp_path, group_photo):
    import shutil
    for name in ("multitask.onnx", "age.onnx", "gender.onnx"):
        shutil.copy(ROOT / "models" / name, tmp_path / name)
    with pytest.raises(ModelError, match="mtcnn"):
        agegender.FaceAnalyzer(models=tmp_path)
    shutil.copytree(ROOT / "models" / "mtcnn", tmp_path / "mtcnn")
    assert len(agegender.FaceAnalyzer(models=tmp_path).analyze(group_photo)) == 6
