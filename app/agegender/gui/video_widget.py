"""Paints the newest annotated frame, scaled to the widget with its aspect kept, and any overlay
message (no camera, camera lost, attract screen, privacy notice)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QWidget


class VideoWidget(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self.message = ""  # large centred text over the video (or over black)
        self.notice = ""  # small text at the bottom (kiosk privacy notice)
        self.setMinimumSize(320, 180)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def show_frame(self, image_bgr: np.ndarray) -> None:
        height, width = image_bgr.shape[:2]
        data = np.ascontiguousarray(image_bgr)
        self._image = QImage(data.data, width, height, data.strides[0], QImage.Format.Format_BGR888).copy()
        self.update()

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

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self.video_rect(), self._image)
        if self.message:
            font = QFont()
            font.setPixelSize(max(18, self.height() // 18))
            font.setBold(True)
            painter.setFont(font)
            band = QRect(0, self.height() // 2 - font.pixelSize() * 2, self.width(), font.pixelSize() * 4)
            painter.fillRect(band, QColor(0, 0, 0, 170))
            painter.setPen(Qt.GlobalColor.white)
            painter.drawText(band, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
        if self.notice:
            font = QFont()
            font.setPixelSize(max(14, self.height() // 40))
            painter.setFont(font)
            band = QRect(0, self.height() - font.pixelSize() * 2, self.width(), font.pixelSize() * 2)
            painter.fillRect(band, QColor(0, 0, 0, 150))
            painter.setPen(Qt.GlobalColor.white)
            painter.drawText(band, Qt.AlignmentFlag.AlignCenter, self.notice)
        painter.end()
