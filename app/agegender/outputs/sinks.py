"""Outputs: per-frame JSONL, per-face CSV, and the annotated video. Results are written to a temporary file
beside their target as they go (flushed frame by frame) and renamed into place by close(); close(keep=False)
throws it away and leaves the earlier file untouched (see outputs/safety.py). A video must also survive a
kill, so it is written under its own name when that name is new (see _RecordingFile)."""
from __future__ import annotations

import csv
import io
import json
import os
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from agegender.errors import OutputError
from agegender.sources.capture import FALLBACK_FPS
from agegender.outputs.safety import (AtomicFile, TargetLock, check_folder, open_in_place, through_links,
                                      writes_in_place)

RESULTS_SUFFIXES = (".jsonl", ".csv")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _check_suffix(path: Path, what: str, suffixes: tuple[str, ...]) -> None:
    """What is written in place, a device or a pipe (/dev/stdout), takes any name: results as JSONL, or
    CSV where the name ends in .csv; a video as MP4."""
    if writes_in_place(path):
        return
    name = Path(path).name
    if name.lower() in suffixes:  # '.mp4' is a hidden file without a suffix, not an .mp4 without a name
        raise OutputError(f"{what} {path} has no name before its suffix; give one, for example results{name}")
    if Path(path).suffix.lower() not in suffixes:
        raise OutputError(f"{what} {path} must end in {', '.join(suffixes[:-1])} or {suffixes[-1]}")


def check_results_path(path: Path) -> None:
    _check_suffix(path, "results file", RESULTS_SUFFIXES)


def check_video_path(path: Path) -> None:
    _check_suffix(path, "annotated video", VIDEO_SUFFIXES)


