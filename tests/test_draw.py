import cv2
import numpy as np
import pytest

from agegender.sources.capture import Frame
from agegender.vision.designs import load_design
from agegender.outputs.draw import annotate
from agegender.vision.pipeline import Pipeline


@pytest.fixture(scope="module")
def group_result(detector, random_models, group_photo):
    image = cv2.imread(str(group_photo))
    designs = {name: load_design(name, random_models) for name in ("multitask", "single")}
    return image, Pipeline(detector, designs).process(Frame(image, 0, 0.0))


def test_annotate_draws_every_face_and_leaves_the_input_alone(group_result):
    image, result = group_result
    original = image.copy()
    out = annotate(image, result)
    assert out.shape == image.shape and np.array_equal(image, original)
    for x1, y1, x2, y2 in np.round(result.detections.boxes).astype(int):
        top_edge = (slice(max(y1 - 1, 0), y1 + 2), slice(max(x1, 0), x2))
        assert np.any(out[top_edge] != original[top_edge])


def test_compare_labels_do_not_cover_each_other(group_result, monkeypatch):
    import agegender.outputs.draw as draw
    image, result = group_result
    placed = []
    real = draw._free_spot

    def spy(x, y, width, height, taken, shape, above):
        spot = real(x, y, width, height, taken, shape, above)
        placed.append((*spot, spot[0] + width, spot[1] + height))
        return spot
    monkeypatch.setattr(draw, "_free_spot", spy)
    annotate(image, result, ["multitask", "single"])
    assert len(placed) == 2 * len(result.detections)
    for i, a in enumerate(placed):
        for b in placed[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_privacy_mode_pixelates_faces(group_result):
    image, result = group_result
    x1, y1, x2, y2 = result.detections.boxes[0].astype(int)
    plain = annotate(image, result)[y1 + 5:y2 - 5, x1 + 5:x2 - 5]
    private = annotate(image, result, privacy=True)[y1 + 5:y2 - 5, x1 + 5:x2 - 5]
    assert len(np.unique(private.reshape(-1, 3), axis=0)) < len(np.unique(plain.reshape(-1, 3), axis=0)) / 4


def test_a_crowded_label_moves_beside_or_covers_the_least():
    from agegender.outputs.draw import _free_spot
    shape = (400, 400, 3)
    column = [(0, 0, 100, 400)]  # everything at x 0-100 is taken, top to bottom
    assert _free_spot(0, 50, 80, 30, column, shape, above=40) == (80, 50)  # beside, not on top
    taken = [(0, 0, 400, 400), (0, 0, 200, 400)]  # nowhere is free; the left half is covered twice
    assert _free_spot(100, 50, 80, 30, taken, shape, above=40)[0] == 180  # the candidate reaching furthest right
