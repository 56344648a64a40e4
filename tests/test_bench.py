import json

import pytest

from agegender.vision.runtime import openvino_available
from agegender.commands.cli import main


def test_bench_figures_are_sane_and_agree_with_each_other(crowd_video, random_models, tmp_path):
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
            assert row["speedup"] == pytest.approx(row["reference_ms"] / row["ours_ms"], rel=0.05)
            assert row["landmark_px_mean"] >= 0 and row["landmark_px_p95"] >= 0
    if "recall_vs_reference" in detection["rows"][0]:  # the reference preset is facenet-pytorch's detector
        exact = detection["other_presets"]["reference"][0]
        assert exact["recall_vs_reference"] == 1.0 and exact["landmark_px_p95"] <= 0.05
    classifier = report["classifier_ms_per_batch"]
    for name in ("multitask", "single"):
        assert set(classifier[name]) == {"1", "4", "8", "16"} and all(ms > 0 for ms in classifier[name].values())
    for size, ratio in classifier["single_over_multitask"].items():
        assert ratio == pytest.approx(classifier["single"][size] / classifier["multitask"][size], rel=0.05, abs=0.01)
    modes = report["end_to_end_720p"]
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
