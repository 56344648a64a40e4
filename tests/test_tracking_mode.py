"""Tracking mode on the crowd video: stable ids, and a face entering mid-video found within N frames."""
import numpy as np
import pytest

from agegender.frames import Frame
from agegender.vision.designs import load_design
from agegender.vision.pipeline import Pipeline
from agegender.vision.track import Tracker, iou_matrix
from agegender.commands.bench.frames import read_frames

DETECT_EVERY = 5


@pytest.fixture(scope="module")
def frames_720p(crowd_video):
    return read_frames(crowd_video, 720, limit=30)


def run(pipeline, frames):
    return [pipeline.process(Frame(image, i, i / 25)) for i, image in enumerate(frames)]


def test_ids_are_stable_across_the_crowd_video(detector, random_models, frames_720p):
    pipeline = Pipeline(detector, {"multitask": load_design("multitask", random_models)},
                        tracker=Tracker(), detect_every=DETECT_EVERY)
    results = run(pipeline, frames_720p)
    assert sum(not r.full_detection for r in results) == 24
    assert np.mean([len(r.detections) for r in results]) >= 4
    # Follow each face of frame 10 through frames 10-29 by its id: its box must move smoothly.
    for track_id in results[10].track_ids:
        boxes = [r.detections.boxes[list(r.track_ids).index(track_id)] for r in results[10:]
                 if track_id in r.track_ids]
        assert len(boxes) >= 15
        steps = [iou_matrix(a[None], b[None])[0, 0] for a, b in zip(boxes, boxes[1:])]
        assert min(steps) > 0.3
    ids_seen = {int(i) for r in results for i in r.track_ids}
    assert len(ids_seen) <= 2 * max(len(r.detections) for r in results)


def test_a_face_that_enters_mid_video_is_found_within_n_frames(detector, random_models, frames_720p):
    enters_at = 7
    # A face that moves little over the next frames, so one box stands for it throughout.
    at_entry = detector.detect(frames_720p[enters_at]).boxes
    later = detector.detect(frames_720p[enters_at + DETECT_EVERY]).boxes
    target = at_entry[np.argmax(iou_matrix(at_entry, later).max(axis=1))]
    x1, y1, x2, y2 = target.astype(int)
    frames = []
    for i, image in enumerate(frames_720p[:20]):
        image = image.copy()
        if i < enters_at:  # hide the face until it 'enters'
            image[max(y1 - 40, 0):y2 + 40, max(x1 - 40, 0):x2 + 40] = 128
        frames.append(image)
    pipeline = Pipeline(detector, {"multitask": load_design("multitask", random_models)},
                        tracker=Tracker(), detect_every=DETECT_EVERY)
    results = run(pipeline, frames)

    def found(r):
        return len(r.detections) and iou_matrix(r.detections.boxes, target[None]).max() > 0.3
    assert not any(found(r) for r in results[:enters_at])
    first_seen = next(i for i, r in enumerate(results) if found(r))
    assert enters_at <= first_seen < enters_at + DETECT_EVERY
    following = results[first_seen:first_seen + 5]
    assert len(following) == 5 and all(found(r) for r in following)


def test_track_ids_in_the_results(detector, random_models, frames_720p):
    pipeline = Pipeline(detector, {"multitask": load_design("multitask", random_models)}, tracker=Tracker())
    records = [pipeline.process(Frame(image, i, i / 25)).to_dict() for i, image in enumerate(frames_720p[:3])]
    ids = [[face["track"] for face in record["faces"]] for record in records]
    assert len(ids[0]) >= 3 and all(isinstance(i, int) and i >= 1 for i in ids[0])
    assert len(set(ids[0])) == len(ids[0])  # one id per face
    assert set(ids[0]) & set(ids[2])  # the same faces keep their ids from frame to frame


def test_a_seek_forgets_the_faces_followed_before_it(detector, random_models, frames_720p):
    pipeline = Pipeline(detector, {"multitask": load_design("multitask", random_models)},
                        tracker=Tracker(), detect_every=DETECT_EVERY)
    before = run(pipeline, frames_720p[:3])
    ids_before = {int(i) for r in before for i in r.track_ids}
    # The same frame again, as after a seek back: its faces would match their old tracks exactly.
    same_segment = pipeline.process(Frame(frames_720p[2], 2, 2 / 25))
    assert {int(i) for i in same_segment.track_ids} <= ids_before
    after_seek = pipeline.process(Frame(frames_720p[2], 2, 2 / 25, segment=1))
    assert after_seek.full_detection and len(after_seek.track_ids)
    assert not {int(i) for i in after_seek.track_ids} & ids_before
