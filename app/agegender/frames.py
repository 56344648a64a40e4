"""The two types the flow is built on: a Frame goes in (from a source: a camera, a video, an image), a
FrameResult comes out (from the pipeline: the faces found, and each design's answers for them). The
window, `agegender process`, the archive, the bench and the Python API all pass these along."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from agegender.vision.designs import Predictions
    from agegender.vision.detect import Detections


@dataclass
class Frame:
    image: np.ndarray  # uint8 BGR
    index: int
    time: float  # seconds from the source's start (video time for files, wall time for live sources)
    source: str = ""  # the image's file name, for image sources
    captured_at: float = field(default_factory=time.monotonic)
    # Counts the jumps in the source (a seek, a loop, a reconnect): faces are followed from one frame to
    # the next only within a segment.
    segment: int = 0

    @property
    def is_still(self) -> bool:
        """An image on its own (a file, or one of a folder): unrelated to the frame before it."""
        return bool(self.source)


@dataclass
class FrameResult:
    frame_index: int
    time: float
    detections: Detections
    predictions: dict[str, Predictions]  # keyed by design name ("multitask", "single")
    timings: dict[str, float] = field(default_factory=dict)  # ms per stage
    source: str = ""
    captured_at: float = 0.0
    faces_dropped: int = 0  # faces found beyond the per-frame cap (max_faces): neither classified nor listed
    track_ids: np.ndarray | None = None
    full_detection: bool = True  # False where tracking mode refined known faces only
    classified: np.ndarray | None = None  # indices of the faces classified on this frame (None: all)

    def face_dict(self, i: int) -> dict:
        """Face i as the results schema has it."""
        face = {"box": [round(float(v), 1) for v in self.detections.boxes[i]],
                "score": round(float(self.detections.scores[i]), 4),
                "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.detections.landmarks[i]],
                "designs": {name: p.face(i) for name, p in self.predictions.items()}}
        if self.track_ids is not None:
            face["track"] = int(self.track_ids[i])
        return face

    def to_dict(self) -> dict:
        """The results schema: one JSON object per frame (JSONL), deterministic for golden tests."""
        faces = [self.face_dict(i) for i in range(len(self.detections))]
        out = {"frame": self.frame_index, "time": round(self.time, 3), "faces": faces}
        if self.faces_dropped:  # only where the cap bit, so the usual line stays as it was
            out["faces_dropped"] = self.faces_dropped
        if self.source:
            out = {"source": self.source, **out}
        return out
