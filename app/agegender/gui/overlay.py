"""What is drawn over each painted frame: the newest result's faces, moved to the frame's time.

Results arrive a few frames behind the frames on screen (and, on a slow machine, only every few
frames). Each face keeps the constant-velocity motion model of the tracker (vision/track.py), here in
pixels per second of source time, measured from one result to the next for the same track id; a
frame shown between results gets every box moved by velocity x (frame time - result time). The labels
are the result's own, smoothed per track by the pipeline. A result is drawn only over frames within
DRAWN_WITHIN_S of its own: further on, its boxes would be where the faces were, not where they are. No
Qt here: the window paints these faces with QPainter (gui/overlay_paint.py), and recordings draw them
with outputs/draw.py's annotate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agegender.frames import FrameResult
from agegender.outputs.labels import Label, face_label
from agegender.vision.detect import Detections

# Video seconds from a result's frame within which its faces are drawn. Velocity carries a box a few
# frames; a second on (a busy machine's result) a walker is a face width or more away, and the box and
# label would sit on someone else or on the wall behind: no box is better.
DRAWN_WITHIN_S = 0.3


@dataclass
class OverlayFace:
    track_id: int  # 0 where the pipeline runs without a tracker
    box: np.ndarray  # x1, y1, x2, y2 in frame pixels, at the frame's time
    landmarks: np.ndarray  # 5 x (x, y)
    label: Label | None = None  # outputs/labels.py: what it says and how it is coloured


class Overlay:
    """Keeps the newest result and each track's velocity; faces_at() places them at a frame's time.

    A result is not drawn over a frame of another segment (after a seek, a loop or a reconnect), nor more
    than `drawn_within_s` of source time away from it (slow or stalled inference), nor over another still
    image. A track's velocity is measured between results at most `measured_within_s` apart."""

    def __init__(self, drawn_within_s: float = DRAWN_WITHIN_S, measured_within_s: float = 3.0,
                 blend: float = 0.5) -> None:
        self.drawn_within_s, self.measured_within_s, self.blend = drawn_within_s, measured_within_s, blend
        self.result: FrameResult | None = None
        self.designs: list[str] = []
        self._labels: list[Label | None] = []
        self._velocity: dict[int, np.ndarray] = {}  # track id -> px/s for x1, y1, x2, y2
        self._last_seen: dict[int, tuple[float, np.ndarray]] = {}  # track id -> (time, box)
        self._segment = 0  # the Frame.segment of the result's frame

    def reset(self) -> None:
        self.__init__(self.drawn_within_s, self.measured_within_s, self.blend)

    def update(self, result: FrameResult, designs: list[str], segment: int = 0) -> None:
        """A new result from inference (on the GUI thread, in the order results come), for a frame of
        source `segment` (Frame.segment)."""
        if segment != self._segment:  # the tracks started again: their ids and motion are new
            self._velocity, self._last_seen, self._segment = {}, {}, segment
        self.result = result
        self.designs = [d for d in designs if d in result.predictions]
        ids = result.track_ids if result.track_ids is not None else np.zeros(len(result.detections), np.int64)
        velocity, seen = {}, {}
        for track_id, box in zip(ids, result.detections.boxes):
            track_id = int(track_id)
            if not track_id:
                continue
            seen[track_id] = (result.time, box.astype(np.float32))
            before = self._last_seen.get(track_id)
            dt = result.time - before[0] if before else 0.0
            if before is None or not 0 < dt <= self.measured_within_s:
                continue  # first seen (or seen again after a gap): standing still until measured
            measured = (box - before[1]) / dt
            previous = self._velocity.get(track_id, measured)  # the first measurement is taken as it is
            velocity[track_id] = ((1 - self.blend) * previous + self.blend * measured).astype(np.float32)
        self._velocity, self._last_seen = velocity, seen
        self._labels = [face_label(result.predictions, i, self.designs) if self.designs else None
                        for i in range(len(result.detections))]

    def _shift_s(self, frame) -> float | None:
        """Source seconds from the result to `frame`, or None where the result does not belong over it."""
        result = self.result
        if result is None:
            return None
        if not frame.is_still and frame.segment != self._segment:
            return None  # another part of the video (a reconnected camera numbers its frames from 0 again)
        if frame.index == result.frame_index and frame.source == result.source:
            return 0.0
        if frame.is_still or result.source:
            return None  # another image: nothing in common with it
        dt = frame.time - result.time
        if abs(dt) > self.drawn_within_s:
            return None
        return float(max(dt, 0.0))

    def faces_at(self, frame) -> list[OverlayFace]:
        """The newest result's faces, each box moved along its track's velocity to `frame`'s time."""
        dt = self._shift_s(frame)
        if dt is None:
            return []
        result = self.result
        ids = result.track_ids if result.track_ids is not None else np.zeros(len(result.detections), np.int64)
        faces = []
        for i, track_id in enumerate(ids):
            motion = self._velocity.get(int(track_id), np.zeros(4, np.float32)) * dt
            centre = np.array([(motion[0] + motion[2]) / 2, (motion[1] + motion[3]) / 2], np.float32)
            faces.append(OverlayFace(int(track_id), result.detections.boxes[i] + motion,
                                     result.detections.landmarks[i] + centre, self._labels[i]))
        return faces

    def result_at(self, frame, faces: list[OverlayFace] | None = None) -> FrameResult:
        """A FrameResult for `frame` with the moved boxes and the newest labels, for outputs/draw.py's
        annotate (recordings and snapshots are drawn at the frame's own scale, whatever the window's size)."""
        faces = self.faces_at(frame) if faces is None else faces
        predictions = self.result.predictions if faces else {}
        scores = self.result.detections.scores if faces else np.zeros((0,), np.float32)
        detections = Detections(np.array([f.box for f in faces], np.float32).reshape(-1, 4), scores,
                                np.array([f.landmarks for f in faces], np.float32).reshape(-1, 5, 2))
        return FrameResult(frame.index, frame.time, detections, predictions, source=frame.source,
                           captured_at=frame.captured_at)
