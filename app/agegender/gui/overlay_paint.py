"""Paints overlay faces with QPainter in screen pixels: boxes and landmarks follow the video's scale,
label text keeps its size in screen pixels (times the label scale), so it stays sharp and readable at
any window size. The layout follows outputs/draw.py's annotate: one block per design under the face
(or wherever it covers no other face or label), a confidence bar, the design's colour."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen

from agegender.gui.overlay import LabelBlock, OverlayFace
from agegender.outputs.draw import _free_spot as free_spot

BASE_TEXT_PX = 15  # the bucket's size at label scale 1; the other segments are relative to it


def _qcolor(bgr) -> QColor:
    return QColor(int(bgr[2]), int(bgr[1]), int(bgr[0]))


def _font(px: float, bold: bool = False) -> QFont:
    font = QFont()
    font.setPixelSize(max(8, round(px)))
    font.setBold(bold)
    return font


def _lines(block: LabelBlock) -> list[list[tuple[str, float]]]:
    first = ([(block.tag, 0.6)] if block.tag else []) + [(block.bucket, 1.0), (block.age, 0.6)]
    return [first, list(block.gender)]


def _measure(lines, text_px: float, pad: int) -> tuple[int, int, list]:
    rows = []
    for segments in lines:
        widths, heights = [], []
        for text, rel in segments:
            metrics = QFontMetrics(_font(text_px * rel, rel >= 1.0))
            widths.append(metrics.horizontalAdvance(text))
            heights.append(metrics.ascent())
        rows.append((sum(widths) + pad * (len(widths) - 1), max(heights), widths))
    width = max(r[0] for r in rows) + 2 * pad
    return width, sum(r[1] + pad for r in rows) + pad, rows


def paint_faces(painter: QPainter, faces: list[OverlayFace], video: QRect, scale: float, *,
                label_scale: float = 1.0, landmarks: bool = False) -> None:
    """`video`: where the frame is painted in the widget; `scale`: widget pixels per frame pixel."""
    if not faces:
        return
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    text_px = BASE_TEXT_PX * label_scale
    pad = max(2, round(text_px / 4))
    bar = max(3, round(text_px / 3))
    boxes = [QRectF(video.x() + f.box[0] * scale, video.y() + f.box[1] * scale,
                    (f.box[2] - f.box[0]) * scale, (f.box[3] - f.box[1]) * scale) for f in faces]
    taken = [(int(b.left()), int(b.top()), int(b.right()), int(b.bottom())) for b in boxes]
    shape = (video.y() + video.height(), video.x() + video.width())
    line_px = max(1.5, 2 * label_scale)
    for face, box in sorted(zip(faces, boxes), key=lambda pair: pair[1].top()):
        designs = {block.design for block in face.labels}
        colour = _qcolor(face.labels[0].colour_bgr) if len(designs) == 1 else QColor(255, 255, 255)
        painter.setPen(QPen(colour, line_px))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(box)
        if landmarks:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 255, 0))
            for x, y in face.landmarks:
                painter.drawEllipse(QPointF(video.x() + x * scale, video.y() + y * scale), line_px, line_px)
        for block in face.labels:
            _paint_block(painter, block, int(box.left()), int(box.bottom()) + 2, int(box.top()) - 2, text_px, pad,
                         bar, taken, shape)


def _paint_block(painter: QPainter, block: LabelBlock, x: int, y: int, above: int, text_px: float, pad: int,
                 bar: int, taken: list, shape) -> None:
    lines = _lines(block)
    width, height, rows = _measure(lines, text_px, pad)
    height += bar + pad
    x, y = free_spot(x, y, width, height, taken, shape, above)
    x = max(x, 0)
    taken.append((x, y, x + width, y + height))
    colour = _qcolor(block.colour_bgr)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 165))
    painter.drawRect(x, y, width, height)
    painter.setPen(QColor(255, 255, 255))
    cursor = y + pad
    for segments, (_, row_height, widths) in zip(lines, rows):
        cursor += row_height
        left = x + pad
        for (text, rel), seg_width in zip(segments, widths):
            painter.setFont(_font(text_px * rel, rel >= 1.0))
            painter.drawText(left, cursor, text)
            left += seg_width + pad
        cursor += pad
    bar_width = width - 2 * pad
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(90, 90, 90))
    painter.drawRect(x + pad, cursor, bar_width, bar)
    painter.setBrush(colour)
    painter.drawRect(x + pad, cursor, round(bar_width * block.confidence), bar)
    painter.setPen(QPen(colour, 1))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(x, y, width - 1, height - 1)
