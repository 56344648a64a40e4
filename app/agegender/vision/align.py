"""The one definition of face alignment: the 5-point reference template and the similarity warp.

Training (training/crops.py) imports this module, so models see faces cropped exactly as the app
crops them. TEMPLATE_ID goes into every exported model, and the app refuses a model whose template
id differs from this one.
"""
from __future__ import annotations

import cv2
import numpy as np

TEMPLATE_ID = "arcface-5pt-v1"

# Eye centres, nose tip and mouth corners in a 112 x 112 crop: the ArcFace/InsightFace template that
# the pretrained MobileFaceNet trunk was trained with.
TEMPLATE_SIZE = 112
_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                      [41.5493, 92.3655], [70.7299, 92.2041]], np.float32)


def template(size: int) -> np.ndarray:
    """The five reference points for a square crop of `size` pixels."""
    return _TEMPLATE * (size / TEMPLATE_SIZE)


def similarity_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    """2 x 3 matrix taking image points to the template (rotation, uniform scale, translation)."""
    matrix, _ = cv2.estimateAffinePartial2D(np.asarray(landmarks, np.float32), template(size), method=cv2.LMEDS)
    if matrix is None:  # degenerate landmarks (all on one point): fall back to a plain translation
        matrix = np.array([[1, 0, 0], [0, 1, 0]], np.float64)
        matrix[:, 2] = template(size).mean(axis=0) - np.asarray(landmarks, np.float32).mean(axis=0)
    return matrix


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int) -> np.ndarray:
    """Warp one face to a size x size crop. Parts outside the image are filled by replicating its edge,
    so faces at the border are kept, not dropped."""
    return cv2.warpAffine(image, similarity_matrix(landmarks, size), (size, size),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def align_faces(image: np.ndarray, landmarks: np.ndarray, size: int) -> np.ndarray:
    """Crops for all faces of a frame, as one uint8 batch (N, size, size, channels)."""
    if len(landmarks) == 0:
        return np.zeros((0, size, size) + image.shape[2:], np.uint8)
    return np.stack([align_face(image, points, size) for points in landmarks])
