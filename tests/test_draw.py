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


def solid_rectangles(out, original, colour) -> list[tuple[int, int, int, int]]:
    """(x1, y1, x2, y2) of the solid rectangles at least 10 x 3 px painted in exactly `colour`: the filled
    part of the labels' confidence bars (anti-aliased text and box outlines are not solid)."""
    mask = (np.all(out == colour, axis=2) & ~np.all(original == colour, axis=2)).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    return [(x, y, x + w, y + h) for x, y, w, h, area in stats[1:] if w >= 10 and h >= 3 and area == w * h]


def test_compare_mode_gives_each_face_one_label_with_a_line_per_design(group_result):
    from agegender.outputs.labels import DESIGN_COLOURS
    image, result = group_result
    out = annotate(image, result, ["multitask", "single"])
    mt_bars = sorted(solid_rectangles(out, image, DESIGN_COLOURS["multitask"]))
    st_bars = sorted(solid_rectangles(out, image, DESIGN_COLOURS["single"]))
    faces = len(result.detections)
    assert faces >= 4 and len(mt_bars) == len(st_bars) == faces
    for mt, st in zip(mt_bars, st_bars):  # one label: the ST line right under the MT line, aligned
        assert mt[0] == st[0] and 0 < st[1] - mt[3] < 40, (mt, st)
    boxes = [tuple(int(round(v)) for v in box) for box in result.detections.boxes]
    labels = [(mt[0], mt[1], max(mt[2], st[2]), st[3]) for mt, st in zip(mt_bars, st_bars)]
    for i, a in enumerate(labels):  # labels cover neither each other nor a face
        for b in labels[i + 1:] + boxes:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def test_one_design_labels_in_its_colour(group_result):
    from agegender.outputs.labels import DESIGN_COLOURS
    image, result = group_result
    out = annotate(image, result, ["single"])
    assert len(solid_rectangles(out, image, DESIGN_COLOURS["single"])) == len(result.detections)
    assert solid_rectangles(out, image, DESIGN_COLOURS["multitask"]) == []


def test_privacy_mode_pixelates_faces(group_result):
    image, result = group_result
    x1, y1, x2, y2 = result.detections.boxes[0].astype(int)
    plain = annotate(image, result)[y1 + 5:y2 - 5, x1 + 5:x2 - 5]
    private = annotate(image, result, privacy=True)[y1 + 5:y2 - 5, x1 + 5:x2 - 5]
    assert len(np.unique(private.reshape(-1, 3), axis=0)) < len(np.unique(plain.reshape(-1, 3), axis=0)) / 4


def test_a_crowded_label_moves_beside_or_covers_the_least():
    from agegender.outputs.labels import free_spot
    shape = (400, 400, 3)
    column = [(0, 0, 100, 400)]  # everything at x 0-100 is taken, top to bottom
    assert free_spot(0, 50, 80, 30, column, shape, above=40) == (80, 50)  # beside, not on top
    taken = [(0, 0, 400, 400), (0, 0, 200, 400)]  # nowhere is free; the left half is covered twice
    assert free_spot(100, 50, 80, 30, taken, shape, above=40)[0] == 180  # the candidate reaching furthest right
