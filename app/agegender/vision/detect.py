"""MTCNN face detection on ONNX Runtime: boxes, scores and five landmarks.

Follows facenet-pytorch's detect_face step by step (pyramid, P-Net per scale, NMS, regression,
squaring, R-Net, O-Net). Two presets of settings (PRESETS): "reference" is facenet-pytorch's
detect_face exactly, and tests/test_detect_parity.py holds it to facenet-pytorch's faces; "fast", the
default, sends R-Net only the P-Net candidates near a confident one, and tests/test_detect_recall.py
holds it to the recall gate of agegender.commands.bench.detection. R-Net and O-Net each run once per
frame on all candidates.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from agegender.paths import MTCNN_DIR
from agegender.vision.precision import float_precision
from agegender.vision.runtime import active_provider, choose_providers, open_session

PNET_STRIDE = 2
PNET_CELL = 12  # P-Net's window: the smallest face it can see at full resolution
DEFAULT_MIN_FACE = 20
DEFAULT_THRESHOLDS = (0.6, 0.7, 0.7)  # P-Net, R-Net, O-Net


@dataclass(frozen=True)
class DetectorSettings:
    """The detector's parameters and their rules; config.Settings checks its own through this class.

    The defaults are the "fast" preset. `seed_score` is what makes it fast: of the P-Net candidates
    (after NMS, regression and squaring) only those overlapping, with IoU >= `seed_iou`, one that scores
    at least `seed_score` go on to R-Net. A face's own candidates cluster around a confident one and are
    all kept, so a face that is found comes out of the same R-Net and O-Net inputs as in the reference
    (the same box and landmarks); lone weak candidates, mostly background, are dropped. 0 keeps every
    candidate, as facenet-pytorch does. The pyramid and the thresholds are the reference's in both
    presets: a coarser pyramid, a higher P-Net threshold, a cap on candidates or a cheaper resize each
    lost more faces than the recall gate allows (docs/face-detection.md).
    """

    min_face: int = DEFAULT_MIN_FACE
    thresholds: tuple[float, float, float] = DEFAULT_THRESHOLDS
    scale_factor: float = 0.709
    seed_score: float = 0.85
    seed_iou: float = 0.5

    def __post_init__(self) -> None:
        if self.min_face < PNET_CELL:
            raise ValueError(f"'min_face' must be at least {PNET_CELL} pixels, got {self.min_face}")
        if not 0.1 <= self.scale_factor < 1:
            raise ValueError(f"'scale_factor' must be in [0.1, 1), got {self.scale_factor}")
        if len(self.thresholds) != 3 or not all(0 <= t <= 1 for t in self.thresholds):
            raise ValueError(f"'thresholds' must be three numbers in [0, 1], got {list(self.thresholds)}")
        if not (0 <= self.seed_score <= 1 and 0 <= self.seed_iou <= 1):
            raise ValueError(f"'seed_score' and 'seed_iou' must be in [0, 1], got {self.seed_score}, {self.seed_iou}")

    @classmethod
    def preset(cls, name: str = "fast", min_face: int = DEFAULT_MIN_FACE,
               thresholds: tuple[float, float, float] | list | None = None) -> "DetectorSettings":
        """The preset `name` ("fast" or "reference") at this minimum face size. `thresholds` (P-Net, R-Net,
        O-Net; the `thresholds` setting) replace the preset's where given, with either preset; None keeps
        the preset's (today both presets use MTCNN's own, DEFAULT_THRESHOLDS)."""
        if name not in PRESETS:
            raise ValueError(f"'detector' must be one of {', '.join(PRESETS)}, got {name!r}")
        chosen = PRESETS[name]
        return replace(chosen, min_face=min_face,
                       thresholds=chosen.thresholds if thresholds is None else tuple(thresholds))


DEFAULT_PRESET = "fast"
PRESETS = {
    "fast": DetectorSettings(),  # the defaults above
    "reference": DetectorSettings(seed_score=0.0),  # facenet-pytorch's detect_face exactly
}


@dataclass
class Detections:
    """Faces of one frame as parallel arrays: boxes [x1, y1, x2, y2], scores, landmarks (5 x [x, y])."""

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((0, 5, 2), np.float32))

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index) -> "Detections":
        return Detections(self.boxes[index], self.scores[index], self.landmarks[index])


def pyramid_scales(height: int, width: int, settings: DetectorSettings) -> list[float]:
    scale = PNET_CELL / settings.min_face
    side = min(height, width) * scale
    scales = []
    while side >= PNET_CELL:
        scales.append(scale)
        scale *= settings.scale_factor
        side *= settings.scale_factor
    return scales


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by OpenCV's IoU non-maximum suppression, best score first."""
    if len(boxes) == 0:
        return np.zeros((0,), np.int64)
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:4] - boxes[:, :2]]).astype(np.float64)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.astype(np.float32).tolist(), 0.0, iou_threshold)
    return np.asarray(keep, np.int64).reshape(-1)