def spreadsheet_safe(value):
    """Text a spreadsheet would run as a formula, made inert by a leading quote; other values as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _TextOutput:
    def __init__(self, path: Path, newline: str | None = None, follow_links: bool = True) -> None:
        self.path = Path(path)
        self._file = AtomicFile(self.path, follow_links=follow_links)
        try:
            # in place (a device, a pipe, or the file that stdout appends to): added to, never truncated
            target = open_in_place(self._file.path) if self._file.in_place else self._file.path
            self._handle = open(target, "w", encoding="utf-8", newline=newline)
        except OSError as exc:
            self._file.discard()
            raise OutputError(f"cannot write {self.path}: {exc.strerror}") from exc

    def _write(self, text: str) -> None:
        try:
            self._handle.write(text)
            self._handle.flush()
        except OSError as exc:
            raise OutputError(f"writing {self.path} failed: {exc.strerror} (is the disk full?)") from exc

    def close(self, keep: bool = True) -> None:
        try:
            self._handle.close()
        except OSError:
            keep = False  # the write that failed has already been reported
        self._file.close(keep)


class JsonlWriter(_TextOutput):
    def write(self, record: dict) -> None:
        self._write(json.dumps(record, ensure_ascii=False) + "\n")


class CsvWriter(_TextOutput):
    """One row per face: the JSONL fields flattened, one column group per design (empty where a frame
    did not run that design, as in the window when the design changes)."""

    def __init__(self, path: Path, designs: list[str], bucket_labels: list[str], follow_links: bool = True) -> None:
        super().__init__(path, newline="", follow_links=follow_links)
        self._designs = designs
        self._bucket_labels = list(bucket_labels)
        self._per_design = 5 + len(bucket_labels)
        header = ["source", "frame", "time", "face", "track", "x1", "y1", "x2", "y2", "score"]
        header += [f"landmark{i}_{axis}" for i in range(5) for axis in "xy"]
        for name in designs:
            header += [f"{name}_age", f"{name}_age_bucket", f"{name}_gender", f"{name}_p_female",
                       f"{name}_gender_confident"]
            header += [f"{name}_p_age_{label}" for label in bucket_labels]
        self._write_rows([header])

    def _write_rows(self, rows: list[list]) -> None:
        text = io.StringIO()  # one checked write per frame
        csv.writer(text).writerows([[spreadsheet_safe(value) for value in row] for row in rows])
        self._write(text.getvalue())

    def write(self, record: dict) -> None:
        rows = []
        for index, face in enumerate(record["faces"]):
            row = [record.get("source", ""), record["frame"], record["time"], index, face.get("track", ""),
                   *face["box"], face["score"]]
            row += [value for point in face["landmarks"] for value in point]
            for name in self._designs:
                d = face["designs"].get(name)
                if d is None:
                    row += [""] * self._per_design
                else:
                    # by label: if the scheme changes during a window's export, the columns keep their meaning
                    probs = d["age_bucket_probs"]
                    row += [d["age"], d["age_bucket"], d["gender"], d["p_female"], d["gender_confident"],
                            *(probs.get(label, "") for label in self._bucket_labels)]
            rows.append(row)
        self._write_rows(rows)


def results_writer(path: Path, designs: list[str], bucket_labels: list[str], follow_links: bool = True):
    """`follow_links`: whether a link at `path` is written through (the name the user gave) or replaced (a
    file in an output folder; see AtomicFile)."""
    check_results_path(path)
    if Path(path).suffix.lower() == ".csv":
        return CsvWriter(path, designs, bucket_labels, follow_links)
    return JsonlWriter(path, follow_links=follow_links)


class _RecordingFile:
    """Where a video is written. A video must survive a kill, which cannot rename anything, so:
    a target that did not exist is claimed (created exclusively) and written under its own name, since
    there is nothing to protect and a killed run leaves a playable file there; a target that exists
    (an earlier file, which a refused or failed run must leave as it was) is written to a temporary file
    beside it and renamed into place at the end (AtomicFile), and a killed run leaves that
    `.NAME.RANDOM.partSUFFIX`, playable, beside the earlier file (docs/command-line.md). `follow_links`:
    as AtomicFile's (a link at a new name makes it one that exists, so it is replaced)."""

    def __init__(self, target: Path, follow_links: bool = True) -> None:
        self._atomic = self._lock = None
        self.stream = None  # what the video is written to in place (a device, a pipe), else self.path
        if follow_links and writes_in_place(target):
            self.target = self.path = Path(target)
            self._atomic = AtomicFile(self.target)
            self._sync_fd = None
            self.stream = open(open_in_place(self.target), "wb", buffering=0)  # unbuffered: a kill loses nothing
            return
        self.target = through_links(target) if follow_links else Path(target)
        check_folder(self.target)
        self._lock = TargetLock(self.target)
        try:
            os.close(os.open(self.target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            self.path = self.target
        except FileExistsError:  # beside an earlier file, under the lock already held
            lock, self._lock = self._lock, None
            self._atomic = AtomicFile(self.target, lock, follow_links)  # (also refuses a folder)
            self.path = self._atomic.path
        except OSError as exc:
            self._lock.release()
            raise OutputError(f"cannot write {self.target}: {exc.strerror}") from exc
        try:
            self._sync_fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            self._sync_fd = None
            self.close(keep=False)
            raise OutputError(f"cannot write {self.target}: {exc.strerror}") from exc

    def sync(self) -> None:
        """What has been written reaches the disk (for a power loss; a kill loses nothing written)."""
        if self._sync_fd is not None:
            try:
                os.fsync(self._sync_fd)
            except OSError:
                pass  # a write that failed is reported by the writer

    def close(self, keep: bool = True) -> None:
        if self._sync_fd is not None:
            os.close(self._sync_fd)
            self._sync_fd = None
        if self.stream is not None:
            try:
                self.stream.close()
            except OSError:
                pass  # a write that failed is reported by the writer
        if self._atomic is not None:
            self._atomic.close(keep)
            return
        if not keep:
            self.target.unlink(missing_ok=True)  # it was ours: no earlier file had that name
        self._lock.release()


def _video_encoder() -> tuple[str, dict]:
    """H.264 through libx264, else any H.264 encoder PyAV's FFmpeg has, else MPEG-4 part 2. libx264's
    ultrafast preset costs about what OpenCV's MPEG-4 did (1080p: 56 against 46 ms a frame on 2 busy
    cores; veryfast took 109) for files of the same size; zerolatency hands each frame on at once
    instead of holding dozens for look-ahead, which a kill would lose."""
    import av
    for name, options in (("libx264", {"preset": "ultrafast", "tune": "zerolatency"}), ("libopenh264", {}),
                          ("h264", {}), ("mpeg4", {})):
        try:
            av.codec.Codec(name, "w")
        except Exception:  # av.codec.codec.UnknownCodecError: not in this build
            continue
        return name, options
    raise OutputError("PyAV's FFmpeg has neither an H.264 nor an MPEG-4 encoder: reinstall av")


def letterbox(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` scaled to fit `size` (width, height) whole, its shape kept, centred on black: a recording
    of images of several sizes, or of a video whose size changes, shows each picture undistorted."""
    width, height = size
    scale = min(width / image.shape[1], height / image.shape[0])
    fitted = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top, left = (height - fitted.shape[0]) // 2, (width - fitted.shape[1]) // 2
    return cv2.copyMakeBorder(fitted, top, height - fitted.shape[0] - top, left, width - fitted.shape[1] - left,
                              cv2.BORDER_CONSTANT)


class VideoWriter:
    """H.264 (yuv420p) in fragmented MP4 at the source's size (odd sizes padded by one black pixel; a
    frame of another size is letterboxed into it).
    Every frame is a fragment of its own, handed to the file at once (the muxer holds back only the
    last, whose duration it does not know yet), a keyframe comes every second (where players can start
    and seek), and the file is synced to disk once a second: a killed run's file plays up to its last
    frame but one, and after a power loss up to about its last second. Each frame carries its source's timestamp where one is given (variable
    frame rates stay variable), else index / fps. `.avi` targets hold the same H.264 in AVI, which is
    not fragmented."""

    TIME_BASE = Fraction(1, 90000)  # 90 kHz: exact for 25, 30 and 30000/1001 fps and for milliseconds
    FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".avi": "avi"}

    def __init__(self, path: Path, fps: float, size: tuple[int, int], follow_links: bool = True) -> None:
        import av
        self.path = Path(path)
        check_video_path(self.path)
        self.fps = fps if 1 <= fps <= 1000 else FALLBACK_FPS
        self.size = size
        self.frames = 0
        self._first_time = None
        self._last_pts = -1
        self._synced_at = time.monotonic()
        self.codec, options = _video_encoder()
        kind = self.FORMATS.get(self.path.suffix.lower(), "mp4")  # a device or a pipe may have no suffix
        # a fragment per frame, handed to the file at once: a cut file plays up to its last frames
        muxer = {"movflags": "frag_every_frame+empty_moov+default_base_moof", "flush_packets": "1"} if kind != "avi" else {}
        self._container = None
        self._file = _RecordingFile(self.path, follow_links)
        try:
            self._container = av.open(self._file.stream or str(self._file.path), "w", format=kind, options=muxer)
            stream = self._container.add_stream(self.codec, rate=Fraction(self.fps).limit_denominator(1001),
                                                options=options)
            stream.width, stream.height = size[0] + size[0] % 2, size[1] + size[1] % 2  # yuv420p needs even sizes
            stream.pix_fmt = "yuv420p"
            stream.codec_context.gop_size = max(1, round(self.fps))  # a keyframe every second
            stream.codec_context.time_base = stream.time_base = self.TIME_BASE
            stream.codec_context.open()
        except (av.FFmpegError, OSError, ValueError) as exc:
            self._abandon()
            raise OutputError(f"cannot write video {self.path} with the {self.codec} encoder at {size[0]}x{size[1]}, "
                              f"{self.fps:g} fps: {exc}") from exc
        except BaseException:  # Ctrl-C while opening: the caller holds no writer to close yet
            self._abandon()
            raise
        self._stream = stream

    def write(self, image: np.ndarray, time_s: float | None = None) -> None:
        """One frame; `time_s` is its time in the source (seconds), else it follows the one before by 1/fps."""
        import av
        if (image.shape[1], image.shape[0]) != self.size:
            image = letterbox(image, self.size)
        if (self._stream.width, self._stream.height) != self.size:
            image = cv2.copyMakeBorder(image, 0, self._stream.height - self.size[1], 0,
                                       self._stream.width - self.size[0], cv2.BORDER_CONSTANT)
        if time_s is None:
            pts = round(self.frames * self.TIME_BASE.denominator / self.fps)
        else:
            self._first_time = time_s if self._first_time is None else self._first_time
            pts = round((time_s - self._first_time) * self.TIME_BASE.denominator)
        pts = max(pts, self._last_pts + 1)  # the encoder needs rising times
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame.pts, frame.time_base = pts, self.TIME_BASE
        self._encode(frame)
        self._last_pts = pts
        self.frames += 1
        if time.monotonic() - self._synced_at >= 1.0:
            self._file.sync()
            self._synced_at = time.monotonic()

    def _encode(self, frame) -> None:
        import av
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise OutputError(f"writing {self.path} failed: {reason} (is the disk full?)") from exc

    def _abandon(self) -> None:
        container, self._container = self._container, None
        try:
            if container is not None:
                container.close()
        except Exception:  # nothing of it is kept
            pass
        self._file.close(keep=False)

    def close(self, keep: bool = True) -> None:
        import av
        if self._container is None:
            return
        container, self._container = self._container, None
        try:
            if keep:
                self._encode(None)  # the frames the encoder still holds
            container.close()
        except (av.FFmpegError, OSError, OutputError) as exc:
            self._file.close(keep=False)
            if keep:
                raise OutputError(f"writing {self.path} failed: {exc}") from exc
            return
        self._file.sync()
        self._file.close(keep)
