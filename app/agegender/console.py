"""What the command line prints: never the reason a run fails, and never a way to drive the terminal.

A closed stdout or stderr (`agegender process ... | head`, a terminal closed under a running job, `2>&-`)
must not stop a run or cost it its outputs: the first failed write sends that stream to the null device,
and the run goes on silently. Names from the file system are shown with their control characters escaped,
so a file name can neither clear the screen nor split a progress line.
"""
from __future__ import annotations

import io
import logging
import os
import sys
import unicodedata


class _QuietOnClose(io.TextIOBase):
    """A text stream that turns its first failed write (EPIPE, EIO) into silence for the rest of the run."""

    def __init__(self, stream) -> None:
        super().__init__()
        self._stream = stream

    def _silence(self) -> None:
        try:
            fd = self._stream.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)  # what the buffer still holds, and every later write, goes nowhere
            os.close(devnull)
        except (OSError, ValueError, io.UnsupportedOperation):
            pass

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BlockingIOError:  # a non-blocking terminal that is busy: this write alone is lost
            return len(text)
        except OSError:
            self._silence()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BlockingIOError:
            pass
        except OSError:
            self._silence()

    def __getattr__(self, name: str):  # buffer, errors, name, reconfigure, ...: the stream's own
        return getattr(self._stream, name)

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        try:
            return self._stream.isatty()
        except (OSError, ValueError):
            return False

    @property
    def encoding(self):
        return getattr(self._stream, "encoding", "utf-8")

    def writable(self) -> bool:
        return True


def _null_stream(fd: int):
    """A text stream to the null device, for a stream closed before the start (`2>&-`), where Python
    gives None. The closed descriptor is given the null device too: otherwise the next file the run
    opens takes its number, and what OpenCV or FFmpeg print to stderr lands in that output."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.fstat(fd)
    except OSError:
        os.dup2(null, fd)
        os.close(null)
        null = fd
    return open(null, "w", encoding="utf-8", closefd=null != fd)


def survive_closed_streams() -> None:
    """Make sys.stdout and sys.stderr quiet, rather than fatal, once nobody reads them, also where they
    were closed before the start (idempotent)."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        stream = getattr(sys, name)
        if stream is None:
            stream = _null_stream(fd)
        if not isinstance(stream, _QuietOnClose):
            setattr(sys, name, _QuietOnClose(stream))


def shown(text: object) -> str:
    """`text` with control characters (escape sequences, newlines, carriage returns) written as escapes,
    for anything that came from outside the program: file names, URLs, error texts."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or unicodedata.category(ch) == "Zs"
                   else ch.encode("unicode_escape").decode("ascii") for ch in text)


def say(message: str) -> None:
    """One line to stderr, `agegender: ...`, with control characters escaped."""
    print(f"agegender: {shown(message)}", file=sys.stderr)


class EscapingFormatter(logging.Formatter):
    """Log lines are escaped like every other message: a logged file name cannot drive the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return shown(super().format(record))
