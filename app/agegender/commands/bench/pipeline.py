"""Classifier speed per batch, end-to-end FPS with and without tracking mode, and label flicker with
and without per-track smoothing, on the shared crowd video."""
from __future__ import annotations

import time

import numpy as np

from agegender.commands.bench.frames import REPLAY_FPS
from agegender.frames import Frame
from agegender.config import Settings
from agegender.vision.align import align_faces
from agegender.vision.pipeline import Pipeline
from agegender.timing import StageTimes
from agegender.vision.track import Tracker, iou_matrix


def classifier_ms(designs: dict, crops: np.ndarray, sizes=(1, 4, 8, 16), repeats: int = 20) -> dict:
    out = {}
    for name, design in designs.items():
        out[name] = {}
        for size in sizes:
            batch = np.resize(crops, (size,) + crops.shape[1:])  # repeats real crops up to the batch size
            design.predict(batch)
            started = time.perf_counter()
            for _ in range(repeats):
                design.predict(batch)
            out[name][str(size)] = round((time.perf_counter() - started) * 1000 / repeats, 2)
    if {"multitask", "single"} <= set(out):
        out["single_over_multitask"] = {s: round(out["single"][s] / out["multitask"][s], 2) for s in out["multitask"]}
    return out


def real_crops(detector, frames: list[np.ndarray], size: int, wanted: int = 16) -> np.ndarray:
    crops = []
    for image in frames:
        crops.extend(align_faces(image, detector.detect(image).landmarks, size))
        if len(crops) >= wanted:
            break
    return np.stack(crops[:wanted])


def end_to_end(detector, designs: dict, frames: list[np.ndarray], detect_every: int, fps: float,
               results: dict | None = None) -> dict:
    """`results`, where given, gets each frame's FrameResult by frame index."""
    pipeline = Pipeline(detector, designs, tracker=Tracker(), detect_every=detect_every)
    times = StageTimes()
    faces = 0
    started = time.perf_counter()
    for i, image in enumerate(frames):
        result = pipeline.process(Frame(image, i, i / fps))
        times.add_all(result.timings)
        faces += len(result.detections)
        if results is not None:
            results[i] = result
    elapsed = time.perf_counter() - started
    return {"detect_every": detect_every, "fps": round(len(frames) / elapsed, 2),
            "faces_per_frame": round(faces / len(frames), 2),
            "ms_per_stage": {stage: round(times.mean_ms(stage), 2) for stage in times.stages()}}


def live_end_to_end(detector, designs: dict, frames: list[np.ndarray], fps: float,
                    detect_every: int = Settings().detect_every, classify_budget: int = 4,
                    results: dict | None = None) -> dict:
    """The live view's pipeline (full sweep beside the frame path, classification budget) fed at the
    source's pace, newest frame winning as from a camera: how many of the source's frames it keeps up
    with, the faces it reports per frame, the sweep interval it chose (detect_every 0: auto) and the
    frame path's own cost per stage. `results`, where given, gets the FrameResult of each frame handled."""
    budget = Settings(classify_budget=classify_budget).classify_budget  # checked as the window's setting is
    pipeline = Pipeline(detector, designs, tracker=Tracker(), detect_every=detect_every, live=True,
                        classify_budget=budget)
    times = StageTimes()
    processed, faces, classified = 0, 0, 0
    started = time.perf_counter()
    i = 0
    while i < len(frames):
        due = started + i / fps
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        result = pipeline.process(Frame(frames[i], i, i / fps, captured_at=time.monotonic()))
        times.add_all(result.timings)
        processed += 1
        faces += len(result.detections)
        classified += len(result.classified)
        if results is not None:
            results[i] = result
        i = max(i + 1, int((time.perf_counter() - started) * fps))  # frames that came meanwhile are skipped
    elapsed = time.perf_counter() - started
    pipeline.close()
    return {"detect_every": detect_every, "sweep_interval": pipeline.sweep_interval,
            "sweep_ms": round(1000 * pipeline.pace.sweep_seconds, 1) if pipeline.pace.sweep_seconds else None,
            "classify_budget": budget, "source_fps": fps,
            "fps": round(processed / elapsed, 2), "frames_kept_up": round(processed / len(frames), 3),
            "faces_per_frame": round(faces / processed, 2), "crops_per_frame": round(classified / processed, 2),
            "ms_per_stage": {stage: round(times.mean_ms(stage), 2) for stage in times.stages()}}


NEW_FACE_MIN_FRAMES = 10  # a face followed this long by detection on every frame: someone, not a glimpse


