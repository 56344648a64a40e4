"""The playback bar under the video, for files: pause/play, step, loop, a seek slider that moves with
playback and seeks while it is dragged, and the time (mm:ss / mm:ss). Hidden for cameras and streams."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QToolButton, QWidget

from agegender.sources.capture import FALLBACK_FPS


def clock(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


class PlaybackBar(QWidget):
    seek_requested = Signal(int)  # a frame index asked for by the user (dragging, clicking, keys)

    def __init__(self, actions, parent=None) -> None:
        """`actions`: the Playback menu's pause, step and loop actions, shared with it (one state)."""
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        self.buttons = []
        for action in actions:
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            layout.addWidget(button)
            self.buttons.append(button)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setTracking(True)
        self.slider.valueChanged.connect(self._moved_by_user)
        layout.addWidget(self.slider, 1)
        self.time_label = QLabel(clock(0) + " / " + clock(0))
        layout.addWidget(self.time_label)
        self.fps = FALLBACK_FPS
        self._total = clock(0)
        self._following = False

    def set_source(self, frame_count: int, fps: float) -> None:
        self.fps = fps if fps > 0 else FALLBACK_FPS
        self._following = True
        self.slider.setRange(0, max(frame_count - 1, 0))
        self._following = False
        self._total = clock(frame_count / self.fps)
        self.time_label.setText(f"{clock(self.slider.value() / self.fps)} / {self._total}")

    def follow(self, index: int) -> None:
        """The frame on screen now: the slider and the time follow it, unless the slider is held."""
        if self.slider.isSliderDown():
            return
        self._following = True
        self.slider.setValue(index)
        self._following = False
        self.time_label.setText(f"{clock(index / self.fps)} / {self._total}")

    def _moved_by_user(self, value: int) -> None:
        if not self._following:
            self.time_label.setText(f"{clock(value / self.fps)} / {self._total}")
            self.seek_requested.emit(value)
