"""Ctrl-C and SIGTERM, at any moment: one line, exit status 130, no traceback, outputs valid.

During start-up (imports, model loading, checks) nothing is open yet, so the program stops at once: a
KeyboardInterrupt raised inside an extension module's import would surface as an unrelated ImportError,
or be swallowed. Once outputs are open, both signals raise KeyboardInterrupt instead, so the run
finalises them on the way out.
"""
from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager

EXIT_INTERRUPTED = 130
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _stop_now(signum, frame) -> None:
    os.write(2, b"agegender: interrupted during start-up; nothing was written\n")
    os._exit(EXIT_INTERRUPTED)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@contextmanager
def _handled_by(handler):
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def stop_at_once_on_signal():
    """For start-up: Ctrl-C or SIGTERM ends the process straight away with one line."""
    return _handled_by(_stop_now)


def signals_raise_interrupt():
    """While outputs are open: Ctrl-C and SIGTERM raise KeyboardInterrupt where the program is."""
    return _handled_by(_raise_interrupt)
