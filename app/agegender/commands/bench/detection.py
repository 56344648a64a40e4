"""Detection speed, recall and landmarks: our ONNX MTCNN against facenet-pytorch's MTCNN on the same frames.

    python -m agegender.commands.bench.detection [--heights 360 720 1080] [--frames 8] [--min-face 20]
                                                 [--detector fast|reference]

`rows` are for the chosen detector preset (the default, "fast"), `other_presets` holds the same rows
for the other preset ("reference": facenet-pytorch's own settings). The recall gate the "fast" preset
is held to (tests/test_detect_recall.py) is `gate()` below.
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
from agegender.vision.runtime import CPU, OPENVINO, openvino_available
from agegender.vision.detect import DEFAULT_PRESET, PRESETS, Detections, DetectorSettings, MtcnnDetector
from agegender.vision.track import iou_matrix

MATCH_IOU = 0.5  # a reference face counts as found when one of our boxes overlaps it this much
RECALL_GATE = 0.98  # share of the reference's faces a preset must find
LANDMARK_GATE_PX = 3.0  # mean landmark distance over the matched faces, in image pixels


def best_matches(ours: np.ndarray, theirs: np.ndarray, threshold: float = MATCH_IOU) -> tuple[np.ndarray, np.ndarray]:
    """For each reference box: the index of our box that overlaps it most, and whether that IoU >= threshold."""
    if not len(theirs) or not len(ours):
        return np.zeros(len(theirs), np.int64), np.zeros(len(theirs), bool)
    overlaps = iou_matrix(theirs[:, :4], ours[:, :4])
    return overlaps.argmax(axis=1), overlaps.max(axis=1) >= threshold


def recall(found: list[np.ndarray], reference: list[np.ndarray], threshold: float = MATCH_IOU) -> float:
    """Share of the reference's boxes (all frames) that one of ours overlaps with IoU >= threshold."""
    hits = sum(int(best_matches(ours, theirs, threshold)[1].sum()) for ours, theirs in zip(found, reference))
    total = sum(len(theirs) for theirs in reference)
    return hits / total if total else 1.0


def landmark_distances(found: list[Detections], reference: list[Detections],
                       threshold: float = MATCH_IOU) -> np.ndarray:
    """One figure per matched reference face: the mean, over the five landmarks, of the Euclidean distance
    in image pixels between the reference's point and the point of our best-overlapping face."""
    distances = []
    for ours, theirs in zip(found, reference):
        best, matched = best_matches(ours.boxes, theirs.boxes, threshold)
        for i in np.nonzero(matched)[0]:
            distances.append(np.linalg.norm(ours.landmarks[best[i]] - theirs.landmarks[i], axis=1).mean())
    return np.asarray(distances, np.float64)


def gate(found: list[Detections], reference: list[Detections]) -> dict:
    """The recall gate: at least RECALL_GATE of the reference's faces found (IoU >= MATCH_IOU), and the
    matched faces' landmarks within LANDMARK_GATE_PX on average (landmark_distances). The 95th percentile
    is reported beside the mean: in pixels it is set by the largest faces, where a few pixels are a few
    per cent of the face."""
    distances = landmark_distances(found, reference)
    result = {"recall": round(recall([f.boxes for f in found], [r.boxes for r in reference]), 4),
              "faces": sum(len(r) for r in reference),
              "landmark_px_mean": round(float(distances.mean()), 2) if len(distances) else 0.0,
              "landmark_px_p95": round(float(np.percentile(distances, 95)), 2) if len(distances) else 0.0}
    result["passed"] = result["recall"] >= RECALL_GATE and result["landmark_px_mean"] <= LANDMARK_GATE_PX
    return result


def _time_per_frame(detectors: dict, frames: list[np.ndarray], repeats: int) -> tuple[dict, dict]:
    """ms per frame and the last results of each detector; the detectors take turns, so that a change in
    the machine's load during the run falls on all of them alike."""
    results = {name: [detect(f) for f in frames[:2]] for name, detect in detectors.items()}  # warm-up
    spent = dict.fromkeys(detectors, 0.0)
    for _ in range(repeats):
        for name, detect in detectors.items():
            started = time.perf_counter()
            results[name] = [detect(f) for f in frames]
            spent[name] += time.perf_counter() - started
    return {name: s * 1000 / (repeats * len(frames)) for name, s in spent.items()}, results


