"""annotate(image, result) -> image: boxes, age bucket, expected age, gender and a confidence bar.

Pure OpenCV on arrays, no Qt, so the window, recordings and `agegender process` draw alike and tests
can check pixels.
"""
from __future__ import annotations

import cv2
import numpy as np

from app.pipeline import FrameResult

# BGR colours, one per design, so compare mode tells them apart.
DESIGN_COLOURS = {"multitask": (0, 165, 255), "single": (230, 190, 40)}
DESIGN_TAGS = {"multitask": "MT", "single": "ST"}
FONT = cv2.FONT_HERSHEY_SIMPLEX


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


def _label_block(image, x: int, y: int, lines: list[tuple[str, float]], colour, scale: float,
                 confidence: float | None) -> int:
    """Draw lines of (text, relative size) on a dark panel from (x, y) downwards; returns the bottom y."""
    thickness = max(1, round(scale * 1.6))
    sizes = [cv2.getTextSize(text, FONT, scale * rel, thickness)[0] for text, rel in lines]
    pad = max(2, round(4 * scale))
    bar_height = max(3, round(6 * scale)) if confidence is not None else 0
    width = max(w for w, _ in sizes) + 2 * pad
    height = sum(h + pad for _, h in sizes) + pad + (bar_height + pad if bar_height else 0)
    x = int(np.clip(x, 0, max(0, image.shape[1] - width)))
    y = int(np.clip(y, 0, max(0, image.shape[0] - height)))
    panel = image[y:y + height, x:x + width]
    panel[:] = (panel * 0.35).astype(np.uint8)
    cursor = y + pad
    for (text, rel), (_, h) in zip(lines, sizes):
        cursor += h
        cv2.putText(image, text, (x + pad, cursor), FONT, scale * rel, (255, 255, 255), thickness, cv2.LINE_AA)
        cursor += pad
    if bar_height:
        bar_width = width - 2 * pad
        cv2.rectangle(image, (x + pad, cursor), (x + pad + bar_width, cursor + bar_height), (90, 90, 90), -1)
        cv2.rectangle(image, (x + pad, cursor), (x + pad + int(bar_width * confidence), cursor + bar_height),
                      colour, -1)
        cursor += bar_height + pad
    cv2.rectangle(image, (x, y), (x + width - 1, y + height - 1), colour, max(1, thickness // 2))
    return y + height


def annotate(image: np.ndarray, result: FrameResult, designs: list[str] | None = None, *,
             landmarks: bool = False, privacy: bool = False, text_scale: float | None = None) -> np.ndarray:
    """A copy of `image` with every face of `result` drawn; designs picks which predictions to show."""
    out = image.copy()
    detections = result.detections
    if privacy:
        blur_faces(out, detections.boxes)
    shown = [d for d in (designs or list(result.predictions)) if d in result.predictions]
    scale = text_scale or max(0.45, image.shape[0] / 1080 * 0.9)
    tagged = len(shown) > 1
    for i in range(len(detections)):
        x1, y1, x2, y2 = (int(round(v)) for v in detections.boxes[i])
        box_colour = DESIGN_COLOURS.get(shown[0], (0, 255, 0)) if len(shown) == 1 else (255, 255, 255)
        cv2.rectangle(out, (x1, y1), (x2, y2), box_colour, max(1, round(scale * 2)))
        if landmarks:
            for px, py in detections.landmarks[i]:
                cv2.circle(out, (int(px), int(py)), max(1, round(scale * 2)), (0, 255, 0), -1)
        y = y2 + 2
        for name in shown:
            prediction = result.predictions[name]
            p_female = float(prediction.p_female[i])
            gender = prediction.gender_labels[int(p_female > 0.5)]
            confidence = max(p_female, 1 - p_female)
            bucket = prediction.scheme.labels[int(prediction.bucket_probs[i].argmax())]
            tag = f"{DESIGN_TAGS.get(name, name)} " if tagged else ""
            lines = [(f"{tag}{bucket}  ({prediction.expected_age[i]:.0f} y)", 1.0),
                     (f"{gender} {confidence:.0%}", 0.8)]
            y = _label_block(out, x1, y, lines, DESIGN_COLOURS.get(name, (0, 255, 0)), scale, confidence) + 2
    return out
