"""The kiosk: full screen, frameless, no menus, no cursor, nothing written to disk, a file that loops,
bigger labels, a privacy notice, and a line that invites passers-by when nobody has been seen for a while.
Only a key chord (the kiosk_exit_keys setting) closes it."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication

from agegender.config import KIOSK_LABEL_SCALE

PRIVACY_NOTICE = "Nothing is recorded or stored. Age and gender are estimates, and often wrong."
ATTRACT = "Step closer: how old do I think you are?"
STARTING = "Starting…"  # until the first result: nobody in view is told to step closer meanwhile


class Kiosk:
    def __init__(self, window) -> None:
        self.window, settings = window, window.settings
        window.menuBar().hide()
        window.statusBar().hide()
        window.compare_panel.setVisible(False)
        window.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
        settings.label_scale *= KIOSK_LABEL_SCALE
        window.playback.hide()
        window.menus.loop.setChecked(True)  # a file at a demo stand plays on: nobody is there to press Play
        window.video.notice = PRIVACY_NOTICE
        for action in (window.menus.record, window.menus.snapshot, window.menus.export):
            action.setEnabled(False)  # menus are hidden, but their shortcuts would still fire
        QApplication.setOverrideCursor(Qt.CursorShape.BlankCursor)
        self._exit = QShortcut(QKeySequence(settings.kiosk_exit_keys), window)
        self._exit.setContext(Qt.ShortcutContext.ApplicationShortcut)
        self._exit.activated.connect(window.close)

    def show(self) -> None:
        self.window.setGeometry(self.window.screen().geometry())  # also without a window manager
        self.window.showFullScreen()

    @staticmethod
    def message(state: str, message: str, idle_s: float | None, attract_after_s: float) -> str:
        """What the kiosk shows over the video for the source's state: no hint to press keys. `idle_s`:
        how long no face has been found, None before the first result."""
        if state == "lost":
            return f"Camera lost — reconnecting…\n{message}"
        if state == "running" and idle_s is None:
            return STARTING
        if state == "running":
            return ATTRACT if idle_s > attract_after_s else ""
        return message

    def leave(self) -> None:
        QApplication.restoreOverrideCursor()
