"""annotate(image, result) -> image: boxes and labels (outputs/labels.py) painted with OpenCV.

Pure OpenCV on arrays, no Qt: results videos, the window's recordings and snapshots, and agegender.draw
are painted here, and tests can check pixels. The window paints the same labels with Qt.
"""
from __future__ import annotations

import cv2
import numpy as np

from agegender.frames import FrameResult
from agegender.outputs.labels import (BAR_BACKGROUND, OTHER_DESIGN_COLOUR, PANEL_OPACITY, Measure, PlacedLabel,
                                      face_label, place_labels)

FONT = cv2.FONT_HERSHEY_SIMPLEX
TEXT_PX_AT_SCALE_1 = 16  # the bucket's height in pixels at text scale 1, for the label's padding and bar


def blur_faces(image: np.ndarray, boxes: np.ndarray) -> None:
    """Privacy mode: pixelate every face box in place."""
    height, width = image.shape[:2]
    for x1, y1, x2, y2 in boxes.astype(int):
        x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        face = image[y1:y2, x1:x2]
        small = cv2.resize(face, (8, 8), interpolation=cv2.INTER_AREA)
        image[y1:y2, x1:x2] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)


def _measure(text_px: float) -> Measure:
    scale = text_px / TEXT_PX_AT_SCALE_1

    def measure(text: str, size: float) -> tuple[int, int]:
        return cv2.getTextSize(text, FONT, scale * size, _thickness(scale, size))[0]
    return measure


def _thickness(scale: float, size: float) -> int:
    return max(1, round(scale * 1.6 * size))


def _paint(image: np.ndarray, placed: PlacedLabel) -> None:
    scale = placed.text_px / TEXT_PX_AT_SCALE_1
    x, y, width, height = placed.x, placed.y, placed.width, placed.height
    panel = image[y:y + height, x:x + width]
    panel[:] = (panel * (1 - PANEL_OPACITY)).astype(np.uint8)
    for text in placed.texts:
        cv2.putText(image, text.text, (text.x, text.baseline), FONT, scale * text.size, text.colour,
                    _thickness(scale, text.size), cv2.LINE_AA)
    for bar in placed.bars:
        bottom = bar.y + bar.height - 1  # (cv2.rectangle's corners are inclusive)
        cv2.rectangle(image, (bar.x, bar.y), (bar.x + bar.width - 1, bottom), BAR_BACKGROUND, -1)
        cv2.rectangle(image, (bar.x, bar.y), (bar.x + round(bar.width * bar.fraction) - 1, bottom), bar.colour, -1)
    cv2.rectangle(image, (x, y), (x + width - 1, y + height - 1), placed.colour, max(1, _thickness(scale, 1.0) // 2))


def annotate(image: np.ndarray, result: FrameResult, designs: list[str] | None = None, *,
             landmarks: bool = False, privacy: bool = False, text_scale: float | None = None) -> np.ndarray:
    """A copy of `image` with every face of `result` drawn; designs picks which predictions to show."""
    out = image.copy()
    detections = result.detections
    if privacy:
        blur_faces(out, detections.boxes)
    shown = [d for d in (designs or list(result.predictions)) if d in result.predictions]
    scale = text_scale or max(0.45, image.shape[0] / 1080 * 0.9)
    boxes = [tuple(int(round(v)) for v in box) for box in detections.boxes]
    labels = [face_label(result.predictions, i, shown) if shown else None for i in range(len(boxes))]
    for (x1, y1, x2, y2), label, points in zip(boxes, labels, detections.landmarks):
        cv2.rectangle(out, (x1, y1), (x2, y2), label.colour if label else OTHER_DESIGN_COLOUR, max(1, round(scale * 2)))
        if landmarks:
            for px, py in points:
                cv2.circle(out, (int(px), int(py)), max(1, round(scale * 2)), (0, 255, 0), -1)
    for placed in place_labels(labels, boxes, TEXT_PX_AT_SCALE_1 * scale, _measure, (0, 0, out.shape[1], out.shape[0])):
        if placed:
            _paint(out, placed)
    return out
