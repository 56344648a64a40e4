"""annotate(image, result) -> image: boxes, age bucket, expected age, gender and a confidence bar.

Pure OpenCV on arrays, no Qt, so the window, recordings and `agegender process` draw alike and tests
can check pixels.
"""
from __future__ import annotations

import cv2
import numpy as np

from agegender.frames import FrameResult
from agegender.vision.designs import Predictions

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


Line = list[tuple[str, float]]  # text segments on one baseline, each with its size relative to `scale`


def _measure(lines: list[Line], scale: float, thickness: int, pad: int, bar: int) -> tuple[int, int, list]:
    rows = []
    for segments in lines:
        sizes = [cv2.getTextSize(text, FONT, scale * rel, thickness)[0] for text, rel in segments]
        rows.append((sum(w for w, _ in sizes) + pad * (len(sizes) - 1), max(h for _, h in sizes)))
    width = max(w for w, _ in rows) + 2 * pad
    height = sum(h + pad for _, h in rows) + pad + (bar + pad if bar else 0)
    return width, height, rows


def _free_spot(x: int, y: int, width: int, height: int, taken: list, image_shape, above: int) -> tuple[int, int]:
    """Below the face if free, else above it, else further down or up, else beside: labels do not cover
    each other. In a crowd where nothing is free, the place that covers the least."""
    max_x, max_y = max(0, image_shape[1] - width), max(0, image_shape[0] - height)

    def clear(px, py):  # stops at the first face or label in the way
        return all(px + width <= a or px >= c or py + height <= b or py >= d for a, b, c, d in taken)

    def overlap(px, py):
        return sum(max(0, min(px + width, c) - max(px, a)) * max(0, min(py + height, d) - max(py, b))
                   for a, b, c, d in taken)
    steps = [k * height // 2 for k in range(1, 12)]
    candidates = [(x, y), (x, above - height)] + [(x, y + s) for s in steps] + [(x, above - height - s) for s in steps]
    candidates += [(x + dx, cy) for dx in (width, -width) for _, cy in candidates[:4]]
    spots = [(min(max(int(cx), 0), max_x), min(max(int(cy), 0), max_y)) for cx, cy in candidates]
    for spot in spots:
        if clear(*spot):
            return spot
    return min(spots, key=lambda spot: overlap(*spot))


def _label_block(image, x: int, y: int, above: int, lines: list[Line], colour, scale: float,
                 confidence: float | None, taken: list) -> None:
    thickness = max(1, round(scale * 1.6))
    pad = max(2, round(4 * scale))
    bar = max(3, round(6 * scale)) if confidence is not None else 0
    width, height, rows = _measure(lines, scale, thickness, pad, bar)
    x, y = _free_spot(x, y, width, height, taken, image.shape, above)
    taken.append((x, y, x + width, y + height))
    panel = image[y:y + height, x:x + width]
    panel[:] = (panel * 0.35).astype(np.uint8)
    cursor = y + pad
    for segments, (_, row_height) in zip(lines, rows):
        cursor += row_height
        left = x + pad
        for text, rel in segments:
            cv2.putText(image, text, (left, cursor), FONT, scale * rel, (255, 255, 255),
                        max(1, round(thickness * rel)), cv2.LINE_AA)
            left += cv2.getTextSize(text, FONT, scale * rel, thickness)[0][0] + pad
        cursor += pad
    if bar:
        bar_width = width - 2 * pad
        cv2.rectangle(image, (x + pad, cursor), (x + pad + bar_width, cursor + bar), (90, 90, 90), -1)
        cv2.rectangle(image, (x + pad, cursor), (x + pad + int(bar_width * confidence), cursor + bar), colour, -1)
    cv2.rectangle(image, (x, y), (x + width - 1, y + height - 1), colour, max(1, thickness // 2))


SHOWN_CONFIDENCE_AT_MOST = 99  # percent: no estimate from a face is certain, so none reads "100%"


def gender_line(prediction: Predictions, i: int) -> Line:
    """"female 93%" for a sure answer; otherwise "?" with the model's lean in small print, so an unsure
    answer never looks like a confident one. At most 99%."""
    percent = min(SHOWN_CONFIDENCE_AT_MOST, round(100 * float(prediction.gender_confidence[i])))
    answer = f"{prediction.gender_labels[int(prediction.is_female[i])]} {percent}%"
    return [(answer, 0.75)] if prediction.gender_confident[i] else [("?", 0.75), (answer, 0.5)]


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
    taken: list = [tuple(int(v) for v in box) for box in detections.boxes]  # labels keep off faces too
    for i in np.argsort(detections.boxes[:, 1]):
        x1, y1, x2, y2 = (int(round(v)) for v in detections.boxes[i])
        box_colour = DESIGN_COLOURS.get(shown[0], (0, 255, 0)) if len(shown) == 1 else (255, 255, 255)
        cv2.rectangle(out, (x1, y1), (x2, y2), box_colour, max(1, round(scale * 2)))
        if landmarks:
            for px, py in detections.landmarks[i]:
                cv2.circle(out, (int(px), int(py)), max(1, round(scale * 2)), (0, 255, 0), -1)
        for name in shown:
            prediction = result.predictions[name]
            confidence = float(prediction.gender_confidence[i])
            first: Line = ([(DESIGN_TAGS.get(name, name), 0.6)] if tagged else []) + \
                [(prediction.scheme.labels[prediction.bucket_index[i]], 1.0), (f"~{prediction.age_years[i]} y", 0.6)]
            lines = [first, gender_line(prediction, i)]
            _label_block(out, x1, y2 + 2, y1 - 2, lines, DESIGN_COLOURS.get(name, (0, 255, 0)), scale, confidence,
                         taken)
    return out
