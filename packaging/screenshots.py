"""Screenshots of the window as the docs show it: the normal view, the compare view and the kiosk, each taken
once the labels are drawn over the frame they belong to.

    python packaging/screenshots.py                      # on assets/sample.jpg, into docs/screenshots
    python packaging/screenshots.py --source ../shared/media/crowd-1080p.mp4 --out /tmp/shots   # to look at

Qt draws offscreen (no display needed); the window runs the shipped models as `agegender --source SOURCE` would.
The docs' screenshots are of the project's own drawn sample: frames of the test media in ../shared are not
the project's to publish, so shots of them stay on the machine that made them.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VIEWS = {"normal": {"design": "multitask"}, "compare": {"design": "compare"},
         "kiosk": {"design": "multitask", "kiosk": True, "privacy": True}}


def take(view: str, overrides: dict, source: Path, out: Path, size=(1280, 720), results: int = 3) -> Path:
    from PySide6.QtWidgets import QApplication

    from agegender.assemble import build_pipeline
    from agegender.config import Settings
    from agegender.gui.window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings = Settings(source=str(source), **overrides)
    pipeline, _, provider = build_pipeline(settings, None, live=True)
    window = MainWindow(settings, pipeline, provider)
    window.resize(*size)
    window.show()
    window.menus.loop.setChecked(True)  # a still or a short clip plays on, rather than showing "ended"
    window.open_source(settings.source)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not (window.results_received >= results and window.video.faces):
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()
    path = out / f"{view}.jpg"  # JPEG: a video frame, a tenth of the PNG's size
    if not window.grab().save(str(path), quality=85):
        raise SystemExit(f"cannot write {path}")
    window.close()
    pipeline.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=ROOT / "assets" / "sample.jpg", help="an image or a video")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--view", choices=list(VIEWS), action="append", help="default: every view")
    args = parser.parse_args()
    if not args.source.is_file():
        raise SystemExit(f"no image or video at {args.source}: give one with --source")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    args.out.mkdir(parents=True, exist_ok=True)
    for view in args.view or list(VIEWS):
        print(f"wrote {take(view, VIEWS[view], args.source, args.out)}")


if __name__ == "__main__":
    main()
