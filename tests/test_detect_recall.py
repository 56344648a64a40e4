"""The default, "fast", detector preset passes the recall gate against facenet-pytorch's MTCNN: it finds
at least 98% of the reference's faces (IoU >= 0.5) on the shared photos and the crowd video's frames at
360p, 720p and 1080p, with the matched faces' landmarks within 3 px on average.

Reference: tests/data/mtcnn_reference.json (`python -m training.mtcnn_reference`); the gate itself is
agegender.commands.bench.detection.gate, the one `agegender bench` reports.
"""
import json

import numpy as np

from agegender.commands.bench.detection import LANDMARK_GATE_PX, RECALL_GATE, gate
from agegender.vision.detect import PRESETS, Detections, DetectorSettings, MtcnnDetector
from tests.conftest import ROOT

REFERENCE = json.loads((ROOT / "tests" / "data" / "mtcnn_reference.json").read_text())["images"]


def as_detections(faces: list[dict]) -> Detections:
    if not faces:
        return Detections()
    return Detections(np.array([f["box"] for f in faces], np.float32), np.array([f["score"] for f in faces], np.float32),
                      np.array([f["landmarks"] for f in faces], np.float32))


def test_the_gate_counts_misses_and_landmark_distance():
    reference = as_detections([{"box": [0, 0, 40, 40], "score": 0.9, "landmarks": [[10, 10]] * 5},
                               {"box": [100, 100, 140, 140], "score": 0.9, "landmarks": [[110, 110]] * 5}])
    ours = Detections(np.array([[1, 1, 41, 41]], np.float32), np.array([0.9], np.float32),
                      np.array([[[13, 14]] * 5], np.float32))
    result = gate([ours], [reference])
    assert result["recall"] == 0.5 and result["landmark_px_mean"] == 5.0 and not result["passed"]
    assert gate([reference], [reference]) == {"recall": 1.0, "faces": 2, "landmark_px_mean": 0.0,
                                              "landmark_px_p95": 0.0, "passed": True}


def test_fast_preset_passes_the_recall_gate(parity_images):
    assert PRESETS["fast"] != PRESETS["reference"]  # it does less than the reference, so it is gated
    detector = MtcnnDetector(DetectorSettings.preset("fast"))
    names = sorted(REFERENCE)
    found = [detector.detect_rgb(parity_images[name]) for name in names]
    result = gate(found, [as_detections(REFERENCE[name]["faces"]) for name in names])
    assert result["faces"] >= 140
    assert result["recall"] >= RECALL_GATE, result
    assert result["landmark_px_mean"] <= LANDMARK_GATE_PX, result
