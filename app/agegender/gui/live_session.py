"""One source on screen: its capture thread (FrameGrabber) and its inference thread (InferenceWorker),
started together and stopped together without waiting long; the source's state as its capture thread
last said it, and the watchdog that notices when results stop coming while frames should."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt

from agegender.gui.worker import InferenceWorker
from agegender.sources.watchdog import Watchdog


class LiveSession:
    def __init__(self, grabber_factory, watchdog_s: float) -> None:
        self._grabber_factory = grabber_factory
        self.grabber = None
        self.worker = None
        self._retiring: list = []  # workers stopped while inside a long inference, kept alive until they end
        self.source_state: tuple[str, str] = ("", "")  # ("running", "lost", "ended", "failed", ...; a message)
        self.watchdog = Watchdog(watchdog_s)
        # Whether a frame of this source has been processed. The watchdog counts only from then: the first
        # frame waits for the models to warm up, many seconds on a busy machine, and is no stall.
        self.processed = False

    def result_arrived(self) -> None:
        self.processed = True
        self.watchdog.beat()

    def stalled(self) -> bool:
        """True once when the source is running, not paused, and no result came for the watchdog's time
        since the last one."""
        expecting = (self.processed and self.source_state[0] == "running" and self.grabber is not None
                     and not self.grabber.paused)
        return self.watchdog.check(expecting)

    def start(self, spec: str, pipeline, designs_to_run: Callable[[], list[str]], on_result: Callable,
              on_failure: Callable[[str], None], **grabber_options) -> None:
        self.processed, self.source_state = False, ("", "")
        self.watchdog.beat()
        self.grabber = self._grabber_factory(spec, **grabber_options)
        self.worker = InferenceWorker(pipeline, self.grabber, designs_to_run)
        self.worker.result_ready.connect(on_result, Qt.ConnectionType.QueuedConnection)
        self.worker.failed.connect(on_failure)
        self.grabber.start()
        self.worker.start()

    def stop(self) -> None:
        worker, grabber = self.worker, self.grabber
        self.worker = self.grabber = None
        if worker:
            worker.stop()
            worker.result_ready.disconnect()  # a late result belongs to the old source: dropped
            worker.failed.disconnect()
        if grabber:
            grabber.stop()
        if worker and not worker.wait(1000):
            # Still inside one long inference. Qt aborts the process if a running QThread is destroyed,
            # so it is kept until it finishes.
            self._retiring.append(worker)
            worker.finished.connect(lambda: self._retiring.remove(worker) if worker in self._retiring else None)
        if grabber:
            grabber.join(1.0)

    def wait_for_retiring(self, timeout_ms: int) -> None:
        """Until every stopped worker has ended (or the time is up): the pipeline is free again."""
        for worker in list(self._retiring):
            worker.wait(timeout_ms)
