import cv2
import numpy as np
import pytest

from agegender.frames import Frame
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


def label_frames(out, original, colour):
    """Bounding rectangles (x1, y1, x2, y2) of the label frames drawn in `colour`: their outlines, found
    in the pixels (the confidence bar inside each frame is not an outer contour)."""
    mask = (np.all(out == colour, axis=2) & ~np.all(original == colour, axis=2)).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    rects = [cv2.boundingRect(c) for c in contours]
    return [(x, y, x + w, y + h) for x, y, w, h in rects if w > 10 and h > 10]


def test_compare_labels_do_not_cover_each_other_nor_the_faces(group_result):
    from agegender.outputs.draw import DESIGN_COLOURS
    image, result = group_result
    out = annotate(image, result, ["multitask", "single"])
    labels = {name: label_frames(out, image, DESIGN_COLOURS[name]) for name in ("multitask", "single")}
    faces = len(result.detections)
    # one whole frame per face and design: a label drawn over another would darken or cut its outline
    assert len(labels["multitask"]) == len(labels["single"]) == faces
    placed = labels["multitask"] + labels["single"]
    for x1, y1, x2, y2 in placed:
        outline = np.all(out[[y1, y2 - 1], x1:x2] == out[y1, x1], axis=-1)
        assert outline.all()
    boxes = [tuple(int(round(v)) for v in box) for box in result.detections.boxes]
    for i, a in enumerate(placed):
        for b in placed[i + 1:] + boxes:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


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
