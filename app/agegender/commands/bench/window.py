"""The window as a user sees it: the real MainWindow on Qt's offscreen platform, fed by a paced
real-time replay of the crowd video (as a 720p camera would deliver it), with the app's models,
tracking mode and smoothing as the window runs them. Counts what the source delivered, what was
painted and how many results came, and the latency from capture to paint.

    python -m agegender.commands.bench.window [--design multitask|compare] [--seconds 10]
"""
from __future__ import annotations

import argparse
import json
import os
import time

from agegender.commands.bench.frames import DEFAULT_MEDIA, REPLAY_FPS, crowd_video
from agegender.paths import MODELS_DIR


def _spin(app, seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def window_replay(video, models=MODELS_DIR, design: str = "multitask", seconds: float = 10.0, height: int = 720,
                  fps: float = REPLAY_FPS, warmup_s: float = 2.0) -> dict:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before the first QApplication: measured without a screen
    from PySide6.QtWidgets import QApplication

    from agegender.config import Settings
    from agegender.gui.window import MainWindow
    from agegender.sources.live import FrameGrabber, PacedReplay
    from agegender.assemble import build_pipeline

    app = QApplication.instance() or QApplication(["agegender-bench"])
    settings = Settings(design=design)  # the window's defaults: tracking mode, smoothing on
    pipeline, _, provider = build_pipeline(settings, models, live=True)

    def replay(spec, **kwargs):
        return FrameGrabber(spec, open_fn=lambda s: PacedReplay(s, fps=fps, height=height), **kwargs)
    window = MainWindow(settings, pipeline, provider, grabber_factory=replay)
    window.resize(1280, 800)
    window.show()
    try:
        window.open_source(str(video))
        _spin(app, warmup_s)  # first inferences allocate; the replay settles
        feed, stats = window.feed, window.stats
        start = (time.monotonic(), feed.delivered, stats.painted, stats.results, len(stats.latencies_ms))
        _spin(app, seconds)
        elapsed = time.monotonic() - start[0]
        delivered, painted, results = feed.delivered - start[1], stats.painted - start[2], stats.results - start[3]
        latency = stats.latency_percentiles(skip=start[4])
    finally:
        window.close()
        pipeline.close()
    return {"design": design, "height": height, "seconds": round(elapsed, 1), "provider": provider,
            "source_fps": round(delivered / elapsed, 2), "painted_fps": round(painted / elapsed, 2),
            "painted_share": round(painted / delivered, 3) if delivered else None,
            "results_per_s": round(results / elapsed, 2), "latency_ms": latency,
            "frames_delivered": delivered, "frames_painted": painted, "frames_skipped_by_display": feed.skipped}


def describe(row: dict) -> str:
    lat = row["latency_ms"]
    return (f"{row['design']}: source {row['source_fps']} FPS, painted {row['painted_fps']} FPS "
            f"({row['frames_painted']} of {row['frames_delivered']}), {row['results_per_s']} results/s, "
            f"capture-to-paint p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--design", default="multitask", choices=["multitask", "single", "compare"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--media", default=DEFAULT_MEDIA)
    parser.add_argument("--json")
    args = parser.parse_args()
    row = window_replay(crowd_video(args.media), design=args.design, seconds=args.seconds)
    print(describe(row))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(row, handle, indent=1)


if __name__ == "__main__":
    main()
