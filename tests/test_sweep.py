"""The live view's full sweep beside the frame path: no frame waits for it, and the faces it finds
join the tracks on a later frame."""
import threading
import time

import numpy as np
import pytest

from agegender.frames import Frame
from agegender.vision.designs import load_design
from agegender.vision.detect import Detections
from agegender.vision.pipeline import Pipeline
from agegender.vision.sweep import find_again, new_faces
from agegender.vision.track import Tracker, iou_matrix
from agegender.commands.bench.frames import read_frames


def test_only_faces_no_known_face_covers_are_new():
    swept = Detections(np.array([[0, 0, 40, 40], [100, 0, 140, 40]], np.float32), np.ones(2, np.float32),
                       np.zeros((2, 5, 2), np.float32))
    known = np.array([[2, 1, 42, 41]], np.float32)  # covers the first face
    np.testing.assert_array_equal(new_faces(swept, known), swept.boxes[1:])
    np.testing.assert_array_equal(new_faces(swept, np.zeros((0, 4), np.float32)), swept.boxes)
    assert len(new_faces(Detections(), known)) == 0


def test_a_face_that_moved_is_found_again_around_where_it_was(detector, crowd_video):
    frames = read_frames(crowd_video, 720, limit=12)
    before = detector.detect(frames[0])
    now = detector.detect(frames[11])  # 0.44 s later: people in the crowd have walked on
    again = find_again(detector, frames[11], before.boxes)
    assert len(again) >= len(now) - 2
    matched = iou_matrix(again.boxes, now.boxes).max(axis=1)
    assert (matched > 0.7).all()  # each is a face the full detector finds on that frame, where it finds it


@pytest.fixture(scope="module")
def frames_720p(crowd_video):
    return read_frames(crowd_video, 720, limit=8)


def test_no_frame_waits_for_the_sweep_and_its_faces_join_the_tracks(detector, random_models, frames_720p):
    pipeline = Pipeline(detector, {"multitask": load_design("multitask", random_models)}, tracker=Tracker(),
                        detect_every=5, live=True, classify_budget=4)
    release, sweeping = threading.Event(), threading.Event()
    real_detect = pipeline.sweep._own.detect

    def held_sweep(image):
        sweeping.set()
        release.wait(60)  # held until the test lets it go
        return real_detect(image)
    pipeline.sweep._own.detect = held_sweep
    try:
        # The first frame (a new source) has nothing to follow: it is swept on the frame path.
        first = pipeline.process(Frame(frames_720p[0], 0, 0.0))
        assert first.full_detection and len(first.detections) >= 3 and not sweeping.is_set()
        # The next frames follow its faces; the fifth starts a sweep beside them, which is held.
        following = [pipeline.process(Frame(image, i, i / 25)) for i, image in enumerate(frames_720p[1:6], 1)]
        assert sweeping.wait(30) and not release.is_set()
        following.append(pipeline.process(Frame(frames_720p[6], 6, 6 / 25)))  # came back while it was held
        assert all(not r.full_detection and len(r.detections) >= len(first.detections) - 2 for r in following)
    finally:
        release.set()
    deadline = time.monotonic() + 60
    while pipeline.sweep._running is not None and not pipeline.sweep._running.done() and time.monotonic() < deadline:
        time.sleep(0.01)
    merged = pipeline.process(Frame(frames_720p[7], 7, 7 / 25))
    assert merged.full_detection  # this frame took up the finished sweep
    assert len(merged.detections) >= max(3, len(first.detections) - 2)
    assert len(set(merged.track_ids) & set(following[-1].track_ids)) >= len(following[-1].track_ids) - 1
    pipeline.close()


def test_a_sweep_begun_before_an_export_is_not_taken_up_after_it(detector, random_models, frames_720p):
    pipeline = Pipeline(detector, {"multitask": load_design("multitask", random_models)}, tracker=Tracker(),
                        detect_every=1, live=True, classify_budget=4)
    try:
        pipeline.process(Frame(frames_720p[0], 0, 0.0))  # a new source: swept on the frame path
        pipeline.process(Frame(frames_720p[1], 1, 1 / 25))  # starts a sweep of frame 1 beside it
        pipeline.sweep._running.result(timeout=60)
        pipeline.live = False  # the window exports: every frame gets the same work as a file's
        exported = pipeline.process(Frame(frames_720p[2], 2, 2 / 25))
        assert exported.full_detection and len(exported.detections) >= 3
        pipeline.live = True
        assert not pipeline.process(Frame(frames_720p[3], 3, 3 / 25)).full_detection  # no faces of frame 1
    finally:
        pipeline.close()


