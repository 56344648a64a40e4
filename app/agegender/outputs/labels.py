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
from dataclasses import dataclass

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


Measure = Callable[[str, float], tuple[int, int]]  # (text, relative size) -> (width, height above baseline)


def place_label(label: Label, below: tuple[int, int], above: int, text_px: float, measure: Measure,
                taken: list, picture: tuple[int, int]) -> PlacedLabel:
    """Where each part of `label` goes: under the face (`below` is the box's bottom-left corner), else
    above it (`above`: the box's top), else wherever it covers no face or label already in `taken` (to
    which it is added). `text_px`: the bucket's height in pixels; `picture`: (height, width)."""
    pad = max(2, round(text_px / 4))
    bar_height = max(3, round(text_px / 3))
    sizes = [[measure(s.text, s.size) for s in row] if not isinstance(row, Bar) else None for row in label.rows]
    widths = [sum(w for w, _ in row) + pad * (len(row) - 1) for row in sizes if row is not None]
    width = max(widths) + 2 * pad
    height = pad + sum((max(h for _, h in row) if row is not None else bar_height) + pad for row in sizes)
    x, y = free_spot(below[0], below[1], width, height, taken, picture, above)
    taken.append((x, y, x + width, y + height))
    texts, bars, cursor = [], [], y + pad
    for row, row_sizes in zip(label.rows, sizes):
        if isinstance(row, Bar):
            bars.append(PlacedBar(x + pad, cursor, width - 2 * pad, bar_height, row.fraction, row.colour))
            cursor += bar_height + pad
            continue
        cursor += max(h for _, h in row_sizes)
        left = x + pad
        for segment, (segment_width, _) in zip(row, row_sizes):
            texts.append(PlacedText(segment.text, segment.size, segment.colour, left, cursor))
            left += segment_width + pad
        cursor += pad
    return PlacedLabel(x, y, width, height, label.colour, tuple(texts), tuple(bars))


def free_spot(x: int, y: int, width: int, height: int, taken: list, picture: tuple[int, ...],
              above: int) -> tuple[int, int]:
    """Below the face if free, else above it, else further down or up, else beside: labels do not cover
    each other. In a crowd where nothing is free, the place that covers the least. `picture`: (height,
    width, ...)."""
    max_x, max_y = max(0, picture[1] - width), max(0, picture[0] - height)

    def clear(px, py):  # stops at the first face or label in the way
        return all(px + width <= a or px >= c or py + height <= b or py >= d for a, b, c, d in taken)

    def overlap(px, py):
        return sum(max(0, min(px + width, c) - max(px, a)) * max(0, min(py + height, d) - max(py, b))
                   for a, b, c, d in taken)
    steps = [k * height // 2 for k in range(1, 12)]
    candidates = [(x, y), (x, above - height)] + [(x, y + s) for s in steps] + [(x, above - height - s) for s in steps]
    candidates += [(x + dx, cy) for dx in (width, -width) for _, cy in candidates[:4]]
    spots = [(min(max(int(cx), 0), max_x), min(max(int(cy), 0), max_y)) for cx, cy in candidates]
    for spot in spots:
        if clear(*spot):
            return spot
    return min(spots, key=lambda spot: overlap(*spot))
