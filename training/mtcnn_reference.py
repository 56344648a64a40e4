"""facenet-pytorch's own MTCNN, as the reference our ONNX detector is held to.

    python -m training.mtcnn_reference            # regenerate tests/data/mtcnn_reference.json

The reference detector itself (with the torchvision stand-in facenet-pytorch needs) is the bench's:
agegender.commands.bench.reference.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from agegender.commands.bench.reference import reference_detector

ROOT = Path(__file__).resolve().parent.parent
SHARED_MEDIA = ROOT.parent / "shared" / "media"
REFERENCE_JSON = ROOT / "tests" / "data" / "mtcnn_reference.json"

# The inputs of the parity and recall tests (tests/test_detect_parity.py, tests/test_detect_recall.py): the
# shared photos, and frames of the crowd video: the eight `agegender bench` detects (every 13th) at 360p,
# 720p and 1080p, and the last frame at 720p.
PARITY_PHOTOS = ["group.jpg", "portrait-angelina_jolie.jpg", "portrait-kate_siegel.jpg",
                 "portrait-paul_rudd.jpg", "portrait-shea_whigham.jpg"]
PARITY_VIDEO = "crowd-1080p.mp4"
PARITY_FRAMES = [(index, height) for height in (360, 720, 1080) for index in range(0, 104, 13)] + [(104, 720)]


def parity_inputs(media_dir: Path = SHARED_MEDIA) -> dict[str, np.ndarray]:
    """name -> RGB uint8 image, decoded and resized with OpenCV exactly as the app would."""
    images = {}
    for name in PARITY_PHOTOS:
        bgr = cv2.imread(str(media_dir / name), cv2.IMREAD_COLOR)
        images[name] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    capture = cv2.VideoCapture(str(media_dir / PARITY_VIDEO))
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        for frame_index, height in PARITY_FRAMES:
            if frame_index == index:
                width = round(frame.shape[1] * height / frame.shape[0])
                resized = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
                images[f"{PARITY_VIDEO}#{frame_index}@{height}p"] = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
        index += 1
    capture.release()
    return images


def detect_reference(detector, rgb: np.ndarray) -> list[dict]:
    boxes, scores, landmarks = detector.detect(rgb, landmarks=True)
    if boxes is None:
        return []
    return [{"box": [round(float(v), 2) for v in box], "score": round(float(score), 5),
             "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in points]}
            for box, score, points in zip(boxes, scores, landmarks)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--media", type=Path, default=SHARED_MEDIA)
    parser.add_argument("--out", type=Path, default=REFERENCE_JSON)
    args = parser.parse_args()
    detector = reference_detector()
    reference = {"generator": "facenet-pytorch MTCNN(min_face_size=20, thresholds=[0.6, 0.7, 0.7], factor=0.709)",
                 "images": {}}
    for name, rgb in parity_inputs(args.media).items():
        faces = detect_reference(detector, rgb)
        reference["images"][name] = {"size": [rgb.shape[1], rgb.shape[0]], "faces": faces}
        print(f"{name}: {len(faces)} faces")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(reference, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