def first_labels(every_frame: dict, live: dict, fps: float) -> dict:
    """How soon the live view labels a face that comes into the picture: for each track of detection on
    every frame (`every_frame`: frame index -> FrameResult, with track ids) that starts after the first
    frame and lasts NEW_FACE_MIN_FRAMES, the time from its first frame to the first frame the live view
    handled (`live`) with a face on it (IoU > 0.3; every face the live view reports carries a label)."""
    first_frame, frames_seen = {}, {}
    for index in sorted(every_frame):
        for track_id in every_frame[index].track_ids:
            first_frame.setdefault(int(track_id), index)
            frames_seen[int(track_id)] = frames_seen.get(int(track_id), 0) + 1
    delays_ms, never = [], 0
    for track_id, start in first_frame.items():
        if start == min(every_frame) or frames_seen[track_id] < NEW_FACE_MIN_FRAMES:
            continue
        for index in sorted(i for i in live if i >= start):
            reference = every_frame[index]
            own = reference.detections.boxes[reference.track_ids == track_id]
            if len(own) and len(live[index].detections) and iou_matrix(own, live[index].detections.boxes).max() > 0.3:
                delays_ms.append(1000 * (index - start) / fps)
                break
        else:
            never += 1
    delays = np.array(delays_ms)
    return {"new_faces": len(delays_ms) + never, "never_labelled": never,
            "median_ms": round(float(np.median(delays)), 1) if len(delays) else None,
            "max_ms": round(float(delays.max()), 1) if len(delays) else None,
            "within_200_ms": round(float((delays <= 200).mean()), 3) if len(delays) else None}


def flicker(detector, design, frames: list[np.ndarray], fps: float) -> dict:
    """Age-bucket changes per track-second, raw per-frame labels against the app's smoothing, on the
    same detections and track ids (detection on every frame)."""
    pipeline = Pipeline(detector, {"multitask": design}, tracker=Tracker(), smoothing=False)
    smoother = Tracker()
    last = {"raw": {}, "smoothed": {}}
    changes = {"raw": 0, "smoothed": 0}
    frames_seen = 0
    for i, image in enumerate(frames):
        result = pipeline.process(Frame(image, i, i / fps))
        ids = smoother.update(result.detections.boxes, result.detections.landmarks)
        raw = result.predictions["multitask"]
        labels = {"raw": raw.bucket_labels, "smoothed": smoother.smooth(ids, "multitask", raw).bucket_labels}
        frames_seen += len(ids)
        for kind in changes:
            for track_id, label in zip(ids, labels[kind]):
                previous = last[kind].get(int(track_id))
                changes[kind] += previous is not None and previous != label
                last[kind][int(track_id)] = label
    track_seconds = frames_seen / fps
    per_second = {k: round(v / track_seconds, 3) for k, v in changes.items()}
    return {"track_seconds": round(track_seconds, 1), "changes_per_track_second": per_second,
            "reduction": round(per_second["raw"] / per_second["smoothed"], 2) if per_second["smoothed"] else None}


def live_latency(detector, designs: dict, video, seconds: float = 8.0, detect_every: int = Settings().detect_every,
                 height: int = 720) -> dict:
    """Capture-to-result latency through the app's capture thread (newest frame wins) and the live view's
    pipeline (full sweep beside the frame path, classification budget).
    Frames are downscaled to `height` on the capture side, as a 720p camera would deliver them."""
    from agegender.sources.live import FrameGrabber, PacedReplay

    grabber = FrameGrabber(str(video), open_fn=lambda spec: PacedReplay(spec, fps=REPLAY_FPS, height=height))
    pipeline = Pipeline(detector, designs, tracker=Tracker(), detect_every=detect_every, live=True,
                        classify_budget=Settings().classify_budget)  # the window's pipeline
    grabber.start()
    latencies, last_index, skipped = [], None, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        frame = grabber.take(timeout=0.5)
        if frame is None:
            continue
        pipeline.process(frame)
        latencies.append((time.monotonic() - frame.captured_at) * 1000)
        if last_index is not None and frame.index > last_index + 1:
            skipped += frame.index - last_index - 1
        last_index = frame.index
    grabber.stop()
    grabber.join(2)
    pipeline.close()
    # after warm-up, where there was time for more; a machine too busy for any result gets None, not a figure
    latencies = np.array(latencies[5:] if len(latencies) > 10 else latencies)
    return {"detect_every": detect_every, "frames_shown": int(len(latencies)), "frames_skipped": skipped,
            "p50_ms": round(float(np.percentile(latencies, 50)), 1) if len(latencies) else None,
            "p95_ms": round(float(np.percentile(latencies, 95)), 1) if len(latencies) else None,
            "seconds": seconds}
