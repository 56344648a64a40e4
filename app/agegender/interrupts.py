"""Ctrl-C, SIGTERM and SIGHUP (a closed terminal), at any moment: one line, exit status 130, no
traceback, outputs valid.

During start-up (imports, model loading, checks) nothing is open yet, so the program stops at once: a
KeyboardInterrupt raised inside an extension module's import would surface as an unrelated ImportError,
or be swallowed. Once outputs are open, the signals raise KeyboardInterrupt instead, so the run
finalises them on the way out. Once they are saved, a late signal stops at once again, and says so.
"""
from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager

EXIT_INTERRUPTED = 130
SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

_STOP_MESSAGES = {"start-up": b"agegender: interrupted during start-up; nothing was written\n",
                  "saved": b"agegender: interrupted after the outputs were saved; they are complete\n"}
_stage = "start-up"
_deferred: bool | None = None  # inside deferred_interrupts(): whether a signal came meanwhile


def outputs_saved() -> None:
    """From now on a signal that stops the program says the outputs were saved, not that none were written."""
    global _stage
    _stage = "saved"


def _stop_now(signum, frame) -> None:
    try:
        os.write(2, _STOP_MESSAGES[_stage])
    except OSError:  # stderr closed (a hang-up): the exit status still tells
        pass
    os._exit(EXIT_INTERRUPTED)


def _raise_interrupt(signum, frame) -> None:
    global _deferred
    if _deferred is False:
        _deferred = True
        return
    raise KeyboardInterrupt


@contextmanager
def deferred_interrupts():
    """A signal that lands inside takes effect at its end, so that what is written inside (one frame, in
    each output) is written whole; a second one stops at once (a write that blocks: a full pipe)."""
    global _deferred
    _deferred = False
    try:
        yield
    finally:
        came, _deferred = _deferred, None
    if came:
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
    """For start-up: Ctrl-C, SIGTERM or SIGHUP ends the process straight away with one line."""
    return _handled_by(_stop_now)


def signals_raise_interrupt():
    """While outputs are open: Ctrl-C, SIGTERM and SIGHUP raise KeyboardInterrupt where the program is."""
    return _handled_by(_raise_interrupt)
