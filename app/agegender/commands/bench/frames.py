"""Frames of the shared crowd video at a given height, decoded and resized once."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from agegender.errors import InputError
from agegender.paths import SHARED_MEDIA_DIR

DEFAULT_MEDIA = SHARED_MEDIA_DIR
CROWD_VIDEO = "crowd-1080p.mp4"
REPLAY_FPS = 25.0  # the rate the bench replays frames at, as a camera would deliver them


def crowd_video(media: Path = DEFAULT_MEDIA) -> Path:
    path = Path(media) / CROWD_VIDEO if Path(media).is_dir() else Path(media)
    if not path.is_file():
        raise InputError(f"benchmark video not found at {path}: put ../shared beside the project "
                         "or give the video's path with --media")
    return path


def read_frames(video: Path, height: int | None = None, every: int = 1, limit: int | None = None) -> list[np.ndarray]:
    """BGR frames, every `every`-th, resized to `height` (aspect kept) with area interpolation."""
    capture = cv2.VideoCapture(str(video))
    frames, index = [], 0
    while limit is None or len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        if index % every == 0:
            if height and height != frame.shape[0]:
                width = round(frame.shape[1] * height / frame.shape[0])
                frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
            frames.append(frame)
        index += 1
    capture.release()
    return frames
