"""The full-frame detector on its own thread, so that no frame waits for the pyramid.

In the live view the pipeline follows known faces with the detector's cheap region search (R-Net and
O-Net around each track) on every frame, and starts a full sweep every few frames on a thread of its
own. A sweep ends some frames after the frame it looked at, and a face may have moved about a face
width meanwhile, further than the region search looks; so the sweep thread then looks for each face
it found again, around where it was, on the newest frame the pipeline has seen. The pipeline takes
up the faces that no track covers on its next frame: new faces join the tracks within a sweep's time,
and no frame waits for it.
"""
from __future__ import annotations

import copy
import math
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from dataclasses import replace

import cv2
import numpy as np

from agegender.vision.detect import PNET_CELL, Detections, MtcnnDetector, nms
from agegender.vision.track import iou_matrix

# Frames between full detections where none is chosen or measured yet: tracking mode's interval.
TRACKING_MODE_EVERY = 5
NEW_FACE_MAX_IOU = 0.3  # a swept face overlapping a known face less than this is someone new
REACH = 3.0  # a new face is looked for again in a square this many times its size


class SweepPace:
    """How many frames apart the live view starts its sweeps, when the setting is "auto" (detect_every 0):
    from the sweeps' measured time and the measured interval between the frames the pipeline handles,
    so that the sweep thread is busy about BUSY of the time. A faster detector (a smaller picture, a
    faster CPU or runtime) sweeps more often, up to every frame; a slower one less often, so that the
    frame path keeps its share of the cores."""

    BUSY = 0.8
    FIRST = TRACKING_MODE_EVERY  # frames apart until a sweep and the frames' rate have been measured
    MOST = 30
    WEIGHT = 0.3  # of the newest measurement in the running means

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sweep_seconds: float | None = None
        self.frame_seconds: float | None = None
        self._last_frame_time: float | None = None
        self._first_sweep_done = False

    def frame_at(self, time_s: float) -> None:
        """The time of the frame the pipeline handles now (video time, or wall time for a camera)."""
        last, self._last_frame_time = self._last_frame_time, time_s
        if last is not None and 0 < time_s - last < 1.0:  # a pause or a seek is not the frames' rate
            self.frame_seconds = _running_mean(self.frame_seconds, time_s - last, self.WEIGHT)

    def swept_in(self, seconds: float) -> None:
        if not self._first_sweep_done:  # it compiled the networks for the frame size: not the usual time
            self._first_sweep_done = True
            return
        self.sweep_seconds = _running_mean(self.sweep_seconds, seconds, self.WEIGHT)

    @property
    def interval(self) -> int:
        if self.sweep_seconds is None or self.frame_seconds is None:
            return self.FIRST
        frames = math.ceil(self.sweep_seconds / (self.BUSY * self.frame_seconds))
        return max(1, min(self.MOST, frames))


def _running_mean(mean: float | None, value: float, weight: float) -> float:
    return value if mean is None else (1 - weight) * mean + weight * value


