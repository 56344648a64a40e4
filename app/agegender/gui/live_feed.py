"""The display path: frames go from the capture thread to the GUI thread without waiting for inference.

The capture thread push()es every frame it reads; the GUI thread is told by a queued signal and
takes them in order, one per paint. If the GUI falls more than `max_behind` frames behind (a stalled
event loop), the oldest are skipped so what is shown stays current; skipped frames are counted.
"""
from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal


class FrameFeed(QObject):
    frames_waiting = Signal()

    def __init__(self, max_behind: int = 6, parent=None) -> None:
        super().__init__(parent)
        self.max_behind = max_behind
        self._frames: deque = deque()
        self._lock = threading.Lock()
        self.delivered = 0
        self.skipped = 0

    def connect_to(self, slot) -> None:
        self.frames_waiting.connect(slot, Qt.ConnectionType.QueuedConnection)

    def push(self, frame) -> None:
        """From the capture thread: never blocks on the GUI."""
        with self._lock:
            was_empty = not self._frames
            self._frames.append(frame)
            self.delivered += 1
            while len(self._frames) > self.max_behind:
                self._frames.popleft()
                self.skipped += 1
        if was_empty:
            self.frames_waiting.emit()

    def pop(self):
        """The oldest frame not yet shown, or None."""
        with self._lock:
            return self._frames.popleft() if self._frames else None

    def waiting(self) -> int:
        with self._lock:
            return len(self._frames)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()


class LiveStats:
    """What the window shows and the bench reads: frames delivered by the source, frames painted,
    results received, and capture-to-paint latency, over the whole run and over the last seconds."""

    def __init__(self, clock=time.monotonic, recent_s: float = 2.0) -> None:
        self._clock, self.recent_s = clock, recent_s
        self.started = clock()
        self.painted = 0
        self.results = 0
        self.painted_indices: list[int] = []  # in paint order (kept for tests and the bench; ints are small)
        self.latencies_ms: list[float] = []
        self._recent_paints: deque = deque()
        self._recent_results: deque = deque()

    def frame_painted(self, index: int, captured_at: float) -> None:
        now = self._clock()
        self.painted += 1
        self.painted_indices.append(index)
        self.latencies_ms.append((now - captured_at) * 1000)
        if len(self.painted_indices) > 100_000:  # a long session: keep the recent half
            del self.painted_indices[:50_000], self.latencies_ms[:50_000]
        self._recent_paints.append(now)

    def result_received(self) -> None:
        self.results += 1
        self._recent_results.append(self._clock())

    def _rate(self, times: deque) -> float:
        horizon = self._clock() - self.recent_s
        while times and times[0] < horizon:
            times.popleft()
        return len(times) / self.recent_s

    def painted_fps(self) -> float:
        return self._rate(self._recent_paints)

    def results_per_s(self) -> float:
        return self._rate(self._recent_results)

    def latency_percentiles(self, skip: int = 0) -> dict:
        values = np.array(self.latencies_ms[skip:])
        if not len(values):
            return {"p50": None, "p95": None, "p99": None}
        return {f"p{q}": round(float(np.percentile(values, q)), 1) for q in (50, 95, 99)}
