"""`agegender` with no command: the window."""
from __future__ import annotations

import signal
import sys

from app.assemble import build_pipeline
from app.config import Settings
from app.errors import AgeGenderError


def run_window(settings: Settings, models_dir=None, record=None, results=None) -> int:
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.gui.window import MainWindow
    from app.paths import ASSETS_DIR

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("AgeGender Live")
    app.setDesktopFileName("agegender")  # matches packaging/agegender.desktop, for the dock and task bar
    app.setWindowIcon(QIcon(str(ASSETS_DIR / "icon-256.png")))
    try:
        pipeline, _, provider = build_pipeline(settings, models_dir)
    except AgeGenderError as exc:
        print(f"agegender: error: {exc}", file=sys.stderr)
        QMessageBox.critical(None, "AgeGender Live", str(exc))
        return 2
    window = MainWindow(settings, pipeline, provider)
    try:
        window.write_from_start(record, results)
    except AgeGenderError as exc:
        print(f"agegender: error: {exc}", file=sys.stderr)
        return 2
    window.show()
    window.open_source(settings.source)
    # Ctrl-C and SIGTERM close the window (and so finalise recordings) instead of killing the process.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: window.close())
    return app.exec()
