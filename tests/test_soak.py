"""The CI-sized soak: one minute of the kiosk's pipeline on the looped crowd video, with the shipped
multi-task model; memory after warm-up grows less than 5%, and no thread, file or socket leaks.
(Latency is reported but not judged here, --no-latency-check: CI machines are shared. docs/unattended.md
has the 30-minute run.)"""
import json

import pytest

from agegender.commands.cli import main
from agegender.paths import MODELS_DIR
from agegender.commands.soak import Sample, verdict


def test_one_minute_soak_holds_memory_and_threads(crowd_video, tmp_path):
    if not (MODELS_DIR / "multitask.onnx").exists():
        pytest.skip("models/multitask.onnx is absent")
    report = tmp_path / "soak.json"
    # half of it warm-up: the first frames fill OpenVINO's per-shape caches and the decoder's buffers
    code = main(["soak", str(crowd_video), "--minutes", "1", "--interval", "5", "--warmup", "30",
                 "--json", str(report), "--no-latency-check"])
    data = json.loads(report.read_text())
    samples = data["samples"]
    assert code == 0, data["verdict"]["problems"]
    assert len(samples) >= 11 and all(s["frames"] > 0 and s["rss_mb"] > 100 for s in samples)
    assert data["verdict"]["ok"] and data["verdict"]["memory_growth"] < 0.05


def test_verdict_catches_growth_and_leaks():
    def sample(at, rss, threads=10, files=20, p99=100.0):
        return Sample(at, 10, 2.0, 50.0, p99, rss, threads, files, 0)
    steady = [sample(5, 900), sample(10, 1000), sample(20, 1010), sample(30, 1004)]
    assert verdict(steady, warmup_s=5)["ok"]
    growing = verdict([sample(5, 900), sample(10, 1000), sample(20, 1100)], warmup_s=5)
    assert not growing["ok"] and "memory grew 10.0%" in growing["problems"][0]
    leaking = verdict([sample(10, 1000), sample(20, 1000, threads=11, files=21)], warmup_s=5)
    assert len(leaking["problems"]) == 2
    slower = verdict([sample(10, 1000), sample(20, 1000, p99=200.0)], warmup_s=5)
    assert not slower["ok"] and verdict([sample(10, 1000), sample(20, 1000, p99=200.0)], 5, check_latency=False)["ok"]
