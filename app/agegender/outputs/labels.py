"""A face's label, specified once: what it says, its colours, and where each of its parts goes.

OpenCV paints it on arrays (outputs/draw.py: results videos, recordings, snapshots, agegender.draw) and
Qt paints it in the window (gui/overlay_paint.py). Each painter only measures text in its own font and
draws the rectangles and text placed here, so the two cannot drift apart.

One design: the face's box and label in the design's colour; the label reads "25-37 ~31 y" over the
gender ("female 93%", or "?" with the lean in small print when not sure, "? child" under the age gender is
ever given as sure) and a bar of the gender's
confidence. Compare mode: a white box and one label per face, with a line and a bar per design
("MT 25-37 ~31 y female 93%", then "ST ..."), its tag in the design's colour.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from agegender.vision.designs import Predictions

Colour = tuple[int, int, int]  # B, G, R

DESIGN_COLOURS: dict[str, Colour] = {"multitask": (0, 165, 255), "single": (230, 190, 40)}
DESIGN_TAGS = {"multitask": "MT", "single": "ST"}
COMPARE_COLOUR: Colour = (255, 255, 255)  # boxes and frames of labels that hold both designs
OTHER_DESIGN_COLOUR: Colour = (0, 255, 0)
TEXT_COLOUR: Colour = (255, 255, 255)
BAR_BACKGROUND: Colour = (90, 90, 90)
PANEL_OPACITY = 0.65  # how much the label's dark panel hides the picture under it
SHOWN_CONFIDENCE_AT_MOST = 99  # percent: no estimate from a face is certain, so none reads "100%"

BUCKET_SIZE, AGE_SIZE, TAG_SIZE = 1.0, 0.6, 0.6  # text sizes relative to the label's text size
SURE_SIZE, LEAN_SIZE = 0.75, 0.5


@dataclass(frozen=True)
class Segment:
    text: str
    size: float  # relative to the label's text size; the bucket (size 1) is bold in the window
    colour: Colour = TEXT_COLOUR


@dataclass(frozen=True)
class Bar:
    fraction: float  # of the bar filled: the gender's confidence
    colour: Colour


Row = tuple[Segment, ...]


@dataclass(frozen=True)
class Label:
    colour: Colour  # of the face's box and the label's frame
    rows: tuple[Row | Bar, ...]  # top to bottom


def design_colour(design: str) -> Colour:
    return DESIGN_COLOURS.get(design, OTHER_DESIGN_COLOUR)


def gender_segments(prediction: Predictions, i: int) -> Row:
    """"female 93%" for a sure answer; otherwise "?" with the model's lean in small print ("? female 80%"),
    so an unsure answer never looks like a confident one. Where no confidence would do, a face that looks
    younger than the rule's first band (a child) or in a band never given as sure, the percentage means
    nothing: "? child" or "? leans female", with no number. At most 99%."""
    lean = prediction.gender_labels[int(prediction.is_female[i])]
    percent = min(SHOWN_CONFIDENCE_AT_MOST, round(100 * float(prediction.gender_confidence[i])))
    if prediction.gender_confident[i]:
        return (Segment(f"{lean} {percent}%", SURE_SIZE),)
    age = prediction.age_years[i:i + 1]
    if prediction.gender_rule.needed_confidence(age)[0] == float("inf"):
        why = "child" if age[0] < prediction.gender_rule.min_age else f"leans {lean}"
        return Segment("?", SURE_SIZE), Segment(why, LEAN_SIZE)
    return Segment("?", SURE_SIZE), Segment(f"{lean} {percent}%", LEAN_SIZE)


def face_label(predictions: dict[str, Predictions], i: int, designs: list[str]) -> Label:
    """The label of face i, with the answers of `designs` (one, or several side by side)."""
    rows: list[Row | Bar] = []
    for name in designs:
        p = predictions[name]
        colour = design_colour(name)
        age: Row = (Segment(p.scheme.labels[int(p.bucket_index[i])], BUCKET_SIZE),
                    Segment(f"~{int(p.age_years[i])} y", AGE_SIZE))
        gender, bar = gender_segments(p, i), Bar(float(p.gender_confidence[i]), colour)
        if len(designs) == 1:
            rows += [age, gender, bar]
        else:
            rows += [(Segment(DESIGN_TAGS.get(name, name), TAG_SIZE, colour), *age, *gender), bar]
    return Label(design_colour(designs[0]) if len(designs) == 1 else COMPARE_COLOUR, tuple(rows))


@dataclass(frozen=True)
class PlacedText:
    text: str
    size: float
    colour: Colour
    x: int
    baseline: int


@dataclass(frozen=True)
class PlacedBar:
    x: int
    y: int
    width: int
    height: int
    fraction: float
    colour: Colour


@dataclass(frozen=True)
class PlacedLabel:
    x: int
    y: int
    width: int
    height: int
    colour: Colour
    texts: tuple[PlacedText, ...]
    bars: tuple[PlacedBar, ...]
    text_px: float  # the bucket's height in pixels: smaller than asked where the label was shrunk to fit


Measure = Callable[[str, float], tuple[int, int]]  # (text, relative size) -> (width, height above baseline)
Rect = tuple[int, int, int, int]  # left, top, right, bottom; right and bottom just outside
GAP = 2  # pixels between a face's box and its label
SHRINK = 0.85  # a label that fits nowhere tries again this much smaller


def place_labels(labels: list[Label | None], boxes: list[Rect], text_px: float, measure_at: Callable[[float], Measure],
                 bounds: Rect, keep_off: tuple[Rect, ...] = (), smallest_px: float | None = None
                 ) -> list[PlacedLabel | None]:
    """Where the label of each face goes (labels[i] is boxes[i]'s), top face first: on no face's box and
    no `keep_off` rectangle (a privacy notice), within `bounds`, clear of the labels placed before it. It
    goes under its face, else above, else further down or up, else beside; where none is free at
    `text_px` (the bucket's height in pixels), the same smaller, down to `smallest_px`; still none, where it
    covers the fewest other labels. A label that would cover a face or `keep_off` wherever it went is
    None: not drawn, rather than hiding someone."""
    smallest_px = min(text_px, smallest_px or text_px)
    text_sizes = [text_px]
    while text_sizes[-1] > smallest_px:
        text_sizes.append(max(smallest_px, text_sizes[-1] * SHRINK))
    fixed = list(boxes) + list(keep_off)
    taken: list[Rect] = []
    placed: list[PlacedLabel | None] = [None] * len(labels)
    for i in sorted(range(len(boxes)), key=lambda i: boxes[i][1]):
        if labels[i] is None:
            continue
        for px in text_sizes:
            label = _laid_out(labels[i], px, measure_at(px))
            spots = _spots(boxes[i], label.width, label.height, bounds)
            spot = next((s for s in spots if not _overlap(label, s, fixed + taken)), None)
            if spot:
                break
        else:
            spots = [s for s in spots if not _overlap(label, s, fixed)]
            spot = min(spots, key=lambda s: _overlap(label, s, taken)) if spots else None
        if spot:
            placed[i] = _moved(label, *spot)
            taken.append((spot[0], spot[1], spot[0] + label.width, spot[1] + label.height))
    return placed


def _laid_out(label: Label, text_px: float, measure: Measure) -> PlacedLabel:
    """`label`'s parts with its top-left corner at 0, 0."""
    pad = max(2, round(text_px / 4))
    bar_height = max(3, round(text_px / 3))
    sizes = [[measure(s.text, s.size) for s in row] if not isinstance(row, Bar) else None for row in label.rows]
    widths = [sum(w for w, _ in row) + pad * (len(row) - 1) for row in sizes if row is not None]
    width = max(widths) + 2 * pad
    height = pad + sum((max(h for _, h in row) if row is not None else bar_height) + pad for row in sizes)
    texts, bars, cursor = [], [], pad
    for row, row_sizes in zip(label.rows, sizes):
        if isinstance(row, Bar):
            bars.append(PlacedBar(pad, cursor, width - 2 * pad, bar_height, row.fraction, row.colour))
            cursor += bar_height + pad
            continue
        cursor += max(h for _, h in row_sizes)
        left = pad
        for segment, (segment_width, _) in zip(row, row_sizes):
            texts.append(PlacedText(segment.text, segment.size, segment.colour, left, cursor))
            left += segment_width + pad
        cursor += pad
    return PlacedLabel(0, 0, width, height, label.colour, tuple(texts), tuple(bars), text_px)


def _moved(label: PlacedLabel, x: int, y: int) -> PlacedLabel:
    return replace(label, x=x, y=y, texts=tuple(replace(t, x=t.x + x, baseline=t.baseline + y) for t in label.texts),
                   bars=tuple(replace(b, x=b.x + x, y=b.y + y) for b in label.bars))


def _spots(box: Rect, width: int, height: int, bounds: Rect) -> list[tuple[int, int]]:
    """Where a label of this size may go, best first, kept within `bounds`."""
    left, top, right, bottom = box
    below, above = bottom + GAP, top - GAP - height
    steps = [k * height // 2 for k in range(1, 12)]
    rows = [below, above] + [below + s for s in steps] + [above - s for s in steps]
    spots = [(left, y) for y in rows] + [(x, y) for x in (right + GAP, left - GAP - width) for y in [top] + rows[:4]]
    max_x, max_y = max(bounds[0], bounds[2] - width), max(bounds[1], bounds[3] - height)
    return [(min(max(x, bounds[0]), max_x), min(max(y, bounds[1]), max_y)) for x, y in spots]


def _overlap(label: PlacedLabel, spot: tuple[int, int], rects: list[Rect]) -> int:
    """Pixels of `rects` the label would cover at `spot` (a pixel covered twice counts twice)."""
    x, y = spot
    return sum(max(0, min(x + label.width, c) - max(x, a)) * max(0, min(y + label.height, d) - max(y, b))
               for a, b, c, d in rects)
