"""Paints the newest frame, scaled to the widget with its aspect kept, the faces over it (with
QPainter, in screen pixels: gui/overlay_paint.py) and any message (no camera, camera lost, attract
screen, privacy notice). Says by a signal when a new frame has been painted, with its capture time."""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QWidget

from agegender.gui.overlay_paint import paint_faces


class VideoWidget(QWidget):
    frame_painted = Signal(int, float)  # frame index, captured_at (time.monotonic)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self.faces: list = []  # OverlayFace, in frame pixels
        self.label_scale = 1.0
        self.landmarks = False
        self._unpainted: tuple[int, float] | None = None  # a new frame waiting for its first paint
        self._unpainted_since = 0.0
        self.message = ""  # large centred text over the video (or over black)
        self.notice = ""  # small text at the bottom (kiosk privacy notice)
        self.setMinimumSize(320, 180)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def show_frame(self, image_bgr: np.ndarray, faces: list | None = None, index: int | None = None,
                   captured_at: float = 0.0) -> None:
        """A frame to paint, with the faces to draw over it. With `index`, a new frame from the source
        (frame_painted follows once it is on screen); without, the same frame redrawn (new faces)."""
        height, width = image_bgr.shape[:2]
        pixels = np.ascontiguousarray(image_bgr)
        # A deep copy: a QImage left sharing a numpy buffer crashed PySide6 in paintEvent (a refcount
        # error on None, under load); the copy costs about a millisecond at 720p.
        self._image = QImage(pixels.data, width, height, pixels.strides[0], QImage.Format.Format_BGR888).copy()
        self.faces = faces or []
        if index is not None:
            self._unpainted, self._unpainted_since = (index, captured_at), time.monotonic()
        self.update()

    def set_faces(self, faces: list) -> None:
        self.faces = faces
        self.update()

    def waiting_to_paint_for(self) -> float:
        """Seconds the newest frame has waited for its first paint; 0 if it was painted."""
        return time.monotonic() - self._unpainted_since if self._unpainted else 0.0

    def frame_size(self) -> tuple[int, int] | None:
        return (self._image.width(), self._image.height()) if self._image is not None else None

    def frame_scale(self) -> float:
        """Screen pixels per frame pixel at the current size."""
        if not self._image:
            return 1.0
        return min(self.width() / self._image.width(), self.height() / self._image.height())

    def video_rect(self) -> QRect:
        if not self._image:
            return QRect()
        scale = self.frame_scale()
        w, h = int(self._image.width() * scale), int(self._image.height() * scale)
        return QRect((self.width() - w) // 2, (self.height() - h) // 2, w, h)

    def _notice_px(self) -> int:
        return max(14, self.height() // 40)

    def notice_band(self) -> QRect | None:
        """Where the notice is painted, across the bottom; None without a notice."""
        if not self.notice:
            return None
        return QRect(0, self.height() - self._notice_px() * 2, self.width(), self._notice_px() * 2)

    def labels_keep_off(self) -> tuple[tuple[int, int, int, int], ...]:
        """What no label may cover, as (left, top, right, bottom): the notice."""
        band = self.notice_band()
        return ((band.x(), band.y(), band.x() + band.width(), band.y() + band.height()),) if band else ()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self.video_rect(), self._image)
            paint_faces(painter, self.faces, self.video_rect(), self.frame_scale(), label_scale=self.label_scale,
                        landmarks=self.landmarks, keep_off=self.labels_keep_off())
        if self.message:
            font = QFont()
            font.setPixelSize(max(18, self.height() // 18))
            font.setBold(True)
            painter.setFont(font)
            band = QRect(0, self.height() // 2 - font.pixelSize() * 2, self.width(), font.pixelSize() * 4)
            painter.fillRect(band, QColor(0, 0, 0, 170))
            painter.setPen(Qt.GlobalColor.white)
            painter.drawText(band, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
        if notice := self.notice_band():
            font = QFont()
            font.setPixelSize(self._notice_px())
            painter.setFont(font)
            painter.fillRect(notice, QColor(0, 0, 0, 150))
            painter.setPen(Qt.GlobalColor.white)
            painter.drawText(notice, Qt.AlignmentFlag.AlignCenter, self.notice)
        painter.end()
        if self._unpainted is not None and self._image is not None:
            index, captured_at = self._unpainted
            self._unpainted = None
            self.frame_painted.emit(index, captured_at)
