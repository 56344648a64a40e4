"""`agegender` with no command: the window."""
from __future__ import annotations

import signal
import sys

from app.config import Settings
from app.errors import AgeGenderError


def build_pipeline(settings: Settings, models_dir=None):
    """Both designs where their files exist; at least one must. Returns (pipeline, provider)."""
    from app import buckets
    from app.designs import load_design
    from app.detect import DetectorSettings, MtcnnDetector
    from app.errors import ModelError
    from app.paths import MODELS_DIR
    from app.pipeline import Pipeline
    from app.runtime import choose_providers
    from app.track import Tracker

    providers = choose_providers(settings.provider)
    scheme = buckets.scheme(settings.buckets)
    designs, problems = {}, []
    for name in ("multitask", "single"):
        try:
            designs[name] = load_design(name, models_dir or MODELS_DIR, scheme, providers)
        except ModelError as exc:
            problems.append(str(exc))
    if not designs:
        raise ModelError(problems[0])
    detector = MtcnnDetector(DetectorSettings(settings.min_face, tuple(settings.thresholds)), providers=providers)
    pipeline = Pipeline(detector, designs, settings.max_faces, tracker=Tracker(), detect_every=settings.detect_every,
                        smoothing=settings.smoothing)
    return pipeline, detector.provider


def run_window(settings: Settings, models_dir=None) -> int:
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.gui.window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("AgeGender Live")
    try:
        pipeline, provider = build_pipeline(settings, models_dir)
    except AgeGenderError as exc:
        print(f"agegender: error: {exc}", file=sys.stderr)
        QMessageBox.critical(None, "AgeGender Live", str(exc))
        return 2
    window = MainWindow(settings, pipeline, provider)
    window.show()
    window.open_source(settings.source)
    # Ctrl-C and SIGTERM close the window (and so finalise recordings) instead of killing the process.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: window.close())
    return app.exec()
