import cv2
import numpy as np
import pytest

from agegender.vision.detect import (DetectorSettings, MtcnnDetector, area_resize, area_windows, nms, nms_min,
                        pyramid_scales, square)
from agegender.errors import ModelError
from agegender.vision.track import iou_matrix


def test_area_resize_matches_adaptive_average_pooling():
    torch = pytest.importorskip("torch", reason="needs the train extra (torch)")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    ours = area_resize(cv2.integral(image), 17, 29)
    theirs = torch.nn.functional.interpolate(torch.from_numpy(image).permute(2, 0, 1)[None].float(),
                                             size=(17, 29), mode="area")[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_area_windows_cover_the_span():
    first, last = area_windows(np.array([10]), np.array([35]), 24)
    assert first[0, 0] == 10 and last[0, -1] == 35
    assert np.all(last > first)


def test_nms_keeps_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    keep = nms(boxes, np.array([0.8, 0.9, 0.7], np.float32), 0.5)
    assert keep.tolist() == [1, 2]


def test_nms_min_removes_box_inside_a_larger_one():
    boxes = np.array([[0, 0, 100, 100], [10, 10, 40, 40]], np.float32)
    assert nms_min(boxes, np.array([0.9, 0.95]), 0.7).tolist() == [1]
    assert sorted(nms(boxes, np.array([0.9, 0.95], np.float32), 0.7).tolist()) == [0, 1]


def test_square_keeps_centre():
    out = square(np.array([[0, 0, 10, 20, 0.9]], np.float32))
    assert out[0, :4].tolist() == [-5, 0, 15, 20]


def test_pyramid_starts_at_min_face_and_stops_at_cell_size():
    scales = pyramid_scales(720, 1280, DetectorSettings(min_face=20))
    assert scales[0] == pytest.approx(0.6)
    assert 720 * scales[-1] >= 12 > 720 * scales[-1] * 0.709


@pytest.mark.parametrize("kwargs", [{"min_face": 5}, {"scale_factor": 1.0}, {"thresholds": (0.6, 0.7)}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        DetectorSettings(**kwargs)


def test_no_faces_in_a_plain_or_tiny_image(detector):
    assert len(detector.detect(np.full((480, 640, 3), 128, np.uint8))) == 0
    assert len(detector.detect(np.zeros((32, 32, 3), np.uint8))) == 0
    assert len(detector.detect(np.zeros((8, 8, 3), np.uint8))) == 0


def test_group_photo_faces_have_landmarks_inside_boxes(detector, group_photo):
    found = detector.detect(cv2.imread(str(group_photo)))
    assert len(found) == 6
    assert (found.scores > detector.settings.thresholds[2]).all()
    by_confidence = found[np.argsort(-found.scores)]  # slicing keeps boxes, scores and landmarks together
    assert np.all(np.diff(by_confidence.scores) <= 0)
    for faces in (found, by_confidence):
        inside = (faces.landmarks >= faces.boxes[:, None, :2]) & (faces.landmarks <= faces.boxes[:, None, 2:])
        assert inside.all()
    assert np.triu(iou_matrix(found.boxes, found.boxes), k=1).max() < 0.3  # one box per face


def test_damaged_detector_model_names_the_file(tmp_path):
    for name in ("pnet.onnx", "rnet.onnx", "onet.onnx"):
        (tmp_path / name).write_bytes(b"not a model")
    with pytest.raises(ModelError, match="pnet.onnx"):
        MtcnnDetector(model_dir=tmp_path)


def test_a_large_level_through_p_net_in_bands_gives_the_whole_levels_faces(detector, group_photo, monkeypatch):
    import agegender.vision.detect as detect
    image = np.tile(cv2.imread(str(group_photo)), (2, 2, 1))
    whole = detector.detect(image, compile_for_size=False)
    monkeypatch.setattr(detect, "PNET_BAND_PIXELS", 300_000)  # every level but the smallest cut in bands
    monkeypatch.setattr(detect, "PIXELS_PER_CALL", 50_000)  # and R-Net, O-Net in calls of a few crops
    assert len(detect.level_bands(*image.shape[:2])) > 5
    banded = detector.detect(image, compile_for_size=False)
    assert len(whole) >= 20
    np.testing.assert_allclose(banded.boxes, whole.boxes, atol=0.01)
    np.testing.assert_allclose(banded.landmarks, whole.landmarks, atol=0.01)


def test_bands_cover_every_output_cell_once():
    import agegender.vision.detect as detect
    for height, width in ((5040, 9600), (3000, 2001), (1301, 4000)):
        bands = detect.level_bands(height, width)
        cells = []
        for first, rows, keep in bands:
            produced = (rows.stop - rows.start - detect.PNET_CELL) // detect.PNET_STRIDE + 1
            cells += range(first, first + min(keep, produced))
            assert (rows.stop - rows.start) * width <= detect.PNET_BAND_PIXELS or len(bands) == 1
        assert cells == list(range((height - detect.PNET_CELL) // detect.PNET_STRIDE + 1))
