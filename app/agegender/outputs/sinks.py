"""Outputs: per-frame JSONL, per-face CSV, and the annotated video. Each writes to a temporary file
beside its target as it goes (flushed frame by frame) and is renamed into place by close(); close(keep=False)
throws it away and leaves the earlier file untouched (see app/output_safety.py)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import cv2
import numpy as np

from agegender.errors import OutputError
from agegender.outputs.safety import AtomicFile

RESULTS_SUFFIXES = (".jsonl", ".csv")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def check_results_path(path: Path) -> None:
    if Path(path).suffix.lower() not in RESULTS_SUFFIXES:
        raise OutputError(f"results file {path} must end in .jsonl or .csv")


def check_video_path(path: Path) -> None:
    if Path(path).suffix.lower() not in VIDEO_SUFFIXES:
        raise OutputError(f"annotated video {path} must end in .mp4, .mov or .avi")


def spreadsheet_safe(value):
    """Text a spreadsheet would run as a formula, made inert by a leading quote; other values as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _TextOutput:
    def __init__(self, path: Path, newline: str | None = None) -> None:
        self.path = Path(path)
        self._file = AtomicFile(self.path)
        try:
            self._handle = open(self._file.path, "w", encoding="utf-8", newline=newline)
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

    def __init__(self, path: Path, designs: list[str], bucket_labels: list[str]) -> None:
        super().__init__(path, newline="")
        self._designs = designs
        self._per_design = 5 + len(bucket_labels)
        header = ["source", "frame", "time", "face", "x1", "y1", "x2", "y2", "score"]
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
            row = [record.get("source", ""), record["frame"], record["time"], index, *face["box"], face["score"]]
            row += [value for point in face["landmarks"] for value in point]
            for name in self._designs:
                d = face["designs"].get(name)
                if d is None:
                    row += [""] * self._per_design
                else:
                    row += [d["age"], d["age_bucket"], d["gender"], d["p_female"], d["gender_confident"],
                            *d["age_bucket_probs"].values()]
            rows.append(row)
        self._write_rows(rows)


def results_writer(path: Path, designs: list[str], bucket_labels: list[str]):
    check_results_path(path)
    if Path(path).suffix.lower() == ".csv":
        return CsvWriter(path, designs, bucket_labels)
    return JsonlWriter(path)


class VideoWriter:
    """MPEG-4 video at the source's size and frame rate; every frame is checked against that size."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        check_video_path(self.path)
        self._file = AtomicFile(self.path)
        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"))
        self.size = size
        self._writer = cv2.VideoWriter(str(self._file.path), fourcc, fps, size)
        if not self._writer.isOpened():
            self._file.discard()
            raise OutputError(f"cannot write video {self.path} (read-only folder, full disk or no encoder)")
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size)
        self._writer.write(image)
        self.frames += 1

    def close(self, keep: bool = True) -> None:
        self._writer.release()
        self._file.close(keep)
