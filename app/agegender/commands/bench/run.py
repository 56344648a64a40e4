"""`agegender bench`: detection against facenet-pytorch, classifiers, end-to-end FPS, flicker, the
window on a paced 720p replay (frames painted, results, capture-to-paint latency), memory.

Prints a table and, with --json, writes the same figures to a file.
"""
from __future__ import annotations

import json
import platform
import resource

from agegender.vision.sweep import TRACKING_MODE_EVERY
from agegender.vision.designs import load_design
from agegender.vision.detect import MtcnnDetector
from agegender.paths import MODELS_DIR
from agegender.commands.bench import detection, pipeline, window
from agegender.commands.bench.frames import DEFAULT_MEDIA, REPLAY_FPS, crowd_video, read_frames


def run(media=DEFAULT_MEDIA, models=MODELS_DIR, detection_frames: int = 8, quick: bool = False) -> dict:
    video = crowd_video(media)
    report = {"machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
              "detection": detection.run(heights=(720,) if quick else (360, 720, 1080),
                                         frames_per_height=2 if quick else detection_frames, media=media,
                                         repeats=1 if quick else 2)}
    detector = MtcnnDetector()
    report["provider"] = detector.provider
    designs = {}
    for name in ("multitask", "single"):
        try:
            designs[name] = load_design(name, models)
        except Exception as exc:
            report.setdefault("skipped", []).append(f"{name}: {exc}")
    frames = read_frames(video, 720, limit=12 if quick else None)
    fps = REPLAY_FPS
    if designs:
        crops = pipeline.real_crops(detector, frames, next(iter(designs.values())).input_size)
        timed = dict(designs)
        if "multitask" in designs and designs["multitask"].precision != "fp32":  # what INT8 gains, in the same run
            timed["multitask_fp32"] = load_design("multitask", models, precision="fp32")
        report["classifier_ms_per_batch"] = pipeline.classifier_ms(timed, crops, repeats=3 if quick else 20)
        report["classifier_precision"] = {name: design.precision for name, design in designs.items()}
        main = {"multitask": designs["multitask"]} if "multitask" in designs else dict([next(iter(designs.items()))])
        every_frame, live = {}, {}
        report["end_to_end_720p"] = {"every_frame": pipeline.end_to_end(detector, main, frames, 1, fps, every_frame),
                                     "tracking_mode": pipeline.end_to_end(detector, main, frames, TRACKING_MODE_EVERY, fps),
                                     "live_view": pipeline.live_end_to_end(detector, main, frames, fps, results=live)}
        report["live_view_first_label"] = pipeline.first_labels(every_frame, live, fps)
        for row in report["end_to_end_720p"].values():
            row["precision"] = next(iter(main.values())).precision
        ends = report["end_to_end_720p"]  # the share of the faces detection on every frame finds that the live view has
        report["live_view_coverage"] = round(ends["live_view"]["faces_per_frame"] / ends["every_frame"]["faces_per_frame"], 3)
        report["flicker"] = pipeline.flicker(detector, next(iter(main.values())), frames, fps)
        report["live_latency_720p"] = pipeline.live_latency(detector, main, video, seconds=3 if quick else 10)
        seconds = 4 if quick else 15
        report["window_replay_720p"] = window.window_replay(video, models, next(iter(main)), seconds)
        if {"multitask", "single"} <= set(designs):
            report["window_replay_720p_compare"] = window.window_replay(video, models, "compare", seconds)
    report["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return report


def print_report(report: dict) -> None:
    detection.print_table(report["detection"])
    print(f"\nExecution provider: {report['provider']}")
    classifier = report.get("classifier_ms_per_batch")
    if classifier:
        precisions = ", ".join(f"{n} {p}" for n, p in report.get("classifier_precision", {}).items())
        print(f"\nClassifier ms per batch of crops ({precisions})")
        for name, row in classifier.items():
            print(f"  {name:>22}: " + "  ".join(f"{size}: {ms}" for size, ms in row.items()))
    for mode, row in report.get("end_to_end_720p", {}).items():
        stages = ", ".join(f"{k} {v}" for k, v in row["ms_per_stage"].items())
        paced = (f" of a {row['source_fps']:g} FPS source ({row['frames_kept_up']:.0%} of its frames, "
                 f"{row['crops_per_frame']} crops classified per frame)"
                 if "source_fps" in row else "")
        every = row["detect_every"] or f"auto: {row['sweep_interval']}, sweeps of {row['sweep_ms']} ms"
        print(f"\nEnd to end, 720p, {mode} (detect every {every}, {row['precision']}): {row['fps']} FPS"
              f"{paced}, {row['faces_per_frame']} faces per frame; ms: {stages}")
    if "live_view_coverage" in report:
        print(f"\nLive view coverage: {report['live_view_coverage']:.0%} of the faces per frame that detection on "
              "every frame finds")
    if report.get("live_view_first_label", {}).get("median_ms") is not None:
        first = report["live_view_first_label"]
        print(f"Faces coming into the picture ({first['new_faces']}): first label after {first['median_ms']} ms "
              f"(median), {first['max_ms']} ms at most, {first['within_200_ms']:.0%} within 200 ms; never labelled: "
              f"{first['never_labelled']}")
    if "flicker" in report:
        f = report["flicker"]
        print(f"\nAge-bucket changes per track-second: raw {f['changes_per_track_second']['raw']}, smoothed "
              f"{f['changes_per_track_second']['smoothed']} ({f['reduction']}x fewer), over {f['track_seconds']} s")
    if "live_latency_720p" in report:
        lat = report["live_latency_720p"]
        if lat["p50_ms"] is None:
            print(f"\nLive capture-to-result latency: not measured, no result came within {lat['seconds']:g} s "
                  "(the machine is too busy); run the bench again on a quieter machine")
        else:
            print(f"\nLive capture-to-result latency, 720p at 25 FPS, the live view's pipeline: p50 {lat['p50_ms']} ms, "
                  f"p95 {lat['p95_ms']} ms ({lat['frames_shown']} frames shown, {lat['frames_skipped']} skipped)")
    for key in ("window_replay_720p", "window_replay_720p_compare"):
        if key in report:
            print(f"\nWindow, 720p replay at 25 FPS, tracking mode, {window.describe(report[key])}")
    print(f"\nPeak memory: {report['peak_memory_mb']} MB")
    for line in report.get("skipped", []):
        print(f"skipped {line}")


def main(args) -> int:
    report = run(args.media, args.models or MODELS_DIR, quick=args.quick)
    print_report(report)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)
    return 0
