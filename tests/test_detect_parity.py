"""Our ONNX MTCNN with the "reference" preset finds the faces facenet-pytorch's MTCNN finds, on real
photos and video frames. (The default, "fast", preset is held to a recall gate instead:
tests/test_detect_recall.py.)

Reference: tests/data/mtcnn_reference.json, made by `python -m training.mtcnn_reference`.
"""
import json

import numpy as np
import pytest

from agegender.vision.detect import DetectorSettings, MtcnnDetector
from tests.conftest import ROOT

REFERENCE = json.loads((ROOT / "tests" / "data" / "mtcnn_reference.json").read_text())["images"]


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def reference_preset():
    return MtcnnDetector(DetectorSettings.preset("reference"))


def test_reference_covers_photos_and_video_frames():
    assert len(REFERENCE) >= 10
    assert sum(len(v["faces"]) for v in REFERENCE.values()) >= 40
    assert {name.rsplit("@", 1)[-1] for name in REFERENCE if "@" in name} == {"360p", "720p", "1080p"}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_same_faces_as_facenet_pytorch(name, parity_images, reference_preset):
    rgb = parity_images[name]
    assert [rgb.shape[1], rgb.shape[0]] == REFERENCE[name]["size"]
    ours = reference_preset.detect_rgb(rgb)
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