def _facenet(detector):
    def detect(rgb: np.ndarray) -> Detections:
        boxes, scores, points = detector.detect(rgb, landmarks=True)
        if boxes is None:
            return Detections()
        return Detections(boxes.astype(np.float32), scores.astype(np.float32), points.astype(np.float32))
    return detect


def run(heights=(360, 720, 1080), frames_per_height: int = 8, min_face: int = 20, repeats: int = 2,
        media=DEFAULT_MEDIA, detector: str = DEFAULT_PRESET) -> dict:
    video = crowd_video(media)
    presets = [detector] + [name for name in PRESETS if name != detector]
    ours = {name: MtcnnDetector(DetectorSettings.preset(name, min_face)) for name in presets}
    # the chosen preset on each runtime there is, timed in the same rounds (docs/performance.md)
    runtimes = {"onnxruntime": [CPU]} | ({"openvino": [OPENVINO]} if openvino_available() else {})
    on_runtime = {f"runtime:{name}": MtcnnDetector(DetectorSettings.preset(detector, min_face), providers=providers)
                  for name, providers in runtimes.items()}
    reference = None
    if reference_available():
        reference = reference_detector(min_face)
    else:
        print(f"bench: facenet-pytorch is not installed, so the detector is timed without its reference "
              f"(for the speed-up and recall columns: {INSTALL_HINT})", file=sys.stderr)
    rows = {name: [] for name in [*presets, *on_runtime]}
    for height in heights:
        frames = read_frames(video, height, every=105 // frames_per_height, limit=frames_per_height)
        rgb = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames]
        detectors = {name: d.detect_rgb for name, d in (ours | on_runtime).items()}
        if reference is not None:
            detectors["facenet-pytorch"] = _facenet(reference)
        ms, found = _time_per_frame(detectors, rgb, repeats)
        for name in rows:
            row = {"height": height, "width": frames[0].shape[1], "frames": len(frames),
                   "ours_ms": round(ms[name], 1),
                   "faces_per_frame": round(sum(len(d) for d in found[name]) / len(frames), 2)}
            if reference is not None:
                checked = gate(found[name], found["facenet-pytorch"])
                row.update(reference_ms=round(ms["facenet-pytorch"], 1),
                           speedup=round(ms["facenet-pytorch"] / ms[name], 2),
                           recall_vs_reference=checked["recall"], landmark_px_mean=checked["landmark_px_mean"],
                           landmark_px_p95=checked["landmark_px_p95"])
            rows[name].append(row)
    return {"min_face": min_face, "provider": ours[detector].provider,
            "reference": "facenet-pytorch MTCNN" if reference else None, "detector": detector,
            "rows": rows[detector], "other_presets": {name: rows[name] for name in presets[1:]},
            "backends": {name.split(":")[1]: rows[name] for name in on_runtime}}


def print_table(report: dict) -> None:
    with_reference = report["reference"] is not None
    print(f"Detection, min face {report['min_face']}, {report['provider']}"
          + (f"; against {report['reference']}" if with_reference else "; no reference installed"))
    sections = {f'detector = "{report.get("detector", DEFAULT_PRESET)}"': report["rows"],
                **{f'detector = "{name}"': rows for name, rows in report.get("other_presets", {}).items()},
                **{f'backend = "{name}"': rows for name, rows in report.get("backends", {}).items()}}
    for title, rows in sections.items():
        print(title)
        print(f"{'size':>10} {'ours ms':>8}"
              + (f" {'ref ms':>8} {'speed-up':>9} {'recall':>7} {'lm px':>6} {'lm p95':>6}" if with_reference else "")
              + f" {'faces':>6}")
        for r in rows:
            compared = (f" {r['reference_ms']:>8.1f} {r['speedup']:>8.2f}x {r['recall_vs_reference']:>7.3f}"
                        f" {r['landmark_px_mean']:>6.2f} {r['landmark_px_p95']:>6.2f}" if with_reference else "")
            print(f"{r['width']:>5}x{r['height']:<4} {r['ours_ms']:>8.1f}{compared} {r['faces_per_frame']:>6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heights", type=int, nargs="+", default=[360, 720, 1080])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--min-face", type=int, default=20)
    parser.add_argument("--detector", choices=list(PRESETS), default=DEFAULT_PRESET)
    parser.add_argument("--media", default=DEFAULT_MEDIA)
    parser.add_argument("--json")
    args = parser.parse_args()
    report = run(args.heights, args.frames, args.min_face, media=args.media, detector=args.detector)
    print_table(report)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
