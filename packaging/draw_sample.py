"""Draws assets/sample.jpg, the picture the README's first command runs on: two faces drawn here from
ellipses and lines (no photograph: nobody's likeness, and no rights but this project's), shaded and
softened enough for the detector to take them for faces. python packaging/draw_sample.py"""
from pathlib import Path

import cv2
import numpy as np

TARGET = Path(__file__).resolve().parent.parent / "assets" / "sample.jpg"


def draw_face(image: np.ndarray, cx: int, cy: int, s: int, skin: tuple, hair: tuple, shirt: tuple) -> None:
    """A head of height about 2*s centred at (cx, cy), with hair, neck and shoulders; colours in BGR."""
    def at(dx: float, dy: float) -> tuple[int, int]:
        return int(cx + dx * s), int(cy + dy * s)

    def size(w: float, h: float) -> tuple[int, int]:
        return int(w * s), int(h * s)

    shadow = tuple(c * 0.75 for c in skin)
    cv2.ellipse(image, at(0, 1.9), size(1.6, 0.9), 0, 180, 360, shirt, -1)
    cv2.rectangle(image, at(-0.35, 0.6), at(0.35, 1.3), tuple(c * 0.85 for c in skin), -1)
    cv2.ellipse(image, at(0, -0.15), size(0.95, 1.15), 0, 0, 360, hair, -1)
    # the face, darker towards its edge
    ys, xs = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    distance = ((xs - cx) / (0.78 * s)) ** 2 + ((ys - cy) / (1.02 * s)) ** 2
    inside = distance <= 1
    image[inside] = np.outer(1 - 0.35 * distance[inside], skin)
    cv2.ellipse(image, at(0, -0.75), size(0.8, 0.4), 0, 180, 360, hair, -1)
    line = max(2, int(0.04 * s))
    for side in (-1, 1):
        eye = at(side * 0.33, -0.12)
        cv2.ellipse(image, eye, size(0.2, 0.11), 0, 0, 360, shadow, -1)
        cv2.ellipse(image, eye, size(0.15, 0.065), 0, 0, 360, (235, 235, 235), -1)
        cv2.circle(image, eye, int(0.065 * s), (60, 80, 90), -1)
        cv2.circle(image, eye, int(0.03 * s), (10, 10, 10), -1)
        cv2.ellipse(image, eye, size(0.15, 0.065), 0, 180, 360, (30, 30, 40), line // 2)
        cv2.ellipse(image, at(side * 0.33, -0.28), size(0.17, 0.05), 0, 190, 350, hair, line)
        cv2.circle(image, at(side * 0.07, 0.22), int(0.03 * s), tuple(c * 0.55 for c in skin), -1)
    cv2.line(image, at(0.03, -0.05), at(0.07, 0.22), shadow, line // 2 + 1)
    cv2.ellipse(image, at(0, 0.5), size(0.24, 0.07), 0, 0, 360, (80, 80, 170), -1)
    cv2.line(image, at(-0.24, 0.5), at(0.24, 0.5), (50, 40, 100), line // 2)


def main() -> None:
    image = np.full((400, 640, 3), (200, 210, 215), np.float32)
    draw_face(image, 170, 180, 90, skin=(150, 180, 220), hair=(40, 50, 70), shirt=(90, 60, 40))
    draw_face(image, 470, 190, 80, skin=(120, 150, 190), hair=(20, 20, 25), shirt=(60, 90, 50))
    image = cv2.GaussianBlur(image, (0, 0), 1.0) + np.random.default_rng(0).normal(0, 4, image.shape)
    cv2.imwrite(str(TARGET), np.clip(image, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 90])


if __name__ == "__main__":
    main()
