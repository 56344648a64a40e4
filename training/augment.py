"""Augmentation that imitates a webcam: mirror, small rotation, scale and shift, brightness and
contrast, blur, and JPEG compression. Works on uint8 RGB crops, one at a time, with OpenCV."""
from __future__ import annotations

import cv2
import numpy as np


def augment(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    size = crop.shape[0]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    angle = rng.uniform(-10, 10)
    scale = rng.uniform(0.92, 1.08)
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    matrix[:, 2] += rng.uniform(-0.04, 0.04, 2) * size
    crop = cv2.warpAffine(np.ascontiguousarray(crop), matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.8:
        contrast = rng.uniform(0.7, 1.3)
        brightness = rng.uniform(-30, 30)
        crop = cv2.convertScaleAbs(crop, alpha=contrast, beta=brightness + 128 * (1 - contrast))
    if rng.random() < 0.2:
        crop = cv2.GaussianBlur(crop, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.3:
        ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        crop = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return crop
