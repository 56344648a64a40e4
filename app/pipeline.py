"""One frame in, one FrameResult out: detect, align, one batched call per network, all timed."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.align import align_faces
from app.capture import Frame
from app.designs import Predictions
from app.detect import Detections, MtcnnDetector
from app.timing import timed

DEFAULT_MAX_FACES = 64


@dataclass
class FrameResult:
    frame_index: int
    time: float
    detections: Detections
    predictions: dict[str, Predictions]  # keyed by design name ("multitask", "single")
    timings: dict[str, float] = field(default_factory=dict)  # ms per stage
    source: str = ""
    captured_at: float = 0.0
    faces_dropped: int = 0  # faces beyond the per-frame cap, not classified

    def to_dict(self) -> dict:
        """The results schema: one JSON object per frame (JSONL), deterministic for golden tests."""
        faces = []
        for i in range(len(self.detections)):
            faces.append({
                "box": [round(float(v), 1) for v in self.detections.boxes[i]],
                "score": round(float(self.detections.scores[i]), 4),
                "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.detections.landmarks[i]],
                "designs": {name: p.face(i) for name, p in self.predictions.items()},
            })
        out = {"frame": self.frame_index, "time": round(self.time, 3), "faces": faces}
        if self.source:
            out = {"source": self.source, **out}
        return out


class Pipeline:
    def __init__(self, detector: MtcnnDetector, designs: dict, max_faces: int = DEFAULT_MAX_FACES) -> None:
        self.detector = detector
        self.designs = designs  # name -> design object with input_size and predict()
        self.max_faces = max_faces

    def process(self, frame: Frame, design_names: list[str] | None = None) -> FrameResult:
        timings: dict[str, float] = {}
        with timed(timings, "detect"):
            detections = self.detector.detect(frame.image)
        dropped = 0
        if len(detections) > self.max_faces:
            # Bounded work per frame: keep the most confident faces.
            keep = np.sort(np.argsort(-detections.scores)[: self.max_faces])
            dropped = len(detections) - self.max_faces
            detections = detections[keep]
        predictions = {}
        crops_by_size: dict[int, np.ndarray] = {}
        for name in design_names or list(self.designs):
            design = self.designs[name]
            if design.input_size not in crops_by_size:
                with timed(timings, "align"):
                    crops_by_size[design.input_size] = align_faces(frame.image, detections.landmarks,
                                                                   design.input_size)
            crops = crops_by_size[design.input_size]
            with timed(timings, f"classify:{name}"):
                predictions[name] = design.predict(crops)
        timings["total"] = sum(timings.values())
        return FrameResult(frame.index, frame.time, detections, predictions, timings, frame.source,
                           frame.captured_at, dropped)
