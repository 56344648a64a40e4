"""Per-stage timing over a rolling window, always on (shown in the status bar and the CLI summary)."""
from __future__ import annotations

import time
from collections import defaultdict, deque
from contextlib import contextmanager


class StageTimes:
    def __init__(self, window: int = 100) -> None:
        self._samples: dict[str, deque] = defaultdict(lambda: deque(maxlen=window))
        self._totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])

    def add(self, stage: str, ms: float) -> None:
        self._samples[stage].append(ms)
        total = self._totals[stage]
        total[0] += ms
        total[1] += 1

    def add_all(self, timings: dict[str, float]) -> None:
        for stage, ms in timings.items():
            self.add(stage, ms)

    def recent_ms(self, stage: str) -> float:
        samples = self._samples.get(stage)
        return sum(samples) / len(samples) if samples else 0.0

    def mean_ms(self, stage: str) -> float:
        total, count = self._totals.get(stage, (0.0, 0))
        return total / count if count else 0.0

    def stages(self) -> list[str]:
        return list(self._totals)


@contextmanager
def timed(timings: dict[str, float], stage: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + (time.perf_counter() - start) * 1000
