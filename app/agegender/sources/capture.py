"""Frame sources behind one interface: read() gives the next Frame, or None at the end.

open_source() picks the kind from what it is given: a camera index ("0"), a stream URL
(rtsp://, http://, https://), a video file, an image file, or a folder of images.
"""
from __future__ import annotations

import bisect
import logging
import os
import re
import threading
import time
import urllib.parse
import warnings
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from agegender.errors import InputError, UnreadableFileError
from agegender.frames import Frame

log = logging.getLogger("agegender")

# Stills OpenCV decodes (GIF and AVIF since OpenCV 4.11; of an animated GIF, the first frame is read)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm", ".gif", ".avif"}
FALLBACK_FPS = 25.0  # the frame rate of a video that does not say its own (or says one out of 1-1000)

# What a folder search takes as a video (a file named on its own is tried whatever its suffix).
VIDEO_FILE_SUFFIXES = {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
                       ".wmv", ".flv", ".3gp"}
STREAM_PREFIXES = ("rtsp://", "rtmp://", "http://", "https://")
URL_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
DEFAULT_MAX_IMAGE_MEGAPIXELS = 100.0


def mask_credentials(url: str) -> str:
    """rtsp://user:secret@host/... -> rtsp://user:***@host/..., for anything printed or saved.

    Users type passwords unescaped, so '@', '/', ':' and spaces may all be in them: everything up to the
    last '@' is taken as the user information (when in doubt, more is hidden rather than less)."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    user_info, at, host_and_path = rest.rpartition("@")
    if not at:
        return url
    user, colon, _ = user_info.partition(":")
    shown = f"{user}:***" if colon and user and "/" not in user else "***"
    return f"{scheme}://{shown}@{host_and_path}"


def check_image_header(path: Path, max_megapixels: float = DEFAULT_MAX_IMAGE_MEGAPIXELS) -> None:
    """Refuses an image whose header declares more than `max_megapixels`, before anything is decoded
    (a 3 MB PNG can declare 60000x60000 pixels: 10 GB once decoded). Warns that only the first page of a
    multi-page file (or animation) is read. A file Pillow cannot identify is left to OpenCV's decoder to judge."""
    from PIL import Image, UnidentifiedImageError  # reads the header only; the pixels are decoded by OpenCV
    limit = f"more than the limit of {max_megapixels:g} megapixels (setting max_image_megapixels)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                pages = getattr(image, "n_frames", 1)
                page = "page" if image.format == "TIFF" else "frame"  # an animation's (GIF, WebP, APNG)
    except Image.DecompressionBombError:  # beyond Pillow's own limit, which hides the size it read
        beyond = 2 * Image.MAX_IMAGE_PIXELS / 1e6
        raise UnreadableFileError(f"{path.name} declares more than {beyond:.0f} megapixels, {limit}; it was not "
                                  "decoded") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return
    if width * height > max_megapixels * 1e6:
        raise UnreadableFileError(f"{path.name} declares {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), "
                         f"{limit}; it was not decoded")
    check_memory_for_detection(path.name, width, height)
    if pages > 1:
        log.warning("%s holds %d %ss; only the first %s is read", path.name, pages, page, page)


# Peak memory of processing a photo, per megapixel: measured 0.065 GB on ONNX Runtime and 0.033 GB on
# OpenVINO (`agegender process` on a 48-megapixel crowd photo, docs/performance.md); the larger is assumed.
DETECTION_BYTES_PER_MEGAPIXEL = 0.07e9


def check_memory_for_detection(name: str, width: int, height: int) -> None:
    """Refuses, before decoding, a photo whose face search would need more memory than is free now: a clear
    line instead of the kernel killing the program."""
    import psutil
    needed = width * height / 1e6 * DETECTION_BYTES_PER_MEGAPIXEL
    free = psutil.virtual_memory().available
    if needed > free:
        raise UnreadableFileError(f"{name} ({width}x{height}, {width * height / 1e6:.0f} megapixels) needs about "
                                  f"{needed / 1e9:.1f} GB to search for faces at full size, and {free / 1e9:.1f} GB "
                                  "are free: scale it down, or free memory; it was not decoded")


