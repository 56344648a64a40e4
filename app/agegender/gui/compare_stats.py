"""Live statistics for compare mode over the last few seconds: latency of each design per frame and
per face, how often the designs agree on gender and age bucket, and the cost ratio between them."""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass


@dataclass
class CompareSummary:
    frames: int
    faces: int
    ms_per_frame: dict[str, float]
    ms_per_face: dict[str, float]
    gender_agreement: float | None
    bucket_agreement: float | None
    cost_ratio: float | None  # single-task pair time over multi-task time


class CompareStats:
    def __init__(self, window_s: float = 5.0, clock=time.monotonic) -> None:
        self.window_s, self._clock = window_s, clock
        self._entries: deque = deque()

    def add(self, result) -> None:
        if not {"multitask", "single"} <= set(result.predictions):
            return
        a, b = result.predictions["multitask"], result.predictions["single"]
        faces = len(a)
        classified = faces if result.classified is None else len(result.classified)  # the crops each design ran on
        gender_same = int((a.is_female == b.is_female).sum())
        bucket_same = int((a.bucket_index == b.bucket_index).sum())
        self._entries.append((self._clock(), faces, result.timings.get("classify:multitask", 0.0),
                              result.timings.get("classify:single", 0.0), gender_same, bucket_same, classified))
        self._trim()

    def _trim(self) -> None:
        horizon = self._clock() - self.window_s
        while self._entries and self._entries[0][0] < horizon:
            self._entries.popleft()

    def summary(self) -> CompareSummary:
        self._trim()
        n = len(self._entries)
        faces = sum(e[1] for e in self._entries)
        crops = sum(e[6] for e in self._entries)
        totals = {"multitask": sum(e[2] for e in self._entries), "single": sum(e[3] for e in self._entries)}
        return CompareSummary(
            frames=n, faces=faces,
            ms_per_frame={k: v / n if n else 0.0 for k, v in totals.items()},
            ms_per_face={k: v / crops if crops else 0.0 for k, v in totals.items()},  # per face classified
            gender_agreement=sum(e[4] for e in self._entries) / faces if faces else None,
            bucket_agreement=sum(e[5] for e in self._entries) / faces if faces else None,
            cost_ratio=totals["single"] / totals["multitask"] if totals["multitask"] else None)
