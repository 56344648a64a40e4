"""The full-frame detector on its own thread, so that no frame waits for the pyramid.

In the live view the pipeline follows known faces on every frame with the detector's cheap region
search (R-Net and O-Net around each track), and starts a full sweep every few frames on a thread of
its own. When a sweep finishes, the faces it found that no track covers become search regions on
the next frame: new faces join the tracks within a sweep's time, and no frame stops for it.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from agegender.vision.detect import Detections, MtcnnDetector
from agegender.vision.track import iou_matrix

NEW_FACE_MAX_IOU = 0.3  # a swept face overlapping a track less than this is someone new


class BackgroundSweep:
    """Runs `detector`'s full detection with sessions of its own, on half the cores, so that it does not
    queue behind (or crowd out) the region searches of the frame path on the other half. It takes up
    the frame path detector's settings at each sweep."""

    def __init__(self, detector: MtcnnDetector) -> None:
        self.detector = detector
        self._own = MtcnnDetector(detector.settings, detector.model_dir, detector.providers,
                                  threads=max(1, (os.cpu_count() or 2) // 2))
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep")
        self._running: Future | None = None

    def start(self, image_bgr: np.ndarray) -> bool:
        """Starts a sweep of this image unless one is under way or not yet collected; True if it started."""
        if self._running is not None:
            return False
        self._own.settings = self.detector.settings
        self._running = self._executor.submit(self._own.detect, image_bgr)
        return True

    def finished(self) -> Detections | None:
        """The faces of the sweep that finished since the last call (once), else None. A sweep that
        failed raises its error here, on the pipeline's thread."""
        if self._running is None or not self._running.done():
            return None
        running, self._running = self._running, None
        return running.result()

    def reset(self) -> None:
        """Forgets the sweep under way: its faces belong to a frame from before a seek or a new source."""
        self._running = None

    def close(self) -> None:
        self.reset()
        self._executor.shutdown(wait=True)


def new_faces(swept: Detections, tracked_boxes: np.ndarray) -> np.ndarray:
    """Search regions for the swept faces that no tracked box covers. A sweep finishes a few frames
    after the frame it looked at, and a face may have moved meanwhile; the region search only looks a
    tenth of a face around a box, so each new face is searched for around its box and four boxes a
    quarter of a face away."""
    if not len(swept):
        return np.zeros((0, 4), np.float32)
    boxes = swept.boxes
    if len(tracked_boxes):
        boxes = boxes[iou_matrix(boxes, tracked_boxes).max(axis=1) < NEW_FACE_MAX_IOU]
    side = (boxes[:, 2:4] - boxes[:, :2]).max(axis=1, keepdims=True)
    shifts = [(0, 0), (-0.25, 0), (0.25, 0), (0, -0.25), (0, 0.25)]
    return np.concatenate([boxes + np.tile(np.array(shift, np.float32) * side, 2) for shift in shifts])