def eight_bit(image: np.ndarray) -> np.ndarray:
    """A 16-bit image as 8 bits, as read_image gets a 16-bit file from OpenCV's decoders: the high byte."""
    return (image >> 8).astype(np.uint8)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def refuse_non_utf8_path(path: str | Path) -> None:
    """Refuses a path that is not valid UTF-8 (Python holds its other bytes as surrogates, \\udcff): results
    and the archive's manifest are UTF-8 text, and OpenCV crashes opening a video by such a path."""
    text = str(path)
    if not _is_utf8(text):
        name = next(part for part in reversed(Path(text).parts) if not _is_utf8(part))
        where = f" in {text}" if name != text else ""
        raise InputError(f"the name {name}{where} is not valid UTF-8, which results files cannot hold; rename it")


def read_image(path: Path, max_megapixels: float = DEFAULT_MAX_IMAGE_MEGAPIXELS) -> np.ndarray:
    """An image file as 8-bit BGR, EXIF orientation applied; grayscale, alpha and 16-bit are converted."""
    if not path.exists():
        raise InputError(f"cannot read {path}: " + ("a symbolic link whose target is gone" if path.is_symlink()
                                                     else "it does not exist"))
    check_image_header(path, max_megapixels)
    try:
        data = np.fromfile(str(path), np.uint8)  # np.fromfile + imdecode copes with non-ASCII paths
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    except (cv2.error, MemoryError) as exc:
        raise UnreadableFileError(f"{path} could not be decoded ({type(exc).__name__})") from exc
    if image is None:
        raise UnreadableFileError(f"{path} is not an image OpenCV can decode (empty, damaged or another kind of file)")
    return image


