"""Faces followed across frames, and per-track smoothing of their predictions.

Matching is greedy by IoU (boxes overlap heavily between consecutive frames of a face; a few faces
per frame need nothing heavier). Each track keeps an exponential moving average of each design's
age distribution and P(female); a track unseen for `max_missed` frames is dropped, and a face that
comes back starts afresh.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agegender.vision.designs import Predictions


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:4], b[None, :, 2:4])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:4] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:4] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def greedy_match(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs (row, column), best overlap first, each row and column used once."""
    pairs = []
    if iou.size == 0:
        return pairs
    rows, cols = np.nonzero(iou >= threshold)
    for k in np.argsort(-iou[rows, cols], kind="stable"):
        r, c = rows[k], cols[k]
        if all(r != pr and c != pc for pr, pc in pairs):
            pairs.append((int(r), int(c)))
    return pairs


@dataclass
class Track:
    track_id: int
    box: np.ndarray
    landmarks: np.ndarray
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    missed: int = 0
    age_distributions: dict = field(default_factory=dict)  # design -> smoothed age distribution
    p_female: dict = field(default_factory=dict)  # design -> smoothed P(female)

    def predicted_box(self) -> np.ndarray:
        return self.box + self.velocity * (self.missed + 1)


class Tracker:
    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 10, smoothing_weight: float = 0.1) -> None:
        self.iou_threshold, self.max_missed = iou_threshold, max_missed
        # Weight of the newest frame (1.0: no smoothing). 0.1, a ~0.4 s time constant at 25 FPS, cuts
        # age-bucket changes on the crowd video from 7.0 to 0.72 per track-second (0.25 gave 2.0).
        self.smoothing_weight = smoothing_weight
        self.tracks: list[Track] = []
        self._next_id = 1

    def reset(self, restart_ids: bool = False) -> None:
        """Forgets every track; new ones count on from the last id unless `restart_ids`."""
        self.tracks = []
        if restart_ids:
            self._next_id = 1

    def seen_boxes(self) -> np.ndarray:
        """Boxes of the tracks matched on the last update."""
        return np.array([t.box for t in self.tracks if not t.missed], np.float32).reshape(-1, 4)

    def predicted_boxes(self, missed_at_most: int | None = None) -> np.ndarray:
        """Where each track's face is expected on the next frame (of the tracks missed at most so many frames)."""
        tracks = self.tracks if missed_at_most is None else [t for t in self.tracks if t.missed <= missed_at_most]
        return np.array([t.predicted_box() for t in tracks], np.float32).reshape(-1, 4)

    def update(self, boxes: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Match this frame's faces to tracks; returns the track id of each face."""
        predicted = self.predicted_boxes()
        pairs = greedy_match(iou_matrix(predicted, boxes), self.iou_threshold) if len(boxes) else []
        ids = np.zeros(len(boxes), np.int64)
        matched_tracks = set()
        for t, d in pairs:
            track = self.tracks[t]
            track.velocity = 0.5 * track.velocity + 0.5 * (boxes[d] - track.box) / (track.missed + 1)
            track.box, track.landmarks = boxes[d].copy(), landmarks[d].copy()
            track.missed = 0
            ids[d] = track.track_id
            matched_tracks.add(t)
        for t, track in enumerate(self.tracks):
            if t not in matched_tracks:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        for d in range(len(boxes)):
            if ids[d] == 0:
                self.tracks.append(Track(self._next_id, boxes[d].copy(), landmarks[d].copy()))
                ids[d] = self._next_id
                self._next_id += 1
        return ids

    def smooth(self, ids: np.ndarray, design: str, raw: Predictions) -> Predictions:
        """Per-track moving average of one design's predictions for the faces of this frame."""
        return self.follow(ids, np.arange(len(ids)), design, raw, smoothing=True)

    def follow(self, ids: np.ndarray, fresh: np.ndarray, design: str, raw: Predictions,
               smoothing: bool = True) -> Predictions:
        """One design's answers for the faces of this frame: faces `fresh` (indices into ids) were just
        classified (`raw`, in the same order) and update their track, averaged in if `smoothing`; every
        other face keeps its track's last answer, which it must have (see answered_ids)."""
        by_id = {t.track_id: t for t in self.tracks}
        a = self.smoothing_weight if smoothing else 1.0
        for j, i in enumerate(fresh):
            track = by_id[int(ids[i])]
            age, p_female = raw.age_distribution[j], raw.p_female[j]
            if design in track.age_distributions:
                age = (1 - a) * track.age_distributions[design] + a * age
                p_female = (1 - a) * track.p_female[design] + a * p_female
            track.age_distributions[design], track.p_female[design] = np.array(age), float(p_female)
        ages = raw.age_distribution.shape[1]
        age = np.array([by_id[int(t)].age_distributions[design] for t in ids], np.float32).reshape(-1, ages)
        p_female = np.array([by_id[int(t)].p_female[design] for t in ids], np.float32).reshape(-1)
        return Predictions(age, p_female, raw.scheme, raw.gender_labels, raw.gender_rule)

    def answered_ids(self, designs) -> set[int]:
        """Ids of the tracks that have an answer of every one of `designs`."""
        return {t.track_id for t in self.tracks if all(d in t.age_distributions for d in designs)}
