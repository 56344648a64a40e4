"""Outputs: per-frame JSONL, per-face CSV, and the annotated video. Each writes as it goes and
flushes, so whatever was written before an error or an interrupt stays valid."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import cv2
import numpy as np

from app.errors import OutputError


def check_folder(path: Path) -> None:
    """OutputError, naming the way out, when `path` cannot be created in its folder."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: the folder {folder} does not exist; create it or choose another")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {path}: the folder {folder} is read-only for you; choose another")


def _open_for_writing(path: Path, newline: str | None = None):
    path = Path(path)
    if not path.is_char_device():  # /dev/stdout and the like need no folder check
        check_folder(path)
    try:
        return open(path, "w", encoding="utf-8", newline=newline)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from exc


def _write(handle, text: str, path: Path) -> None:
    try:
        handle.write(text)
        handle.flush()
    except OSError as exc:
        raise OutputError(f"writing {path} failed: {exc.strerror} (is the disk full?)") from exc


def _close(handle) -> None:
    try:
        handle.close()
    except OSError:
        pass  # the write that failed has already been reported; what was flushed before it stays valid


class JsonlWriter:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._handle = _open_for_writing(self.path)

    def write(self, record: dict) -> None:
        _write(self._handle, json.dumps(record, ensure_ascii=False) + "\n", self.path)

    def close(self) -> None:
        _close(self._handle)


class CsvWriter:
    """One row per face: the JSONL fields flattened, one column group per design."""

    def __init__(self, path: Path, designs: list[str], bucket_labels: list[str]) -> None:
        self.path = Path(path)
        self._designs = designs
        self._handle = _open_for_writing(self.path, newline="")
        self._writer = csv.writer(self._handle)
        header = ["source", "frame", "time", "face", "x1", "y1", "x2", "y2", "score"]
        header += [f"landmark{i}_{axis}" for i in range(5) for axis in "xy"]
        for name in designs:
            header += [f"{name}_age", f"{name}_age_bucket", f"{name}_gender", f"{name}_p_female"]
            header += [f"{name}_p_age_{label}" for label in bucket_labels]
        self._writer.writerow(header)
        self._handle.flush()

    def write(self, record: dict) -> None:
        rows = []
        for index, face in enumerate(record["faces"]):
            row = [record.get("source", ""), record["frame"], record["time"], index, *face["box"], face["score"]]
            row += [value for point in face["landmarks"] for value in point]
            for name in self._designs:
                d = face["designs"][name]
                row += [d["age"], d["age_bucket"], d["gender"], d["p_female"], *d["age_bucket_probs"].values()]
            rows.append(row)
        try:
            self._writer.writerows(rows)
            self._handle.flush()
        except OSError as exc:
            raise OutputError(f"writing {self.path} failed: {exc.strerror} (is the disk full?)") from exc

    def close(self) -> None:
        _close(self._handle)


def results_writer(path: Path, designs: list[str], bucket_labels: list[str]):
    suffix = Path(path).suffix.lower()
    if suffix == ".jsonl":
        return JsonlWriter(path)
    if suffix == ".csv":
        return CsvWriter(path, designs, bucket_labels)
    raise OutputError(f"results file {path} must end in .jsonl or .csv")


class VideoWriter:
    """MPEG-4 video at the source's size and frame rate; every frame is checked against that size."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        check_folder(self.path)
        if self.path.suffix.lower() not in (".mp4", ".m4v", ".mov", ".avi"):
            raise OutputError(f"annotated video {self.path} must end in .mp4, .mov or .avi")
        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"))
        self.size = size
        self._writer = cv2.VideoWriter(str(self.path), fourcc, fps, size)
        if not self._writer.isOpened():
            raise OutputError(f"cannot write video {self.path} (read-only folder, full disk or no encoder)")
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        self._writer.release()
