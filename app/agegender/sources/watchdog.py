"""Notices a stalled pipeline: no frame processed for `timeout_s` while the source should be sending.
The window asks it on every tick and restarts the capture when it fires; it fires once per stall."""
from __future__ import annotations

import time
from typing import Callable


class Watchdog:
    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s, self._clock = timeout_s, clock
        self._last = clock()
        self.fired = 0

    def beat(self) -> None:
        """A frame was processed."""
        self._last = self._clock()

    def quiet_for(self) -> float:
        return self._clock() - self._last

    def check(self, expecting_frames: bool) -> bool:
        """True when frames are expected and none came for timeout_s; then the clock starts again."""
        if not expecting_frames or self.timeout_s <= 0:
            self._last = self._clock()
            return False
        if self.quiet_for() < self.timeout_s:
            return False
        self.fired += 1
        self._last = self._clock()
        return True
