"""Independent frames processed two at a time come out in frame order, with the answers one at a time gives."""
import json

import numpy as np

from agegender.commands.cli import main
from agegender.config import Settings
from agegender.sources.capture import VideoFileSource
from agegender.assemble import build_pipeline
from agegender.vision.parallel import in_parallel


def frames_of(path):
    source = VideoFileSource(path)
    while (frame := source.read()) is not None:
        yield frame
    source.close()


def test_two_at_a_time_gives_the_frames_in_order_with_the_same_answers(short_clip, random_models):
    pipeline, _, _ = build_pipeline(Settings(), random_models, ["multitask"], track=False)
    one = [result for _, result in in_parallel(pipeline, frames_of(short_clip), ["multitask"], workers=1)]
    two = list(in_parallel(pipeline, frames_of(short_clip), ["multitask"], workers=2))
    assert [frame.index for frame, _ in two] == [result.frame_index for _, result in two] == list(range(12))
    assert sum(len(r.detections) for r in one) >= 12
    for a, (_, b) in zip(one, two):
        assert len(a.detections) == len(b.detections)
        np.testing.assert_allclose(a.detections.boxes, b.detections.boxes, atol=0.05)
        np.testing.assert_allclose(a.predictions["multitask"].p_female, b.predictions["multitask"].p_female,
                                   atol=1e-3)
        assert a.predictions["multitask"].bucket_index.tolist() == b.predictions["multitask"].bucket_index.tolist()


def test_stopping_early_leaves_nothing_running(short_clip, random_models):
    pipeline, _, _ = build_pipeline(Settings(), random_models, ["multitask"], track=False)
    results = in_parallel(pipeline, frames_of(short_clip), ["multitask"], workers=2)
    taken = [next(results) for _ in range(3)]
    results.close()  # as a Ctrl-C or a failed output does: pending frames are dropped, running ones end
    assert [frame.index for frame, _ in taken] == [0, 1, 2]


def test_a_tracking_pipeline_goes_frame_by_frame(short_clip, random_models):
    pipeline, _, _ = build_pipeline(Settings(detect_every=3), random_models, ["multitask"], track=True)
    results = [result for _, result in in_parallel(pipeline, frames_of(short_clip), ["multitask"], workers=2)]
    assert [r.full_detection for r in results[:4]] == [True, False, False, True]  # the tracker's schedule kept


def test_process_writes_the_same_results_with_both_cores(short_clip, random_models, tmp_path, monkeypatch):
    outputs = {}
    for workers in (1, 2):
        monkeypatch.setattr("agegender.vision.parallel.frame_workers", lambda: workers)
        path = tmp_path / f"r{workers}.jsonl"
        assert main(["process", str(short_clip), "--results", str(path), "--models", str(random_models)]) == 0
        outputs[workers] = [json.loads(line) for line in path.read_text().splitlines()]
    assert [f["frame"] for f in outputs[2]] == list(range(12))
    for a, b in zip(outputs[1], outputs[2]):
        assert len(a["faces"]) == len(b["faces"])
        for fa, fb in zip(a["faces"], b["faces"]):
            np.testing.assert_allclose(fa["box"], fb["box"], atol=0.15)
            assert fa["designs"]["multitask"]["age_bucket"] == fb["designs"]["multitask"]["age_bucket"]