def nms_min(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Non-maximum suppression on intersection over the *smaller* area, MTCNN's last step.

    OpenCV only offers IoU; this variant also removes a small box lying inside a larger one.
    """
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores, kind="stable")
    keep = []
    while order.size:
        best, rest = order[-1], order[:-1]
        keep.append(best)
        w = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1)
        overlap = w * h / np.minimum(area[best], area[rest])
        order = rest[overlap <= threshold]
    return np.asarray(keep, np.int64)


def square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square around its centre (MTCNN's 'rerec')."""
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def regress(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Apply R-Net/O-Net box regression (offsets in units of the inclusive box size)."""
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out[:, 0] += offsets[:, 0] * w
    out[:, 1] += offsets[:, 1] * h
    out[:, 2] += offsets[:, 2] * w
    out[:, 3] += offsets[:, 3] * h
    return out


MTCNN_STAGES = ("pnet", "rnet", "onet")  # the three networks, each a file in the mtcnn/ folder

class MtcnnDetector:
    def __init__(self, settings: DetectorSettings = DetectorSettings(), model_dir: Path = MTCNN_DIR,
                 providers: list[str] | None = None, threads: int = 0, precision: str = "auto") -> None:
        """precision: as the setting, for each of the three networks (auto: BF16 where that network passed
        its gate and the CPU computes it natively; bf16; anything else: FP32). .precisions says which
        runs for each, .precision sums them up ("fp32", "bf16", or "bf16/fp32")."""
        self.settings, self.model_dir, self.precision_setting = settings, Path(model_dir), precision
        self.providers = providers or choose_providers()
        self.precisions = {stage: float_precision(precision, self.providers, self.model_dir.parent,
                                                  [f"{self.model_dir.name}/{stage}.onnx"]) for stage in MTCNN_STAGES}
        self.precision = "/".join(sorted(set(self.precisions.values())))
        sessions = {stage: open_session(self.model_dir / f"{stage}.onnx", self.providers, threads=threads,
                                        layout_optimizations=stage != "pnet", precision=self.precisions[stage],
                                        static_shapes=stage == "pnet")
                    for stage in MTCNN_STAGES}
        self._pnet, self._rnet, self._onet = (sessions[stage] for stage in MTCNN_STAGES)
        # video frames run P-Net compiled per pyramid level where the runtime offers it (OpenVINO)
        self._pnet_on_frames = getattr(self._pnet, "run_static", self._pnet.run)
        self.provider = active_provider(self._pnet)

    def detect(self, image_bgr: np.ndarray, compile_for_size: bool = True) -> Detections:
        """Faces in an 8-bit BGR image (as OpenCV reads it). `compile_for_size`: P-Net may be compiled for
        this image's size (video frames: their size comes again); not for photos and crops, whose sizes may
        never come again."""
        # (the RGB copy is let go once summed: a 48-megapixel photo's is 145 MB)
        return self._detect_sums(cv2.integral(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)), compile_for_size)

    def detect_rgb(self, rgb: np.ndarray, compile_for_size: bool = True) -> Detections:
        return self._detect_sums(cv2.integral(rgb), compile_for_size)

    def _detect_sums(self, sums: np.ndarray, compile_for_size: bool) -> Detections:
        """`sums`: the image's integral image, (h + 1, w + 1, 3) int32: every resize reads window sums off it."""
        boxes = self._propose(sums, compile_for_size)
        if len(boxes):
            boxes = self._refine(sums, boxes)
        if not len(boxes):
            return Detections()
        return self._output(sums, boxes)

    def detect_near(self, image_bgr: np.ndarray, boxes: np.ndarray) -> Detections:
        """Tracking mode: faces near known boxes, by R-Net and O-Net on squares around each box (a few
        shifts and sizes), without the P-Net pyramid. New faces elsewhere are not looked for."""
        if not len(boxes):
            return Detections()
        sums = cv2.integral(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
        refined = self._refine(sums, region_candidates(boxes))
        return self._output(sums, refined) if len(refined) else Detections()

    def _propose(self, sums: np.ndarray, compile_for_size: bool) -> np.ndarray:
        """Stage 1: P-Net over the pyramid; returns squared candidate boxes with scores (N, 5)."""
        height, width = sums.shape[0] - 1, sums.shape[1] - 1
        t_pnet = self.settings.thresholds[0]
        candidates = []
        run_pnet = self._pnet_on_frames if compile_for_size else self._pnet.run
        for scale in pyramid_scales(height, width, self.settings):
            level_height, level_width = int(height * scale + 1), int(width * scale + 1)
            for first_cell, rows, keep_cells in level_bands(level_height, level_width):
                level = area_resize(sums, level_height, level_width, rows)
                prob, offsets = run_pnet(None, {"pixels": level[None]})
                prob, offsets = prob[:, :keep_cells], offsets[:, :, :keep_cells]
                ys, xs = np.nonzero(prob[0] >= t_pnet)
                if not len(ys):
                    continue
                cell = np.column_stack([xs, ys + first_cell]).astype(np.float32)
                top_left = np.floor((PNET_STRIDE * cell + 1) / scale)
                bottom_right = np.floor((PNET_STRIDE * cell + PNET_CELL) / scale)
                found = np.column_stack([top_left, bottom_right, prob[0, ys, xs], offsets[0][:, ys, xs].T])
                candidates.append(found[nms(found[:, :4], found[:, 4], 0.5)])
        if not candidates:
            return np.zeros((0, 5), np.float32)
        found = np.concatenate(candidates)
        found = found[nms(found[:, :4], found[:, 4], 0.7)]
        w = found[:, 2] - found[:, 0]
        h = found[:, 3] - found[:, 1]
        shift = found[:, 5:9] * np.column_stack([w, h, w, h])
        boxes = square(np.column_stack([found[:, :4] + shift, found[:, 4]]))
        if self.settings.seed_score:
            boxes = near_seeds(boxes, self.settings.seed_score, self.settings.seed_iou)
        return boxes

    def _refine(self, sums: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Stage 2: R-Net on the candidates (in calls of at most PIXELS_PER_CALL)."""
        boxes, outputs = _in_chunks(self._rnet, sums, boxes, 24)
        if not len(boxes):
            return boxes
        prob, offsets = outputs
        keep = prob > self.settings.thresholds[1]
        boxes = np.column_stack([boxes[keep, :4], prob[keep]])
        offsets = offsets[keep]
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
        return square(regress(boxes[pick], offsets[pick]))

    def _output(self, sums: np.ndarray, boxes: np.ndarray) -> Detections:
        """Stage 3: O-Net on the survivors (in calls of at most PIXELS_PER_CALL); final boxes and landmarks."""
        boxes, outputs = _in_chunks(self._onet, sums, boxes, 48)
        if not len(boxes):
            return Detections()
        prob, offsets, points = outputs
        keep = prob > self.settings.thresholds[2]
        boxes = np.column_stack([boxes[keep, :4], prob[keep]])
        offsets, points = offsets[keep], points[keep]
        w = boxes[:, 2] - boxes[:, 0] + 1
        h = boxes[:, 3] - boxes[:, 1] + 1
        landmarks = np.stack([w[:, None] * points[:, :5] + boxes[:, 0:1] - 1,
                              h[:, None] * points[:, 5:] + boxes[:, 1:2] - 1], axis=-1)
        boxes = regress(boxes, offsets)
        pick = nms_min(boxes[:, :4], boxes[:, 4], 0.7)
        return Detections(boxes[pick, :4].astype(np.float32), boxes[pick, 4].astype(np.float32),
                          landmarks[pick].astype(np.float32))


# Bounds on the memory one detection's networks take, whatever the picture's size (a 48-megapixel photo of
# a few hundred faces). A 1080p frame has no pyramid level to cut (its largest is 0.75 MP), so it runs as
# it always has.
PNET_BAND_PIXELS = 2_000_000  # pyramid levels larger than this go through P-Net in bands of rows
PIXELS_PER_CALL = 1_200_000  # R-Net and O-Net: crops per call, by their pixels (2,083 of R-Net's, 520 of O-Net's)


def level_bands(height: int, width: int) -> list[tuple[int, slice, int]]:
    """How a pyramid level of height x width goes through P-Net: (first output cell row, input rows, output
    cell rows kept) per band. Small levels are one band. A large one is cut into bands of whole rows that
    start on even rows (P-Net's stride) and overlap by PNET_CELL - PNET_STRIDE rows, each keeping the
    output cells whose 12-pixel window lies inside it, so the cells are those of the whole level, once each."""
    if height * width <= PNET_BAND_PIXELS:
        return [(0, slice(0, height), height)]
    step = max(2 * PNET_STRIDE, (PNET_BAND_PIXELS // width - (PNET_CELL - PNET_STRIDE)) // 2 * 2)
    bands = []
    for start in range(0, height, step):
        stop = min(height, start + step + PNET_CELL - PNET_STRIDE)
        if stop - start < PNET_CELL:
            break
        last = stop == height
        bands.append((start // PNET_STRIDE, slice(start, stop), height if last else step // PNET_STRIDE))
        if last:
            break
    return bands


def _in_chunks(session, sums: np.ndarray, boxes: np.ndarray, size: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The boxes that gave a patch, and `session`'s outputs for them, run on at most PIXELS_PER_CALL
    pixels of patches at a time."""
    kept, outputs = [], []
    per_call = max(1, PIXELS_PER_CALL // (size * size))
    for start in range(0, len(boxes), per_call):
        patches, valid = crop_patches(sums, boxes[start:start + per_call], size)
        if len(valid):
            kept.append(valid)
            outputs.append(session.run(None, {"pixels": patches}))
    if not kept:
        return boxes[:0], []
    return np.concatenate(kept), [np.concatenate(parts) for parts in zip(*outputs)]


NEAR_SEEDS_BLOCK_ELEMENTS = 1 << 22  # candidate-seed pairs compared at once (~64 MB of float32 pairs)


def near_seeds(boxes: np.ndarray, seed_score: float, seed_iou: float) -> np.ndarray:
    """The candidates (N, 5) that overlap, with IoU >= seed_iou, a candidate scoring >= seed_score
    (seeds overlap themselves, so they are kept)."""
    seeds = boxes[boxes[:, 4] >= seed_score]
    if not len(seeds):
        return boxes[:0]
    seed_area = np.prod(seeds[:, 2:4] - seeds[:, :2], axis=1)
    keep = np.zeros(len(boxes), bool)
    # In blocks of candidates: a crowded 48-megapixel photo has ~20,000 candidates and ~10,000 seeds,
    # whose full IoU matrix alone would take gigabytes.
    block = max(1, NEAR_SEEDS_BLOCK_ELEMENTS // len(seeds))
    for start in range(0, len(boxes), block):
        part = boxes[start:start + block]
        top_left = np.maximum(part[:, None, :2], seeds[None, :, :2])
        bottom_right = np.minimum(part[:, None, 2:4], seeds[None, :, 2:4])
        inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
        area = np.prod(part[:, 2:4] - part[:, :2], axis=1)
        iou = inter / np.maximum(area[:, None] + seed_area[None, :] - inter, 1e-9)
        keep[start:start + block] = iou.max(axis=1) >= seed_iou
    return boxes[keep]


def region_candidates(boxes: np.ndarray) -> np.ndarray:
    """Squares around each box at 3 sizes and 5 positions, as stage-2 candidates (N * 15, 5)."""
    squared = square(np.column_stack([boxes[:, :4], np.ones(len(boxes))]))
    centre = (squared[:, :2] + squared[:, 2:4]) / 2
    side = squared[:, 2] - squared[:, 0]
    out = []
    for size in (0.9, 1.0, 1.15):
        for dx, dy in ((0, 0), (-0.1, 0), (0.1, 0), (0, -0.1), (0, 0.1)):
            c = centre + np.column_stack([dx * side, dy * side])
            half = (size * side / 2)[:, None]
            out.append(np.column_stack([c - half, c + half, np.ones(len(boxes))]))
    return np.concatenate(out).astype(np.float32)


def crop_patches(sums: np.ndarray, boxes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut each box (clipped to the image, as MTCNN does) and area-resize it to size x size.

    `sums` is the frame's integral image. Returns the float32 NHWC batch and the boxes that gave a
    non-empty patch. Window sums are gathered with flat indices, the fastest gather numpy has.
    """
    height, width = sums.shape[0] - 1, sums.shape[1] - 1
    ints = np.trunc(boxes[:, :4]).astype(np.int64)
    x1 = np.maximum(ints[:, 0], 1) - 1
    y1 = np.maximum(ints[:, 1], 1) - 1
    x2 = np.minimum(ints[:, 2], width)
    y2 = np.minimum(ints[:, 3], height)
    valid = (x2 > x1) & (y2 > y1)
    if not valid.any():
        return np.zeros((0, size, size, 3), np.float32), boxes[:0]
    y_first, y_last = area_windows(y1[valid], y2[valid], size)
    x_first, x_last = area_windows(x1[valid], x2[valid], size)
    flat = sums.reshape(-1, 3)
    top, bottom = (y_first * (width + 1))[:, :, None], (y_last * (width + 1))[:, :, None]
    left, right = x_first[:, None, :], x_last[:, None, :]
    total = (np.take(flat, bottom + right, axis=0) - np.take(flat, top + right, axis=0)
             - np.take(flat, bottom + left, axis=0) + np.take(flat, top + left, axis=0))
    inverse_count = (1.0 / ((y_last - y_first)[:, :, None] * (x_last - x_first)[:, None, :])).astype(np.float32)
    return total.astype(np.float32) * inverse_count[..., None], boxes[valid]


def area_windows(start: np.ndarray, end: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Source windows [first, last) of area interpolation from spans [start, end) to `size` cells.

    The windows of PyTorch's adaptive average pooling, which facenet-pytorch's 'area' resize uses:
    cell i covers floor(i * n / size) to ceil((i + 1) * n / size). Returns arrays of shape (len(start), size).
    """
    length = (end - start)[:, None]
    cells = np.arange(size)[None, :]
    first = start[:, None] + (cells * length) // size
    last = start[:, None] - (-(cells + 1) * length // size)
    return first, last


def area_resize(sums: np.ndarray, out_height: int, out_width: int, rows: slice = slice(None)) -> np.ndarray:
    """Area-resize a whole image, given its integral image (h + 1, w + 1, 3) from cv2.integral; `rows`:
    only those rows of the result (a band of a large pyramid level).

    Exactly PyTorch's adaptive average pooling (see area_windows): each output pixel is a window sum
    read off the integral image, so a pyramid level costs about its own size, not the frame's.
    """
    height, width = sums.shape[0] - 1, sums.shape[1] - 1
    y_first, y_last = (w[0][rows] for w in area_windows(np.array([0]), np.array([height]), out_height))
    x_first, x_last = (w[0] for w in area_windows(np.array([0]), np.array([width]), out_width))
    rows = np.take(sums, y_last, axis=0) - np.take(sums, y_first, axis=0)  # np.take: 2x fancy indexing
    total = (np.take(rows, x_last, axis=1) - np.take(rows, x_first, axis=1)).astype(np.float32)
    inverse_count = (1.0 / ((y_last - y_first)[:, None] * (x_last - x_first)[None, :])).astype(np.float32)
    return total * inverse_count[..., None]
