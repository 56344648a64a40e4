"""Loading the models on a thread of their own, so that the window paints and answers while they load
(many seconds on a busy machine)."""
from __future__ import annotations

import threading
from typing import Callable


class ModelLoading:
    """Runs build() -> (pipeline, provider) and hands deliver() its value, or the exception that stopped
    it, from the loading thread. Once cancelled (the window closed), nothing is delivered: what was loaded
    is closed there. Loading itself cannot be interrupted; the thread ends when it does."""

    def __init__(self, build: Callable[[], tuple], deliver: Callable[[object], None]) -> None:
        self._lock = threading.Lock()  # a delivery is not half done when cancel() returns
        self._cancelled = False
        self.thread = threading.Thread(target=self._run, args=(build, deliver), name="loading models", daemon=True)
        self.thread.start()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True

    def _run(self, build, deliver) -> None:
        try:
            loaded = build()
        except Exception as exc:  # said in the window, which would otherwise say "Loading models…" for ever
            loaded = exc
        with self._lock:
            if not self._cancelled:
                deliver(loaded)
                return
        if not isinstance(loaded, Exception):
            loaded[0].close()