class BackgroundSweep:
    """Runs `detector`'s full detection with sessions of its own, with half the cores' threads, so that it
    does not queue behind the frame path's region searches nor take every core from them. It takes up
    the frame path detector's settings at each sweep. The pipeline sets `newest_image` on every frame."""

    def __init__(self, detector: MtcnnDetector) -> None:
        self.detector = detector
        self._own = MtcnnDetector(detector.settings, detector.model_dir, detector.providers,
                                  threads=max(1, (os.cpu_count() or 2) // 2), precision=detector.precision_setting)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep")
        self._running: Future | None = None
        self.newest_image: np.ndarray | None = None
        self.last_seconds: float | None = None  # how long the sweep last collected took

    def start(self, image_bgr: np.ndarray, known_boxes: np.ndarray | None = None) -> bool:
        """Starts a sweep of this image unless one is under way or not yet collected; True if it started.
        `known_boxes`: the faces already followed on this image. The sweep does not look for them again on
        the newest frame (the pipeline takes up only the new faces), which makes a sweep of the crowd clip
        at 720p take 80-150 ms instead of about 200, so sweeps come about every 5 frames instead of 8."""
        if self._running is not None:
            return False
        self._own.settings = self.detector.settings
        known = np.zeros((0, 4), np.float32) if known_boxes is None else known_boxes
        self._running = self._executor.submit(self._sweep, image_bgr, known)
        return True

    def _sweep(self, image_bgr: np.ndarray, known_boxes: np.ndarray) -> tuple[Detections, float]:
        started = time.perf_counter()
        faces = self._own.detect(image_bgr)
        faces = faces[uncovered_mask(faces.boxes, known_boxes)]  # the faces followed already need no second look
        newest = self.newest_image
        if len(faces) and newest is not None and newest is not image_bgr and newest.shape == image_bgr.shape:
            faces = find_again(self._own, newest, faces.boxes)
        return faces, time.perf_counter() - started

    def wait(self, timeout: float | None = None) -> None:
        """Until the sweep under way (if any) has ended."""
        if self._running is not None:
            wait_for_futures([self._running], timeout)

    def finished(self) -> Detections | None:
        """The faces of the sweep that finished since the last call (once), else None. A sweep that
        failed raises its error here, on the pipeline's thread."""
        if self._running is None or not self._running.done():
            return None
        running, self._running = self._running, None
        faces, self.last_seconds = running.result()
        return faces

    def reset(self) -> None:
        """Forgets the sweep under way: its faces belong to a frame from before a seek or a new source."""
        if self._running is not None:
            self._running.cancel()  # (one not yet begun; a begun one ends unheard)
        self._running = None

    def close(self) -> None:
        """Without waiting for a sweep under way: on a busy machine one takes seconds, and closing the
        window would wait for it. Its thread ends once it has (and is not waited for by the window's exit)."""
        self.reset()
        self._executor.shutdown(wait=False, cancel_futures=True)


def uncovered_mask(boxes: np.ndarray, covering: np.ndarray) -> np.ndarray:
    """Which boxes no box of `covering` overlaps with IoU NEW_FACE_MAX_IOU or more."""
    if not len(boxes) or not len(covering):
        return np.ones(len(boxes), bool)
    return iou_matrix(boxes, covering).max(axis=1) < NEW_FACE_MAX_IOU


def uncovered(boxes: np.ndarray, covering: np.ndarray) -> np.ndarray:
    """The boxes that no box of `covering` overlaps with IoU NEW_FACE_MAX_IOU or more."""
    return boxes[uncovered_mask(boxes, covering)]


def new_faces(swept: Detections, known_boxes: np.ndarray) -> np.ndarray:
    """Boxes of the swept faces that no known box covers."""
    return uncovered(swept.boxes, known_boxes)


def find_again(detector: MtcnnDetector, image_bgr: np.ndarray, boxes: np.ndarray, reach: float = REACH) -> Detections:
    """Each box's face looked for anew in this image, by the full detector on a square `reach` times the
    box's size around it (so it may have moved up to a face width)."""
    if not len(boxes):
        return Detections()
    rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
    height, width = rgb.shape[:2]
    found = []
    for box in boxes:
        side = float(max(box[2] - box[0], box[3] - box[1]))
        cx, cy, half = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, reach * side / 2
        x1, y1 = int(max(0, cx - half)), int(max(0, cy - half))
        x2, y2 = int(min(width, cx + half)), int(min(height, cy + half))
        if min(x2 - x1, y2 - y1) < PNET_CELL:
            continue
        local = copy.copy(detector)  # shares the sessions; the face's own size sets where the pyramid starts
        local.settings = replace(detector.settings, min_face=max(detector.settings.min_face, int(0.6 * side)))
        faces = local.detect_rgb(np.ascontiguousarray(rgb[y1:y2, x1:x2]), compile_for_size=False)
        offset = np.array([x1, y1], np.float32)
        found.append(Detections(faces.boxes + np.tile(offset, 2), faces.scores, faces.landmarks + offset))
    return merge(found)


def merge(parts: list[Detections], iou_threshold: float = 0.5) -> Detections:
    """Several Detections as one, a face found twice kept once (its best-scored box)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return Detections()
    joined = Detections(np.concatenate([p.boxes for p in parts]), np.concatenate([p.scores for p in parts]),
                        np.concatenate([p.landmarks for p in parts]))
    return joined[np.sort(nms(joined.boxes, joined.scores, iou_threshold))]
