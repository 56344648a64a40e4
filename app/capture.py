"""Frame sources behind one interface: read() gives the next Frame, or None at the end.

open_source() picks the kind from what it is given: a camera index ("0"), a stream URL
(rtsp://, http://, https://), a video file, an image file, or a folder of images.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from app.errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm"}
STREAM_PREFIXES = ("rtsp://", "rtmp://", "http://", "https://")
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def mask_credentials(url: str) -> str:
    """rtsp://user:secret@host/... -> rtsp://***@host/..., for anything printed or saved."""
    return _CREDENTIALS.sub("***@", url)


@dataclass
class Frame:
    image: np.ndarray  # uint8 BGR
    index: int
    time: float  # seconds from the source's start (video time for files, wall time for live sources)
    source: str = ""  # the image's file name, for image sources
    captured_at: float = field(default_factory=time.monotonic)


def read_image(path: Path) -> np.ndarray:
    """An image file as 8-bit BGR, EXIF orientation applied; grayscale, alpha and 16-bit are converted."""
    try:
        data = np.fromfile(str(path), np.uint8)  # np.fromfile + imdecode copes with non-ASCII paths
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputError(f"{path} is not an image OpenCV can decode (empty, damaged or another kind of file)")
    return image


class VideoFileSource:
    is_live = False

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise InputError(f"{self.path} is not a video or image that can be read (unknown format, damaged "
                             "or empty file)")
        self.fps = self._capture.get(cv2.CAP_PROP_FPS) or 25.0
        if not 1 <= self.fps <= 1000:
            self.fps = 25.0
        self.frame_count = max(int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
        self.size = (int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self._index = 0
        self.error: str | None = None

    def read(self) -> Frame | None:
        ok, image = self._capture.read()
        if not ok or image is None:
            if self.frame_count and self._index < self.frame_count - 1:
                self.error = (f"{self.name} ended at frame {self._index} of {self.frame_count}: the file is truncated "
                              "or damaged; the frames before were processed")
            return None
        frame = Frame(image, self._index, self._index / self.fps)
        self._index += 1
        return frame

    def seek(self, frame_index: int) -> None:
        self._capture.set(cv2.CAP_PROP_POS_FRAMES, frame_index)
        self._index = frame_index
        self.error = None

    def close(self) -> None:
        self._capture.release()


class ImageSource:
    """One image, or every image in a folder (sorted by name). Unreadable ones are skipped and listed."""

    is_live = False
    fps = 1.0

    def __init__(self, paths: list[Path], name: str) -> None:
        self.paths, self.name = paths, name
        self.frame_count = len(paths)
        self.skipped: list[str] = []
        self.error: str | None = None
        self._next = 0
        self.size = None

    def read(self) -> Frame | None:
        while self._next < len(self.paths):
            path = self.paths[self._next]
            index = self._next
            self._next += 1
            try:
                image = read_image(path)
            except InputError as exc:
                if len(self.paths) == 1:
                    raise
                self.skipped.append(f"{path.name}: {exc}")
                continue
            return Frame(image, index, 0.0, source=path.name)
        if self.skipped:
            self.error = f"{len(self.skipped)} of {len(self.paths)} images could not be read and were skipped"
        return None

    def seek(self, frame_index: int) -> None:
        self._next = min(max(frame_index, 0), len(self.paths))

    def close(self) -> None:
        pass


def open_source(spec: str):
    """A source for a file, folder, camera index or stream URL; InputError with the way out if it fails."""
    if spec.isdigit():
        from app.live import CameraSource  # live sources live with the threads that read them
        return CameraSource(int(spec))
    if spec.lower().startswith(STREAM_PREFIXES):
        from app.live import StreamSource
        return StreamSource(spec)
    path = Path(spec)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise InputError(f"{path} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return ImageSource(images, path.name)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if not path.is_file():
        raise InputError(f"{path} is not a file, folder, camera index or URL")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes)")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource([path], path.name)
    return VideoFileSource(path)
