"""Renders assets/icon.svg to the PNG sizes the desktop and the window use:
python packaging/render_icon.py (run again after editing the SVG)."""
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ASSETS = Path(__file__).resolve().parent.parent / "assets"

app = QGuiApplication(sys.argv[:1])
renderer = QSvgRenderer(str(ASSETS / "icon.svg"))
for size in (256, 64):
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    image.save(str(ASSETS / f"icon-{size}.png"))
