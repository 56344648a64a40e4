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


def test_a_crowded_label_moves_beside_then_shrinks_then_is_left_out():
    from agegender.outputs.labels import Label, Segment, place_labels
    label = Label((255, 255, 255), ((Segment("25-37", 1.0),),))

    def measure_at(text_px):  # a text 4 times as wide as high: at 20 px the label is 90 x 30
        return lambda text, size: (round(4 * text_px), round(text_px))
    bounds = (0, 0, 400, 400)
    (beside,) = place_labels([label], [(0, 0, 100, 400)], 20, measure_at, bounds)  # a face top to bottom
    assert (beside.x, beside.y, beside.text_px) == (102, 0, 20)
    strip = [(0, 0, 400, 60), (0, 85, 400, 400)]  # only 25 px are free, beside the face
    (smaller,) = place_labels([label], [(0, 60, 100, 85)], 20, measure_at, bounds, strip, smallest_px=10)
    assert (smaller.x, smaller.y, smaller.text_px, smaller.height) == (102, 60, 17, 25)
    assert place_labels([label], [(0, 60, 100, 85)], 20, measure_at, bounds, strip) == [None]  # not on a face
