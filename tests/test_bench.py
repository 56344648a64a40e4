import json

from agegender.commands.cli import main


def test_bench_json_has_the_documented_keys(crowd_video, random_models, tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--json", str(out), "--models", str(random_models),
                 "--media", str(crowd_video)]) == 0
    report = json.loads(out.read_text())
    assert {"detection", "provider", "classifier_ms_per_batch", "end_to_end_720p", "flicker", "live_latency_720p",
            "peak_memory_mb"} <= set(report)
    row = report["detection"]["rows"][0]
    assert {"ours_ms", "height", "faces_per_frame"} <= set(row)
    assert set(report["classifier_ms_per_batch"]["multitask"]) == {"1", "4", "8", "16"}
    assert report["classifier_ms_per_batch"]["single_over_multitask"]["8"] > 0
    assert {"every_frame", "tracking_mode"} == set(report["end_to_end_720p"])
    assert report["end_to_end_720p"]["tracking_mode"]["fps"] > 0
    assert {"raw", "smoothed"} == set(report["flicker"]["changes_per_track_second"])
    assert report["live_latency_720p"]["p50_ms"] > 0


def test_bench_without_media_says_where_to_put_it(tmp_path, capsys):
    assert main(["bench", "--media", str(tmp_path / "nowhere")]) == 2
    assert "benchmark video not found" in capsys.readouterr().err