class VideoFileSource:
    is_live = False

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise UnreadableFileError(f"{self.path} is not a video or image that can be read (unknown format, damaged "
                             "or empty file)")
        self.fps = self._capture.get(cv2.CAP_PROP_FPS) or FALLBACK_FPS
        if not 1 <= self.fps <= 1000:
            self.fps = FALLBACK_FPS
        self.frame_count = max(int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
        self.size = (int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self._index = 0
        self._last_time: float | None = None
        self.error: str | None = None
        self._sizes: list[tuple[float, tuple[int, int]]] = []  # (from this time on, the picture's own size)
        self._damage: DamagedFrames | None = None

    def follow_size_changes(self) -> None:
        """OpenCV scales every frame of a video whose picture size changes midway to the first size. Where
        the size changes, each frame is given back at its own size (so its faces are in its own
        coordinates) and starts a new segment (tracks start again), and a warning says so. Costs a pass
        over the file that decodes its keyframes only (a few seconds for an hour of video)."""
        self._sizes = picture_sizes(self.path)
        self._size_times = [at for at, _ in self._sizes]
        if len(self._sizes) > 1:
            said = ", then ".join(f"{w}x{h} from {at:.1f} s" for at, (w, h) in self._sizes)
            log.warning("%s changes its picture size (%s): each frame is processed and reported at its own size, "
                        "and faces are followed anew after each change", self.name, said)

    def count_damage(self) -> None:
        """Count, beside the run, the frames FFmpeg cannot decode whole (see damage())."""
        self._damage = DamagedFrames(self.path)

    def damage(self) -> str | None:
        """Once every frame was read: a line saying how many frames count_damage found damaged, or None.
        OpenCV gives such frames back without a word, patched with grey or with the frames before."""
        if self._damage is None:
            return None
        damaged, total = self._damage.result()
        if not damaged:
            return None
        return (f"{self.name}: {damaged} of {total} frames are damaged and could not be decoded whole; their results, "
                "and those of the frames after them up to the next keyframe, may miss faces")

    def read(self) -> Frame | None:
        ok, image = self._capture.read()
        if not ok or image is None:
            if self.frame_count and self._index < self.frame_count - 1:
                self.error = (f"{self.name} ended at frame {self._index} of {self.frame_count}: the file is truncated "
                              "or damaged; the frames before were processed")
            return None
        frame = Frame(image, self._index, self._frame_time())
        if len(self._sizes) > 1:
            frame.segment = max(bisect.bisect_right(self._size_times, frame.time + 1e-3) - 1, 0)
            own = self._sizes[frame.segment][1]
            if (image.shape[1], image.shape[0]) != own:
                frame.image = cv2.resize(image, own, interpolation=cv2.INTER_AREA)
        self._index += 1
        return frame

    def _frame_time(self) -> float:
        """The frame's own time in the container (its pts, from the stream's start), so variable frame rates
        keep their real times; where the container gives none that advances, 1/fps after the frame before."""
        container_time = self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if self._last_time is None:
            time_s = container_time if container_time >= 0 else self._index / self.fps
        elif container_time > self._last_time:
            time_s = container_time
        else:
            time_s = self._last_time + 1.0 / self.fps
        self._last_time = time_s
        return time_s

    def seek(self, frame_index: int) -> None:
        self._capture.set(cv2.CAP_PROP_POS_FRAMES, frame_index)
        self._index = frame_index
        self._last_time = None
        self.error = None

    def close(self) -> None:
        if self._damage is not None:
            self._damage.stop()
        self._capture.release()


class DamagedFrames(threading.Thread):
    """Decodes a video once more with PyAV, on a thread of its own, counting its frames (one a packet) and
    those that come out whole: FFmpeg flags the frames it patched (concealed), and gives none for a packet
    it cannot decode or for the frames that depend on one. OpenCV reports neither."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True, name="damage-count")
        self.path = path
        self.frames = self.whole = 0
        self._stopping = threading.Event()
        self.start()

    def run(self) -> None:
        import av
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "NONE"  # with slice threads FFmpeg leaves concealed frames unflagged
                for packet in container.demux(stream):
                    if self._stopping.is_set():
                        return
                    self.frames += packet.size > 0  # (the last, empty, packet only flushes the decoder)
                    try:
                        self.whole += sum(not frame.is_corrupt for frame in packet.decode())
                    except av.FFmpegError:
                        pass
        except (av.FFmpegError, IndexError, OSError):  # what was counted stands; a cut is OpenCV's to report
            pass

    def result(self) -> tuple[int, int]:
        """(damaged frames, frames), once the count is done."""
        self.join()
        return max(self.frames - self.whole, 0), self.frames

    def stop(self) -> None:
        self._stopping.set()
        self.join()


def picture_sizes(path: Path) -> list[tuple[float, tuple[int, int]]]:
    """(seconds from the stream's start, (width, height)) where the video's picture size is first seen and
    wherever it changes, read off its keyframes by PyAV (a size changes only at a keyframe); [] where
    PyAV cannot read the file."""
    import av
    sizes: list[tuple[float, tuple[int, int]]] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = "NONKEY"
            first_pts = None  # the first picture is a keyframe: times count from it, as OpenCV's do
            for picture in container.decode(stream):
                pts = picture.pts or 0
                first_pts = pts if first_pts is None else first_pts
                size = (picture.width, picture.height)
                if not sizes or sizes[-1][1] != size:
                    sizes.append((max(float((pts - first_pts) * stream.time_base), 0.0), size))
    except (av.FFmpegError, IndexError, OSError):
        return sizes
    return sizes


class ImageSource:
    """One image, or every image in a folder (sorted by name). Unreadable ones are skipped and listed."""

    is_live = False
    fps = 1.0

    def __init__(self, paths: list[Path], name: str,
                 max_megapixels: float = DEFAULT_MAX_IMAGE_MEGAPIXELS, is_folder: bool = False) -> None:
        self.paths, self.name, self.max_megapixels = paths, name, max_megapixels
        self.is_folder = is_folder  # a folder's images, even where it holds one
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
                image = read_image(path, self.max_megapixels)
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


@contextmanager
def opencv_quiet():
    """OpenCV's own log lines silenced, for opening a camera or a stream: a camera index that is not there
    gets '[ WARN:0@…] cap_v4l…' lines beside our one, where cv2 was imported before agegender could set
    OPENCV_LOG_LEVEL (an API caller's script). Whoever sets OPENCV_LOG_LEVEL to a level still sees them."""
    if (os.environ.get("OPENCV_LOG_LEVEL") or "OFF").upper() != "OFF":
        yield
        return
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


class _LiveCapture:
    is_live = True
    frame_count = 0

    def __init__(self, target, name: str, *args) -> None:
        self.name = name
        with opencv_quiet():
            self._capture = cv2.VideoCapture(target, *args)
        if not self._capture.isOpened():
            self._capture.release()
            raise InputError(self._failure_message())
        self.fps = self._capture.get(cv2.CAP_PROP_FPS) or 30.0
        self._index = 0
        self._started = time.monotonic()
        self.error: str | None = None

    def _failure_message(self) -> str:
        return f"cannot open {self.name}"

    def read(self) -> Frame | None:
        ok, image = self._capture.read()
        if not ok or image is None:
            return None
        frame = Frame(image, self._index, time.monotonic() - self._started)
        self._index += 1
        return frame

    def close(self) -> None:
        self._capture.release()


class CameraSource(_LiveCapture):
    def __init__(self, index: int) -> None:
        super().__init__(index, f"camera {index}")

    def _failure_message(self) -> str:
        return (f"no camera at index {self.name.split()[-1]} (unplugged, busy in another program, or no permission);"
                " open a video file or a stream URL instead")


class StreamSource(_LiveCapture):
    # Without these a stream that stalls (server alive, no data) blocks read() for ever.
    TIMEOUTS_MS = (cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000)

    def __init__(self, url: str) -> None:
        super().__init__(url, mask_credentials(url), cv2.CAP_FFMPEG, list(self.TIMEOUTS_MS))

    def _failure_message(self) -> str:
        return f"cannot open the stream {self.name} (check the address and that the server is running)"


def _images_in(folder: Path) -> list[Path]:
    """The image files of a folder, sorted by name; InputError when the folder cannot be listed."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise InputError(f"cannot read the folder {folder}: {exc.strerror}; check its permissions") from None
    return [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES and (p.is_file() or p.is_symlink())]


def _left_out_of(folder: Path, images: list[Path]) -> list[str]:
    """What a folder holds besides its images, each with why it is not read."""
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    taken = set(images)
    reasons = []
    for path in entries:
        if path in taken:
            continue
        if path.is_dir():
            reasons.append(f"{path.name}: a folder (folders are not searched)")
        else:
            reasons.append(f"{path.name}: not an image file ({path.suffix or 'no suffix'}; read are "
                           f"{', '.join(sorted(IMAGE_SUFFIXES))})")
    return reasons


def is_camera_index(spec: str) -> bool:
    """A number names a camera, unless a file or folder of that name exists (a folder called 2024)."""
    return spec.isdigit() and not Path(spec).exists()


def file_url_path(spec: str) -> str:
    """The path a file:// URL names (file:///home/a/clip%20b.mp4, as file managers copy a file); any
    other spec as it is."""
    if not spec.lower().startswith("file://"):
        return spec
    url = urllib.parse.urlsplit(spec)
    if url.netloc not in ("", "localhost"):
        raise InputError(f"{spec} names a file on another machine ({url.netloc}); give a path on this one")
    return os.fsdecode(urllib.parse.unquote_to_bytes(url.path))


def _holds_data(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return bool(handle.read(1))
    except OSError:
        return False


def local_inputs(spec: str) -> list[Path]:
    """The files a source reads, and the folder for a folder of images; none for cameras and streams.
    Outputs are checked against these (outputs/safety.py)."""
    spec = file_url_path(spec)
    if is_camera_index(spec) or spec.lower().startswith(STREAM_PREFIXES):
        return []
    path = Path(spec)
    if path.is_dir():
        return [path, *_images_in(path)]
    return [path] if path.exists() else []


def open_source(spec: str, max_image_megapixels: float = DEFAULT_MAX_IMAGE_MEGAPIXELS):
    """A source for a file (also as a file:// URL), folder, camera index or stream URL; InputError with the
    way out if it fails."""
    spec = file_url_path(spec)
    refuse_non_utf8_path(spec)
    if is_camera_index(spec):
        return CameraSource(int(spec))
    if spec.lower().startswith(STREAM_PREFIXES):
        return StreamSource(spec)
    path = Path(spec)
    if path.is_dir():
        images = _images_in(path)
        if not images:
            raise InputError(f"{path} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        for image in images:
            refuse_non_utf8_path(image)
        for reason in _left_out_of(path, images):
            log.warning("left out: %s", reason)
        return ImageSource(images, path.name, max_image_megapixels, is_folder=True)
    if not path.exists():
        if scheme := URL_SCHEME.match(spec):
            raise UnreadableFileError(f"{mask_credentials(spec)}: {scheme[1]}:// addresses cannot be opened; give an "
                                      "rtsp://, rtmp://, http:// or https:// URL, a file, a folder or a camera index")
        raise InputError(f"{path} does not exist")
    if not path.is_file():
        raise InputError(f"{path} is not a file, folder, camera index or URL")
    if path.stat().st_size == 0:
        if _holds_data(path):
            raise UnreadableFileError(f"{path} is not a video or image file: it reports 0 bytes yet holds data, as "
                                      "the system's files in /proc and /sys do; give a video, an image or a folder")
        raise UnreadableFileError(f"{path} is empty (0 bytes)")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource([path], path.name, max_image_megapixels)
    return VideoFileSource(path)
