import json

import pytest

from agegender.vision.runtime import openvino_available
from agegender.commands.cli import main


def test_bench_figures_are_sane_and_measure_what_they_say(crowd_video, random_models, tmp_path, detector):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--json", str(out), "--models", str(random_models),
                 "--media", str(crowd_video)]) == 0
    report = json.loads(out.read_text())
    assert report["provider"] in ("CPUExecutionProvider", "CUDAExecutionProvider", "OpenVINO CPU")
    runtimes = {"onnxruntime", "openvino"} if openvino_available() else {"onnxruntime"}
    assert set(report["detection"]["backends"]) == runtimes
    for rows in report["detection"]["backends"].values():  # the same frames, the same faces on each runtime
        assert [row["faces_per_frame"] for row in rows] == [row["faces_per_frame"] for row in report["detection"]["rows"]]
    assert report["peak_memory_mb"] > 0
    detection = report["detection"]
    assert detection["detector"] == "fast" and set(detection["other_presets"]) == {"reference"}
    for row in detection["rows"] + detection["other_presets"]["reference"]:
        assert row["height"] == 720 and row["width"] == 1280 and row["ours_ms"] > 0
        assert row["faces_per_frame"] > 0  # the crowd video always shows people
        if "recall_vs_reference" in row:  # only where facenet-pytorch is installed
            assert 0 <= row["recall_vs_reference"] <= 1
            assert row["speedup"] > 0 and row["reference_ms"] > 0
            assert row["landmark_px_mean"] >= 0 and row["landmark_px_p95"] >= 0
    if "recall_vs_reference" in detection["rows"][0]:  # the reference preset is facenet-pytorch's detector
        exact = detection["other_presets"]["reference"][0]
        assert exact["recall_vs_reference"] == 1.0 and exact["landmark_px_p95"] <= 0.05
    classifier = report["classifier_ms_per_batch"]
    for name in ("multitask", "single"):
        assert set(classifier[name]) == {"1", "4", "8", "16"} and all(ms > 0 for ms in classifier[name].values())
    assert classifier["single_over_multitask"]["8"] > 1  # two networks cost more than one
    modes = report["end_to_end_720p"]
    from agegender.commands.bench.frames import read_frames  # the same 12 frames, detected here on their own
    found_here = [len(detector.detect(image)) for image in read_frames(crowd_video, 720, limit=12)]
    assert modes["every_frame"]["faces_per_frame"] == pytest.approx(sum(found_here) / 12, abs=0.01)
    assert (modes["every_frame"]["detect_every"], modes["tracking_mode"]["detect_every"]) == (1, 5)
    for row in modes.values():
        stages = row["ms_per_stage"]
        assert row["fps"] > 0 and stages["detect"] > 0 and stages["total"] >= stages["detect"]
        assert all(ms >= 0 for ms in stages.values())
    live = modes["live_view"]
    assert live["source_fps"] == 25 and 0 < live["frames_kept_up"] <= 1 and live["classify_budget"] == 4
    assert live["detect_every"] == 0 and 1 <= live["sweep_interval"] <= 30  # the window's auto pace
    assert live["crops_per_frame"] <= live["faces_per_frame"]
    assert report["live_view_coverage"] == pytest.approx(
        live["faces_per_frame"] / modes["every_frame"]["faces_per_frame"], abs=0.002)
    assert 0.3 < report["live_view_coverage"] <= 1.2  # the live view finds most of the faces, hardly more
    flicker = report["flicker"]
    raw, smoothed = (flicker["changes_per_track_second"][kind] for kind in ("raw", "smoothed"))
    assert flicker["track_seconds"] > 0 and raw >= 0 and smoothed >= 0
    if smoothed:
        assert flicker["reduction"] == pytest.approx(raw / smoothed, rel=0.05, abs=0.02)
    latency = report["live_latency_720p"]
    assert 0 < latency["p50_ms"] <= latency["p95_ms"]
    assert latency["frames_shown"] > 0 and latency["frames_skipped"] >= 0


def test_bench_without_media_says_where_to_put_it(tmp_path, capsys):
    assert main(["bench", "--media", str(tmp_path / "nowhere")]) == 2
    assert "benchmark video not found" in capsys.readouterr().err


def test_without_the_reference_the_bench_says_so_once_and_prints_its_own_figures(crowd_video, monkeypatch, capsys):
    from agegender.commands.bench import detection
    monkeypatch.setattr(detection, "reference_available", lambda: False)
    report = detection.run(heights=(360,), frames_per_height=2, repeats=1, media=crowd_video.parent)
    detection.print_table(report)
    out, err = capsys.readouterr()
    assert report["reference"] is None and report["rows"][0]["ours_ms"] > 0
    assert "speedup" not in report["rows"][0] and "speedup" not in report["other_presets"]["reference"][0]
    assert len(err.strip().splitlines()) == 1 and "facenet-pytorch is not installed" in err
    assert "nan" not in out.lower() and "None" not in out and "no reference installed" in out
    assert 'detector = "fast"' in out and 'detector = "reference"' in out


def test_first_labels_time_each_new_face_from_its_first_frame(detector, random_models, crowd_video):
    """On the crowd clip's real detections: a live view that has every frame labels each new face at once;
    one that skipped the first frames of a face labels it that much later."""
    from agegender.commands.bench.frames import read_frames
    from agegender.commands.bench.pipeline import NEW_FACE_MIN_FRAMES, end_to_end, first_labels
    from agegender.vision.designs import load_design
    frames = read_frames(crowd_video, 360)
    every_frame = {}
    end_to_end(detector, {"multitask": load_design("multitask", random_models)}, frames, 1, 25.0, every_frame)
    at_once = first_labels(every_frame, every_frame, 25.0)
    assert at_once["new_faces"] >= 1 and at_once["never_labelled"] == 0
    assert at_once["median_ms"] == at_once["max_ms"] == 0.0 and at_once["within_200_ms"] == 1.0
    starts = sorted({min(i for i, r in every_frame.items() if track_id in r.track_ids)
                     for r in every_frame.values() for track_id in r.track_ids} - {0})
    late = {i: r for i, r in every_frame.items() if not any(s <= i < s + 6 for s in starts)}  # 6 frames late
    later = first_labels(every_frame, late, 25.0)
    assert later["new_faces"] == at_once["new_faces"] and later["never_labelled"] == 0
    assert later["median_ms"] >= 6 * 40.0 and later["within_200_ms"] == 0.0  # (another start nearby: later still)
    assert NEW_FACE_MIN_FRAMES > 6


def test_live_latency_with_no_result_in_time_says_so_instead_of_crashing(crowd_video, random_models, detector):
    """A machine too busy to give one live result within the time: no figure, no IndexError."""
    from agegender.commands.bench.pipeline import live_latency
    from agegender.vision.designs import load_design
    latency = live_latency(detector, {"multitask": load_design("multitask", random_models)}, crowd_video, seconds=0)
    assert latency["frames_shown"] == 0 and latency["p50_ms"] is None and latency["p95_ms"] is None
