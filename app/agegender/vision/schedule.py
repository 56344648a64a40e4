"""Which tracked faces are classified on a frame, within a budget of crops per frame.

A face whose track has no answer yet (for any design asked for) is classified at once, even past the
budget: it would otherwise have no label. What is left of the budget goes to known tracks, most
urgent first: urgency is the frames waited, doubled while the answer is unsettled (gender below its
sure threshold, or an age bucket holding under half the probability) and tripled when the face grew
(came closer: a better crop) or turned since it was last classified. The other faces keep their
track's answer.
Every design asked for runs on the same chosen crops, so compare mode stays fair.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agegender.vision.designs import Predictions

# A box a third larger has enough more pixels to be worth a fresh crop.
GROWTH_FOR_NEW_LOOK = 1.3
TURN_FOR_NEW_LOOK = 0.25  # change in yaw, as the nose's offset from the eyes' midpoint per eye distance
UNSETTLED_URGENCY = 2.0
NEW_LOOK_URGENCY = 3.0  # a multiplier, not a rank: faces that keep moving cannot starve the others


@dataclass
class _LastLook:
    frame: int
    area: float
    yaw: float


def box_areas(boxes: np.ndarray) -> np.ndarray:
    return np.prod(np.clip(boxes[:, 2:4] - boxes[:, :2], 1e-6, None), axis=1)


def yaw_proxies(landmarks: np.ndarray) -> np.ndarray:
    """A head-turn measure from the five landmarks (eyes, nose, mouth corners): 0 when frontal."""
    eyes_mid = (landmarks[:, 0] + landmarks[:, 1]) / 2
    eye_distance = np.maximum(np.linalg.norm(landmarks[:, 1] - landmarks[:, 0], axis=1), 1e-6)
    return (landmarks[:, 2, 0] - eyes_mid[:, 0]) / eye_distance


class ClassifySchedule:
    def __init__(self, budget: int) -> None:
        if budget < 1:
            raise ValueError(f"the classification budget must be at least 1 crop per frame, got {budget}")
        self.budget = budget
        self._frame = 0
        self._last_look: dict[int, _LastLook] = {}  # track id -> when and how it was last classified
        self._unsettled: set[int] = set()  # tracks whose last shown answer was near a decision boundary

    def reset(self) -> None:
        self._frame, self._last_look, self._unsettled = 0, {}, set()

    def choose(self, track_ids: np.ndarray, boxes: np.ndarray, landmarks: np.ndarray,
               unanswered: np.ndarray) -> np.ndarray:
        """Indices (ascending) of this frame's faces to classify. `unanswered[i]`: face i's track has no
        answer yet for a design asked for."""
        self._frame += 1
        n = len(track_ids)
        unsettled = np.array([int(t) in self._unsettled for t in track_ids], bool)
        areas, yaws = box_areas(boxes), yaw_proxies(landmarks)
        waited = np.zeros(n)
        new_look = np.zeros(n, bool)
        for i, track_id in enumerate(track_ids):
            last = self._last_look.get(int(track_id))
            if last is None:
                waited[i], new_look[i] = np.inf, True
                continue
            waited[i] = self._frame - last.frame
            new_look[i] = areas[i] >= GROWTH_FOR_NEW_LOOK * last.area or abs(yaws[i] - last.yaw) >= TURN_FOR_NEW_LOOK
        urgency = waited * np.where(unsettled, UNSETTLED_URGENCY, 1.0) * np.where(new_look, NEW_LOOK_URGENCY, 1.0)
        # lexsort: the last key sorts first. Unanswered, then urgency; ties by index.
        order = np.lexsort((np.arange(n), -urgency, ~unanswered.astype(bool)))
        chosen = np.sort(order[:max(self.budget, int(np.count_nonzero(unanswered)))])
        for i in chosen:
            self._last_look[int(track_ids[i])] = _LastLook(self._frame, float(areas[i]), float(yaws[i]))
        return chosen

    def note_answers(self, track_ids: np.ndarray, answers: list[Predictions]) -> None:
        """The answers shown for this frame's faces (one Predictions per design): which are unsettled."""
        unsettled = np.zeros(len(track_ids), bool)
        for p in answers:
            shown_bucket_p = p.bucket_probs[np.arange(len(p)), p.bucket_index]
            needed = p.gender_rule.needed_confidence(p.age_years)  # inf where gender is never sure: settled
            unsettled |= (np.isfinite(needed) & (p.gender_confidence < needed)) | (shown_bucket_p < 0.5)
        self._unsettled = {int(t) for t, u in zip(track_ids, unsettled) if u}

    def forget_all_but(self, live_track_ids) -> None:
        """Drops the bookkeeping of tracks the tracker has dropped."""
        live = {int(t) for t in live_track_ids}
        self._last_look = {t: look for t, look in self._last_look.items() if t in live}
