"""`agegender` with no command: the window."""
from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn

from agegender.assemble import build_pipeline
from agegender.config import Settings
from agegender.console import say
from agegender.errors import AgeGenderError
from agegender.interrupts import EXIT_INTERRUPTED, SIGNALS


def run_window(settings: Settings, models_dir=None, record=None, results=None) -> NoReturn:
    """The process ends when the window closes, with 2 where it could not start (its models, or the outputs
    asked for)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox

    from agegender.gui.window import MainWindow
    from agegender.paths import ASSETS_DIR

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("AgeGender Live")
    app.setDesktopFileName("agegender")  # matches packaging/agegender.desktop, for the dock and task bar
    app.setWindowIcon(QIcon(str(ASSETS_DIR / "icon-256.png")))
    window = MainWindow(settings)  # shown at once, saying what it does while the models load
    failed = []

    def load_models():
        pipeline, _, provider = build_pipeline(settings, models_dir, live=True)
        return pipeline, provider

    def cannot_start(message: str, box: bool = False) -> None:
        say(f"error: {message}")
        failed.append(message)
        if box:
            QMessageBox.critical(window, "AgeGender Live", message)
        window.close()

    def write_from_start():
        try:
            window.write_from_start(record, results)
        except AgeGenderError as exc:
            cannot_start(str(exc))
    # From here on Ctrl-C and SIGTERM close the window, which finalises its outputs, instead of stopping
    # the process at once. Qt's event loop lets Python run the handler: the window's ticker wakes it.
    interrupted = []

    def close_window(signum, frame):
        # The handler runs between two bytecodes of whatever the GUI thread was doing (a frame half
        # written to the recording, say): the window is closed from the event loop, after that is done.
        interrupted.append(signum)
        QTimer.singleShot(0, window.close)
    previous = {signum: signal.signal(signum, close_window) for signum in SIGNALS}
    try:
        window.show()
        window.open_source(settings.source)
        window.load_models(load_models, write_from_start, lambda message: cannot_start(message, box=True))
        if interrupted:  # before the event loop ran: closed here, where nothing is half done
            window.close()
            code = 0
        else:
            code = app.exec()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if window.pipeline is not None:
            window.pipeline.close()
    if failed:
        code = 2
    if interrupted:
        saved = window.outputs.saved
        say("interrupted; the window closed" + (f" and saved {', '.join(map(str, saved))}" if saved else
                                                "; it was writing nothing"))
        code = EXIT_INTERRUPTED
    _end_process(code)


def _end_process(code: int) -> NoReturn:
    """Ends the process at once, the window closed and its outputs saved. Python's own exit would first
    wait for the threads still at work (a sweep, an inference) and free every model and Qt object: seconds
    on a busy machine, after the window had gone, for nothing still needed."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
