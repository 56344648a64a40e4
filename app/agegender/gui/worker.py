"""The inference worker: takes frames from the capture thread, runs the pipeline, hands finished
results to the GUI thread by a queued signal. Stops by flag and wait(), never terminate()."""
from __future__ import annotations

import threading

from PySide6.QtCore import QThread, Signal


class InferenceWorker(QThread):
    result_ready = Signal(object, object)  # (Frame, FrameResult)
    failed = Signal(str)

    def __init__(self, pipeline, grabber, designs_to_run) -> None:
        super().__init__()
        self.pipeline, self.grabber = pipeline, grabber
        self._designs_to_run = designs_to_run  # callable returning the design names for the next frame
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        while not self._stop.is_set():
            frame = self.grabber.take(timeout=0.1)
            if frame is None:
                continue
            try:
                result = self.pipeline.process(frame, self._designs_to_run())
            except Exception as exc:  # keep the window alive; show what broke
                self.failed.emit(f"inference failed on frame {frame.index}: {exc}")
                continue
            self.result_ready.emit(frame, result)
