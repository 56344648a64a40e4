"""Detection speed and recall: our ONNX MTCNN against facenet-pytorch's MTCNN on the same frames.

    python -m agegender.commands.bench.detection [--heights 360 720 1080] [--frames 8] [--min-face 20]
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import cv2
import numpy as np

from agegender.commands.bench.frames import DEFAULT_MEDIA, crowd_video, read_frames
from agegender.commands.bench.reference import INSTALL_HINT, reference_available, reference_detector
from agegender.vision.detect import DetectorSettings, MtcnnDetector
from agegender.vision.track import iou_matrix


def recall(found: list[np.ndarray], reference: list[np.ndarray], threshold: float = 0.5) -> float:
    hits = total = 0
    for ours, theirs in zip(found, reference):
        total += len(theirs)
        if len(theirs) and len(ours):
            hits += int((iou_matrix(theirs, ours).max(axis=1) >= threshold).sum())
    return hits / total if total else 1.0


def _time_per_frame(detect, frames: list[np.ndarray], repeats: int) -> tuple[float, list]:
    results = [detect(f) for f in frames[:2]]  # warm-up: first calls allocate
    started = time.perf_counter()
    for _ in range(repeats):
        results = [detect(f) for f in frames]
    return (time.perf_counter() - started) * 1000 / (repeats * len(frames)), results


def run(heights=(360, 720, 1080), frames_per_height: int = 8, min_face: int = 20, repeats: int = 2,
        media=DEFAULT_MEDIA) -> dict:
    video = crowd_video(media)
    ours = MtcnnDetector(DetectorSettings(min_face=min_face))
    reference = None
    if reference_available():
        reference = reference_detector(min_face)
    else:
        print(f"bench: facenet-pytorch is not installed, so the detector is timed without its reference "
              f"(for the speed-up and recall columns: {INSTALL_HINT})", file=sys.stderr)
    rows = []
    for height in heights:
        frames = read_frames(video, height, every=105 // frames_per_height, limit=frames_per_height)
        rgb = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames]
        ours_ms, ours_found = _time_per_frame(lambda f: ours.detect_rgb(f).boxes, rgb, repeats)
        row = {"height": height, "width": frames[0].shape[1], "frames": len(frames), "ours_ms": round(ours_ms, 1),
               "faces_per_frame": round(sum(len(b) for b in ours_found) / len(frames), 2)}
        if reference is not None:
            def detect_reference(f):
                boxes = reference.detect(f)[0]
                return np.zeros((0, 4)) if boxes is None else boxes
            ref_ms, ref_found = _time_per_frame(detect_reference, rgb, repeats)
            row.update(reference_ms=round(ref_ms, 1), speedup=round(ref_ms / ours_ms, 2),
                       recall_vs_reference=round(recall(ours_found, ref_found), 4))
        rows.append(row)
    return {"min_face": min_face, "provider": ours.provider, "reference": "facenet-pytorch MTCNN" if reference else None,
            "rows": rows}


def print_table(report: dict) -> None:
    with_reference = report["reference"] is not None
    print(f"Detection, min face {report['min_face']}, {report['provider']}"
          + (f"; against {report['reference']}" if with_reference else "; no reference installed"))
    print(f"{'size':>10} {'ours ms':>8}" + (f" {'ref ms':>8} {'speed-up':>9} {'recall':>7}" if with_reference else "")
          + f" {'faces':>6}")
    for r in report["rows"]:
        compared = (f" {r['reference_ms']:>8.1f} {r['speedup']:>8.2f}x {r['recall_vs_reference']:>7.3f}"
                    if with_reference else "")
        print(f"{r['width']:>5}x{r['height']:<4} {r['ours_ms']:>8.1f}{compared} {r['faces_per_frame']:>6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heights", type=int, nargs="+", default=[360, 720, 1080])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--min-face", type=int, default=20)
    parser.add_argument("--media", default=DEFAULT_MEDIA)
    parser.add_argument("--json")
    args = parser.parse_args()
    report = run(args.heights, args.frames, args.min_face, media=args.media)
    print_table(report)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