def test_the_pace_follows_the_measured_sweep_and_frame_times():
    from agegender.vision.sweep import SweepPace
    pace = SweepPace()
    assert pace.interval == SweepPace.FIRST  # nothing measured yet
    for index in range(10):
        pace.frame_at(index / 25)
    pace.swept_in(3.0)  # the first sweep of a source compiles for its frame size: not taken
    assert pace.interval == SweepPace.FIRST
    pace.swept_in(0.2)
    assert pace.interval == 7  # 0.2 s of sweep over 0.8 of 0.04 s frames
    pace.frame_at(60.0)  # a seek: not the frames' rate
    assert pace.interval == 7
    pace.swept_in(10.0)
    assert pace.interval == SweepPace.MOST
    pace.reset()
    assert pace.interval == SweepPace.FIRST


def _sweeps_on(pipeline, frames, fps: float) -> int:
    """Feeds the frames `fps` apart, in video time and in real time, as the live view does; returns the
    sweeps started."""
    started = 0
    real_start = pipeline.sweep.start

    def counted(image, known_boxes=None):
        nonlocal started
        begun = real_start(image, known_boxes)
        started += begun
        return begun

    pipeline.sweep.start = counted
    for index, image in enumerate(frames):
        began = time.monotonic()
        pipeline.process(Frame(image, index, index / fps))
        time.sleep(max(0.0, 1 / fps - (time.monotonic() - began)))
    return started


def test_a_slow_detector_is_swept_less_often(detector, random_models, frames_720p):
    pipeline = Pipeline(detector, {"multitask": load_design("multitask", random_models)}, tracker=Tracker(),
                        detect_every=0, live=True, classify_budget=4)
    real_detect = pipeline.sweep._own.detect

    def slowed(image, **kwargs):
        time.sleep(0.4)  # a detector five times slower than this one on a 720p frame
        return real_detect(image, **kwargs)

    pipeline.sweep._own.detect = slowed
    try:
        started = _sweeps_on(pipeline, frames_720p * 12, fps=25)
        assert pipeline.pace.sweep_seconds >= 0.4
        assert pipeline.sweep_interval >= 13  # at least 0.4 s / (0.8 x 0.04 s)
        assert started <= 96 / 13 + 2  # a fixed 5 would have started 19
    finally:
        pipeline.close()


def test_a_fast_detector_is_swept_every_frame_or_two(detector, random_models, frames_720p):
    import cv2
    small = [cv2.resize(image, (320, 180), interpolation=cv2.INTER_AREA) for image in frames_720p] * 4
    pipeline = Pipeline(detector, {"multitask": load_design("multitask", random_models)}, tracker=Tracker(),
                        detect_every=0, live=True, classify_budget=4)
    try:
        started = _sweeps_on(pipeline, small, fps=10)  # 0.1 s a frame: a sweep of a small picture fits
        assert pipeline.pace.sweep_seconds < 0.08
        assert pipeline.sweep_interval <= 2
        assert started >= len(small) / 3
    finally:
        pipeline.close()


def test_faces_the_region_search_lost_are_looked_for_again(detector, random_models, frames_720p):
    from agegender.vision.pipeline import LOOK_AGAIN_AT_MOST
    pipeline = Pipeline(detector, {"multitask": load_design("multitask", random_models)}, tracker=Tracker(),
                        detect_every=0, live=True)
    try:
        before, now = detector.detect(frames_720p[0]), detector.detect(frames_720p[1])
        assert len(now) >= 4
        kept = now[np.array([0])]  # as if the region search had followed one face only
        again = pipeline._look_again(frames_720p[1], before.boxes, kept)
        assert len(again) >= min(len(now), 1 + LOOK_AGAIN_AT_MOST) - 1
        assert (iou_matrix(again.boxes, now.boxes).max(axis=1) > 0.7).all()  # faces the full detector finds there
    finally:
        pipeline.close()


def test_a_sweep_leaves_out_the_faces_already_followed(detector, frames_720p):
    from agegender.vision.sweep import BackgroundSweep
    sweep = BackgroundSweep(detector)
    image, later = frames_720p[0], frames_720p[2]
    everyone = detector.detect(image)

    def swept(known) -> Detections:
        sweep.newest_image = later  # as the pipeline sets it: the sweep's faces are looked for again there
        assert sweep.start(image, known)
        sweep.wait(60)
        return sweep.finished()
    try:
        all_new, half_known, all_known = swept(None), swept(everyone.boxes[::2]), swept(everyone.boxes)
    finally:
        sweep.close()
    assert len(everyone) >= 4 and len(all_new) >= len(everyone) - 1
    assert len(all_known) == 0
    assert 1 <= len(half_known) <= len(everyone) - len(everyone.boxes[::2]) + 1
    assert (iou_matrix(half_known.boxes, all_new.boxes).max(axis=1) > 0.7).all()  # the same faces, found again
