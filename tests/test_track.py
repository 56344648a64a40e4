import numpy as np

from agegender.vision.buckets import DEFAULT
from agegender.vision.designs import Predictions
from agegender.vision.track import Tracker, greedy_match, iou_matrix


def moving_boxes(frame: int) -> np.ndarray:
    """Three faces walking across the frame at different speeds; the third leaves after frame 20."""
    boxes = [[10 + 4 * frame, 50, 70 + 4 * frame, 110], [400 - 3 * frame, 60, 450 - 3 * frame, 110]]
    if frame <= 20:
        boxes.append([200, 200 + 2 * frame, 240, 240 + 2 * frame])
    return np.array(boxes, np.float32)


def test_ids_stay_stable_on_moving_boxes_and_a_leaver_is_dropped():
    tracker = Tracker(max_missed=3)
    history = [tracker.update(moving_boxes(f), np.zeros((len(moving_boxes(f)), 5, 2))) for f in range(40)]
    assert all(list(ids[:2]) == [1, 2] for ids in history)
    assert all(ids[2] == 3 for ids in history[:21])
    assert len(tracker.tracks) == 2


def test_a_face_missed_for_a_few_frames_keeps_its_id():
    tracker = Tracker(max_missed=5)
    for f in range(10):
        tracker.update(moving_boxes(f)[:1], np.zeros((1, 5, 2)))
    for f in range(10, 13):
        tracker.update(np.zeros((0, 4), np.float32), np.zeros((0, 5, 2)))
    assert tracker.update(moving_boxes(13)[:1], np.zeros((1, 5, 2))).tolist() == [1]


def test_greedy_match_prefers_best_overlap():
    a = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], np.float32)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10]], np.float32)
    assert sorted(greedy_match(iou_matrix(a, b), 0.3)) == [(0, 1), (1, 0)]


def predictions(p_female: float, age: int) -> Predictions:
    distribution = np.zeros((1, 101), np.float32)
    distribution[0, age] = 1
    return Predictions(distribution, np.array([p_female], np.float32), DEFAULT, ("male", "female"))


def test_smoothing_converges_and_resets_with_a_new_track():
    tracker = Tracker(smoothing_weight=0.25, max_missed=1)
    box = np.array([[0, 0, 50, 50]], np.float32)
    ids = tracker.update(box, np.zeros((1, 5, 2)))
    first = tracker.smooth(ids, "multitask", predictions(0.0, 30))
    assert first.p_female[0] == 0.0  # a new track takes the raw value
    values = []
    for _ in range(30):
        ids = tracker.update(box, np.zeros((1, 5, 2)))
        values.append(tracker.smooth(ids, "multitask", predictions(1.0, 40)).p_female[0])
    assert values[0] == 0.25 and values[-1] > 0.99 and np.all(np.diff(values) > 0)
    for _ in range(3):
        tracker.update(np.zeros((0, 4), np.float32), np.zeros((0, 5, 2)))
    ids = tracker.update(box, np.zeros((1, 5, 2)))
    assert ids[0] != 1
    assert tracker.smooth(ids, "multitask", predictions(0.0, 30)).p_female[0] == 0.0


def test_one_flickering_frame_barely_moves_a_smoothed_label():
    tracker = Tracker(smoothing_weight=0.25)
    box = np.array([[0, 0, 50, 50]], np.float32)
    labels = []
    for frame in range(20):
        ids = tracker.update(box, np.zeros((1, 5, 2)))
        raw = predictions(0.8 if frame != 10 else 0.3, 30 if frame != 10 else 50)
        labels.append(tracker.smooth(ids, "single", raw).bucket_labels[0])
    assert labels == ["25-37"] * 20
