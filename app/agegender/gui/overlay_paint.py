"""Paints overlay faces with QPainter in screen pixels: boxes and landmarks follow the video's scale,
label text keeps its size in screen pixels (times the label scale), so it stays sharp and readable at
any window size. What a label says and where its parts go is outputs/labels.py's, as for OpenCV."""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen

from agegender.gui.overlay import OverlayFace
from agegender.outputs.labels import (BAR_BACKGROUND, BUCKET_SIZE, OTHER_DESIGN_COLOUR, PANEL_OPACITY, Measure,
                                      PlacedLabel, Rect, place_labels)

BASE_TEXT_PX = 15  # the bucket's size at label scale 1; the other segments are relative to it


def _qcolor(bgr) -> QColor:
    return QColor(int(bgr[2]), int(bgr[1]), int(bgr[0]))


def _font(px: float, bold: bool = False) -> QFont:
    font = QFont()
    font.setPixelSize(max(8, round(px)))
    font.setBold(bold)
    return font


def _segment_font(text_px: float, size: float) -> QFont:
    return _font(text_px * size, size >= BUCKET_SIZE)


def _measure(text_px: float) -> Measure:
    def measure(text: str, size: float) -> tuple[int, int]:
        metrics = QFontMetrics(_segment_font(text_px, size))
        return metrics.horizontalAdvance(text), metrics.ascent()
    return measure


def screen_boxes(faces: list[OverlayFace], video: QRect, scale: float) -> list[QRectF]:
    return [QRectF(video.x() + f.box[0] * scale, video.y() + f.box[1] * scale,
                   (f.box[2] - f.box[0]) * scale, (f.box[3] - f.box[1]) * scale) for f in faces]


def place_face_labels(faces: list[OverlayFace], video: QRect, scale: float, label_scale: float = 1.0,
                      keep_off: tuple[Rect, ...] = ()) -> list[PlacedLabel | None]:
    """Each face's label in widget pixels, kept off every face's box and off `keep_off` (the kiosk's
    privacy notice): a label larger than at scale 1 shrinks towards it where it would not fit."""
    boxes = [(math.floor(b.left()), math.floor(b.top()), math.ceil(b.right()), math.ceil(b.bottom()))
             for b in screen_boxes(faces, video, scale)]
    bounds = (video.x(), video.y(), video.x() + video.width(), video.y() + video.height())
    return place_labels([f.label for f in faces], boxes, BASE_TEXT_PX * label_scale, _measure, bounds, keep_off,
                        smallest_px=BASE_TEXT_PX)


def paint_faces(painter: QPainter, faces: list[OverlayFace], video: QRect, scale: float, *,
                label_scale: float = 1.0, landmarks: bool = False, keep_off: tuple[Rect, ...] = ()) -> None:
    """`video`: where the frame is painted in the widget; `scale`: widget pixels per frame pixel;
    `keep_off`: widget rectangles no label may cover."""
    if not faces:
        return
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    line_px = max(1.5, 2 * label_scale)
    for face, box in zip(faces, screen_boxes(faces, video, scale)):
        painter.setPen(QPen(_qcolor(face.label.colour if face.label else OTHER_DESIGN_COLOUR), line_px))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(box)
        if landmarks:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 255, 0))
            for x, y in face.landmarks:
                painter.drawEllipse(QPointF(video.x() + x * scale, video.y() + y * scale), line_px, line_px)
    for placed in place_face_labels(faces, video, scale, label_scale, keep_off):
        if placed:
            _paint(painter, placed)


def _paint(painter: QPainter, placed: PlacedLabel) -> None:
    text_px = placed.text_px
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, round(255 * PANEL_OPACITY)))
    painter.drawRect(placed.x, placed.y, placed.width, placed.height)
    for text in placed.texts:
        painter.setPen(_qcolor(text.colour))
        painter.setFont(_segment_font(text_px, text.size))
        painter.drawText(text.x, text.baseline, text.text)
    painter.setPen(Qt.PenStyle.NoPen)
    for bar in placed.bars:
        painter.setBrush(_qcolor(BAR_BACKGROUND))
        painter.drawRect(bar.x, bar.y, bar.width, bar.height)
        painter.setBrush(_qcolor(bar.colour))
        painter.drawRect(bar.x, bar.y, round(bar.width * bar.fraction), bar.height)
    painter.setPen(QPen(_qcolor(placed.colour), 1))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(placed.x, placed.y, placed.width - 1, placed.height - 1)
