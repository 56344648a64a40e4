"""Our ONNX MTCNN finds the faces facenet-pytorch's MTCNN finds, on real photos and video frames.

Reference: tests/data/mtcnn_reference.json, made by `python -m training.mtcnn_reference`.
"""
import json

import numpy as np
import pytest

from tests.conftest import MEDIA, ROOT, need

REFERENCE = json.loads((ROOT / "tests" / "data" / "mtcnn_reference.json").read_text())["images"]


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def parity_images():
    need(MEDIA)
    from training.mtcnn_reference import parity_inputs
    return parity_inputs(MEDIA)


def test_reference_covers_photos_and_video_frames():
    assert len(REFERENCE) >= 10
    assert sum(len(v["faces"]) for v in REFERENCE.values()) >= 40


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_same_faces_as_facenet_pytorch(name, parity_images, detector):
    rgb = parity_images[name]
    assert [rgb.shape[1], rgb.shape[0]] == REFERENCE[name]["size"]
    ours = detector.detect_rgb(rgb)
    reference = REFERENCE[name]["faces"]
    matched = set()
    for face in reference:
        overlaps = [iou(face["box"], box) for box in ours.boxes]
        best = int(np.argmax(overlaps))
        assert overlaps[best] >= 0.9, f"reference face {face['box']} found with IoU {overlaps[best]:.2f} only"
        assert np.abs(ours.landmarks[best] - np.array(face["landmarks"])).max() <= 3.0
        matched.add(best)
    extra = [i for i in range(len(ours)) if i not in matched and ours.scores[i] > 0.7]
    assert not extra, f"faces facenet-pytorch does not find: {ours.boxes[extra]}"
