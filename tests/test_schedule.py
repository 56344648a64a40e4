"""The live view's classification schedule: new tracks first, the budget kept, faces that grew, turned
or are unsettled sooner, and both designs of compare mode on the same crops."""
import numpy as np
import pytest

from agegender.frames import Frame
from agegender.vision.designs import load_design
from agegender.vision.pipeline import Pipeline
from agegender.vision.schedule import ClassifySchedule
from agegender.vision.track import Tracker
from agegender.commands.bench.frames import read_frames


def faces(n, size=40.0):
    """n frontal faces in a row: boxes and five landmarks (eyes, nose, mouth corners)."""
    x = np.arange(n, dtype=np.float32) * 100
    boxes = np.column_stack([x, np.zeros(n), x + size, np.full(n, size)]).astype(np.float32)
    template = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]], np.float32) * size
    return boxes, template[None] + np.stack([x, np.zeros(n)], axis=1)[:, None, :]


def test_new_tracks_come_first_and_all_of_them_even_past_the_budget():
    schedule = ClassifySchedule(budget=2)
    boxes, landmarks = faces(5)
    ids = np.arange(1, 6)
    unanswered = np.array([False, True, False, True, True])
    schedule.choose(ids, boxes, landmarks, np.zeros(5, bool))
    assert list(schedule.choose(ids, boxes, landmarks, unanswered)) == [1, 3, 4]


def test_the_budget_is_kept_and_every_known_face_gets_its_turn():
    schedule = ClassifySchedule(budget=3)
    boxes, landmarks = faces(10)
    ids = np.arange(1, 11)
    counts = np.zeros(10, int)
    for _ in range(20):
        chosen = schedule.choose(ids, boxes, landmarks, np.zeros(10, bool))
        assert len(chosen) == 3
        counts[chosen] += 1
    assert counts.sum() == 60 and counts.min() >= 5 and counts.max() <= 7  # round robin: 6 each, give or take


def test_a_face_that_grew_or_turned_is_looked_at_again_before_its_turn():
    schedule = ClassifySchedule(budget=1)
    boxes, landmarks = faces(4)
    ids = np.arange(1, 5)
    for _ in range(4):
        schedule.choose(ids, boxes, landmarks, np.zeros(4, bool))  # each once, face 0 longest ago
    grown = boxes.copy()
    grown[2, 2:] += 10  # face 2 came closer: 1.56 x the area
    assert list(schedule.choose(ids, grown, landmarks, np.zeros(4, bool))) == [2]
    turned = landmarks.copy()
    turned[3, 2, 0] += 0.4 * 16  # face 3's nose moved 0.4 eye distances sideways: a head turn
    assert list(schedule.choose(ids, grown, turned, np.zeros(4, bool))) == [3]
    assert list(schedule.choose(ids, grown, turned, np.zeros(4, bool))) == [0]  # then back to the longest waiting


def test_unsettled_answers_are_looked_at_twice_as_often(random_models):
    design = load_design("multitask", random_models)
    schedule = ClassifySchedule(budget=1)
    boxes, landmarks = faces(3)
    ids = np.arange(1, 4)
    answers = design.predict(np.zeros((3, design.input_size, design.input_size, 3), np.uint8))
    answers.p_female[:] = [0.5, 0.999, 0.999]  # face 0's gender is unsure
    answers.age_distribution[:] = np.eye(answers.age_distribution.shape[1])[[30, 30, 30]]
    counts = np.zeros(3, int)
    for _ in range(40):
        counts[schedule.choose(ids, boxes, landmarks, np.zeros(3, bool))] += 1
        schedule.note_answers(ids, [answers])
    assert counts[0] >= 1.6 * counts[1] and counts[0] >= 1.6 * counts[2]


class Recording:
    """A design that records the crops it is given."""

    def __init__(self, design):
        self.design, self.input_size, self.seen = design, design.input_size, []

    def predict(self, crops):
        self.seen.append(crops.copy())
        return self.design.predict(crops)


def budgeted_pipeline(detector, designs, smoothing=True):
    """The live pipeline's budget of 2 crops a frame, with detection on the frame path: the same faces
    on every run, whatever the timing."""
    pipeline = Pipeline(detector, designs, tracker=Tracker(), detect_every=1, smoothing=smoothing, live=True,
                        classify_budget=2)
    pipeline.sweep.close()
    pipeline.sweep = None
    return pipeline


@pytest.fixture(scope="module")
def frames_720p(crowd_video):
    return read_frames(crowd_video, 720, limit=12)


def test_compare_mode_runs_both_designs_on_the_same_crops_within_the_budget(detector, random_models, frames_720p):
    designs = {"multitask": Recording(load_design("multitask", random_models)),
               "single": Recording(load_design("single", random_models))}
    pipeline = budgeted_pipeline(detector, designs)
    seen_ids, shown = set(), 0
    for i, image in enumerate(frames_720p):
        result = pipeline.process(Frame(image, i, i / 25), ["multitask", "single"])
        new = [k for k, t in enumerate(result.track_ids) if int(t) not in seen_ids]
        assert set(new) <= set(result.classified)  # a new track is classified at once
        assert len(result.classified) <= max(2, len(new))
        for name in designs:
            assert len(result.predictions[name]) == len(result.detections)  # every face shown has an answer
        seen_ids |= {int(t) for t in result.track_ids}
        shown += len(result.detections)
    assert shown >= 4 * len(frames_720p)  # the crowd video has 4-8 faces a frame: the budget did bite
    assert len(designs["multitask"].seen) == len(frames_720p)
    for a, b in zip(designs["multitask"].seen, designs["single"].seen):
        np.testing.assert_array_equal(a, b)


def test_faces_that_keep_moving_do_not_starve_the_others():
    schedule = ClassifySchedule(budget=1)
    boxes, landmarks = faces(3)
    ids = np.arange(1, 4)
    counts = np.zeros(3, int)
    for frame in range(30):
        jittered = landmarks.copy()
        jittered[:2, 2, 0] += (0.4 if frame % 2 else -0.4) * 16  # faces 0 and 1 turn their heads every frame
        counts[schedule.choose(ids, boxes, jittered, np.zeros(3, bool))] += 1
    assert counts[2] >= 3  # the still face still gets its turns


def test_the_budget_holds_without_smoothing_too(detector, random_models, frames_720p):
    pipeline = budgeted_pipeline(detector, {"multitask": load_design("multitask", random_models)}, smoothing=False)
    seen_ids = set()
    for i, image in enumerate(frames_720p[:6]):
        result = pipeline.process(Frame(image, i, i / 25))
        new = [k for k, t in enumerate(result.track_ids) if int(t) not in seen_ids]
        assert len(result.classified) <= max(2, len(new))
        seen_ids |= {int(t) for t in result.track_ids}
