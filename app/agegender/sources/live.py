"""The capture thread that feeds the window (FrameGrabber), and PacedReplay, a video file that behaves
like a camera. The sources themselves are in capture.py.

Every frame read is handed to `on_frame` (the window's display path) as it is read; the consumer of
take() (inference) gets the newest frame waiting: a slow inference never builds a queue, it skips
frames. Files are read in order, every frame, paced to their frame rate; with `wait_for_inference`
a file's next frame waits until inference took the last one, so every frame is processed (at the pace
inference allows). A source that fails is reopened every few seconds; the grabber reports 'lost' and
'running' so the window can say so.
"""
from __future__ import annotations

import functools
import threading
import time
from typing import Callable

import cv2

from agegender.frames import Frame
from agegender.errors import InputError, UnreadableFileError
from agegender.sources.capture import DEFAULT_MAX_IMAGE_MEGAPIXELS, VideoFileSource, open_source, opencv_quiet


class PacedReplay:
    """A video file behaving like a camera: frames in real time at `fps` (the file's own by default),
    looped, stamped when read, optionally scaled to `height` as a camera of that size would deliver them."""

    is_live = True
    frame_count = 0
    error = None

    def __init__(self, path, fps: float | None = None, height: int = 0) -> None:
        self._file, self.height = VideoFileSource(path), height
        self.fps, self.name = fps or self._file.fps, f"{self._file.name} (replayed live)"
        self._next_due = time.monotonic()

    def read(self) -> Frame:
        delay = self._next_due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next_due = max(self._next_due + 1.0 / self.fps, time.monotonic() - 1.0)
        frame = self._file.read()
        if frame is None:  # loop, like a camera that never ends
            self._file.seek(0)
            frame = self._file.read()
        if self.height and frame.image.shape[0] != self.height:
            width = round(frame.image.shape[1] * self.height / frame.image.shape[0])
            frame.image = cv2.resize(frame.image, (width, self.height), interpolation=cv2.INTER_AREA)
        frame.captured_at = time.monotonic()
        return frame

    def close(self) -> None:
        self._file.close()


def list_cameras(limit: int = 4) -> list[int]:
    found = []
    for index in range(limit):
        with opencv_quiet():
            capture = cv2.VideoCapture(index)
        if capture.isOpened():
            found.append(index)
        capture.release()
    return found


class FrameGrabber(threading.Thread):
    """Reads a source on its own thread; every frame goes to `on_frame` (called on this thread), and
    take() hands the consumer the newest frame, or with `wait_for_inference` a file's next one."""

    def __init__(self, spec: str, open_fn: Callable | None = None, reconnect_interval_s: float = 2.0,
                 loop: bool = False, on_status: Callable[[str, str], None] | None = None,
                 max_image_megapixels: float = DEFAULT_MAX_IMAGE_MEGAPIXELS,
                 on_frame: Callable[[Frame], None] | None = None, wait_for_inference: bool = True) -> None:
        super().__init__(daemon=True, name="capture")
        self.spec = spec
        self._open = open_fn or functools.partial(open_source, max_image_megapixels=max_image_megapixels)
        self.reconnect_interval_s = reconnect_interval_s
        self.loop = loop
        self._on_status = on_status or (lambda state, message: None)
        self._on_frame = on_frame or (lambda frame: None)
        self.wait_for_inference = wait_for_inference  # files only; may be changed while running
        self._condition = threading.Condition()
        self._slot: Frame | None = None
        self._stopping = threading.Event()
        self._paused = False
        self._step = False
        self._seek_to: int | None = None
        self._segment = 0  # Frame.segment of the frames read now
        self.source = None
        self.state = "starting"
        self.ended = False

    # --- control, from any thread ---
    def stop(self) -> None:
        self._stopping.set()
        with self._condition:
            self._condition.notify_all()

    def set_paused(self, paused: bool) -> None:
        with self._condition:
            self._paused = paused
            self._condition.notify_all()

    def step(self) -> None:
        with self._condition:
            self._step = True
            self._condition.notify_all()

    def seek(self, frame_index: int) -> None:
        with self._condition:
            self._seek_to = max(0, int(frame_index))
            self.ended = False
            self._condition.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    def take(self, timeout: float = 0.1) -> Frame | None:
        """The frame waiting in the slot, or None after `timeout` seconds."""
        with self._condition:
            if self._slot is None:
                self._condition.wait(timeout)
            frame, self._slot = self._slot, None
            self._condition.notify_all()
            return frame

    # --- the capture thread ---
    def _status(self, state: str, message: str = "") -> None:
        self.state = state
        self._on_status(state, message)

    def _connect(self) -> bool:
        while not self._stopping.is_set():
            try:
                self.source = self._open(self.spec)
                self._status("running", self.source.name)
                return True
            except UnreadableFileError as exc:  # retrying will not mend it
                self._status("failed", str(exc))
                return False
            except InputError as exc:
                self._status("lost", str(exc))
                self._stopping.wait(self.reconnect_interval_s)
        return False

    def _put(self, frame: Frame) -> None:
        self._on_frame(frame)
        with self._condition:
            if not self.source.is_live and self.wait_for_inference:  # drop nothing: wait for the consumer
                while self._slot is not None and not self._stopping.is_set():
                    self._condition.wait(0.1)
            self._slot = frame
            self._condition.notify_all()

    def run(self) -> None:
        if not self._connect():
            return
        next_due = time.monotonic()
        while not self._stopping.is_set():
            with self._condition:
                while self._paused and not self._step and self._seek_to is None and not self._stopping.is_set():
                    self._condition.wait(0.1)
                stepping, self._step = self._step, False
                seek_to, self._seek_to = self._seek_to, None
            if self._stopping.is_set():
                break
            if seek_to is not None and hasattr(self.source, "seek"):
                self.source.seek(seek_to)
                self._segment += 1
            try:
                frame = self.source.read()
            except InputError as exc:  # a single image that cannot be read or decoded (too large, damaged)
                self._status("failed", str(exc))
                break
            if frame is None:
                if not self.source.is_live:
                    if self.loop and hasattr(self.source, "seek"):
                        self.source.seek(0)
                        self._segment += 1
                        continue
                    self.ended = True
                    self._status("ended", self.source.error or f"{self.source.name} ended")
                    with self._condition:  # until a seek, or Loop is turned on
                        while self._seek_to is None and not self.loop and not self._stopping.is_set():
                            self._condition.wait(0.1)
                    if not self._stopping.is_set():
                        self.ended = False
                        self._status("running", self.source.name)
                    continue
                self.source.close()
                self._status("lost", f"{self.source.name} stopped sending frames; reconnecting")
                if not self._connect():
                    break
                self._segment += 1
                continue
            frame.segment = self._segment
            self._put(frame)
            if not self.source.is_live and not stepping:
                next_due += 1.0 / self.source.fps  # play files at their own pace
                delay = next_due - time.monotonic()
                if delay > 0:
                    self._stopping.wait(delay)
                else:
                    next_due = time.monotonic()
        if self.source is not None:
            self.source.close()
