"""The window on Qt's offscreen platform, on the real crowd video, with random-weight test models."""
import os
import time

import cv2
import pytest

pytest.importorskip("PySide6")

from agegender.sources.capture import VideoFileSource, open_source  # noqa: E402
from agegender.errors import AgeGenderError, InputError  # noqa: E402
from agegender.sources.live import FrameGrabber  # noqa: E402
from agegender.gui.menus import ask_file  # noqa: E402
from tests.conftest import wait_results  # noqa: E402


def test_window_shows_results_on_the_crowd_video(qtbot, make_window, crowd_video):
    window = make_window()
    received = []
    window.open_source(str(crowd_video))
    window.worker.result_ready.connect(lambda frame, result: received.append(result))
    wait_results(qtbot, window, 3)
    assert window.video.frame_size() == (1920, 1080)
    # The first frames come back before the first full sweep has finished: faces follow it.
    qtbot.waitUntil(lambda: any(len(r.detections) for r in received), timeout=60000)
    qtbot.waitUntil(lambda: "FPS shown" in window.status.text() and "results/s" in window.status.text()
                    and f"{window.pipeline.detector.provider}, detector " in window.status.text()
                    and ", multitask " in window.status.text())


def test_design_toggle_mid_stream_and_compare(qtbot, make_window, short_clip):
    window = make_window()
    seen = []
    window.menus.loop.setChecked(True)
    window.open_source(str(short_clip))
    window.worker.result_ready.connect(lambda frame, result: seen.append(sorted(result.predictions)))
    wait_results(qtbot, window, 2)
    window.menus.designs["single"].trigger()
    qtbot.waitUntil(lambda: seen and seen[-1] == ["single"], timeout=30000)
    window.menus.designs["compare"].trigger()
    qtbot.waitUntil(lambda: seen[-1] == ["multitask", "single"], timeout=30000)
    assert window.compare_panel.isVisible()
    qtbot.waitUntil(lambda: "Agree on gender" in window.compare_panel.label.text() and "×" in window.compare_panel.label.text(),
                    timeout=30000)
    # nothing cut off: the status line fits the window's own width, the panel's lines wrap within it
    from PySide6.QtGui import QFontMetrics
    window._update_status()
    status = window.status
    assert window.width() == 1280 and window.runtime_in_use() in status.text()  # both designs' precisions named
    assert QFontMetrics(status.font()).horizontalAdvance(status.text()) <= window.width() - 40, status.text()
    assert window.compare_panel.label.wordWrap()


def test_recording_and_export_produce_valid_files(qtbot, make_window, short_clip, tmp_path):
    window = make_window()
    window.menus.loop.setChecked(True)  # the 12-frame clip would end before the outputs start
    window.open_source(str(short_clip))
    wait_results(qtbot, window, 1)
    window.start_recording(tmp_path / "rec.mp4")
    window.start_export(tmp_path / "r.jsonl")
    painted = window.stats.painted
    wait_results(qtbot, window, 5)
    qtbot.waitUntil(lambda: window.stats.painted >= painted + 6, timeout=30000)
    window.save_snapshot(tmp_path / "snap.png")
    window.close()
    capture = cv2.VideoCapture(str(tmp_path / "rec.mp4"))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames >= 5
    import av
    with av.open(str(tmp_path / "rec.mp4")) as container:  # the same H.264 in fragmented MP4 as process --out
        assert container.streams.video[0].codec_context.name == "h264" and b"moof" in (tmp_path / "rec.mp4").read_bytes()
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) >= 5
    assert cv2.imread(str(tmp_path / "snap.png")).shape == (360, 640, 3)


def test_a_minimised_window_keeps_recording_every_frame(qtbot, make_window, short_clip, tmp_path):
    window = make_window()
    window.menus.loop.setChecked(True)
    window.open_source(str(short_clip))
    wait_results(qtbot, window, 1)
    window.showMinimized()
    window.hide()  # the offscreen platform has no minimising: hidden is what a minimised window is to Qt
    window.start_recording(tmp_path / "rec.mp4")
    delivered = window.feed.delivered
    qtbot.waitUntil(lambda: window.feed.delivered >= delivered + 25, timeout=30000)
    window.outputs.stop(results=False)
    capture = cv2.VideoCapture(str(tmp_path / "rec.mp4"))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames >= 20  # a second of the 25 FPS source, though nothing was painted
    window.close()


def test_kiosk_is_full_screen_and_writes_nothing(qtbot, make_window, short_clip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    window = make_window(kiosk=True)
    assert window.isFullScreen() and not window.menuBar().isVisible()
    window.menus.loop.setChecked(True)  # the clip plays at its pace: 12 frames are over before 3 results
    window.open_source(str(short_clip))
    wait_results(qtbot, window, 3)
    window.toggle_recording()  # would open a file dialog outside the kiosk
    window.outputs.toggle_export()
    window.ask_snapshot()
    window.save_snapshot(tmp_path / "snap.png")
    with pytest.raises(AgeGenderError):
        window.start_recording(tmp_path / "rec.mp4")
    assert not window.menus.record.isEnabled()
    assert window.recorder is None and window.exporter is None
    assert "Nothing is recorded" in window.video.notice
    window.close()
    assert os.listdir(tmp_path) == []


class FlakyCamera:
    """A live source from a video file that stops after `frames` frames, like a camera unplugged."""

    is_live = True

    def __init__(self, path, frames):
        self._file = VideoFileSource(path)
        self.name, self.fps, self.frame_count, self.error = "flaky camera", 25.0, 0, None
        self._left = frames

    def read(self):
        self._left -= 1
        return self._file.read() if self._left >= 0 else None

    def close(self):
        self._file.close()


def test_a_source_that_fails_mid_stream_reconnects(qtbot, make_window, short_clip):
    attempts = []

    def open_flaky(spec):
        attempts.append(time.monotonic())
        if len(attempts) in (2, 3):  # unplugged for two attempts, then back
            raise InputError("no camera at index 0")
        return FlakyCamera(spec, frames=4)

    def grabber(spec, **kwargs):
        return FrameGrabber(spec, open_fn=open_flaky, **{**kwargs, "reconnect_interval_s": 0.2})

    window = make_window(grabber_factory=grabber, kiosk=True)
    window.open_source(str(short_clip))
    qtbot.waitUntil(lambda: "reconnecting" in window.video.message, timeout=30000)
    qtbot.waitUntil(lambda: len(attempts) >= 4, timeout=30000)
    wait_results(qtbot, window, 2)
    qtbot.waitUntil(lambda: "reconnecting" not in window.video.message, timeout=10000)


def test_closing_stops_every_thread_within_a_second(qtbot, make_window, short_clip):
    window = make_window()
    window.open_source(str(short_clip))
    wait_results(qtbot, window, 1)
    grabber, worker = window.grabber, window.worker
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 1.5
    assert not grabber.is_alive() and worker.isFinished()


def test_missing_camera_leaves_the_window_open_and_says_so(qtbot, make_window):
    window = make_window()
    window.open_source("7")
    qtbot.waitUntil(lambda: "no camera at index 7" in window.video.message, timeout=10000)
    assert window.isVisible()


def test_open_source_picks_the_kind():
    with pytest.raises(InputError, match="no camera"):
        open_source("9")


def test_closing_while_a_save_dialog_is_open_starts_no_output(qtbot, make_window, short_clip, tmp_path, monkeypatch):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox
    window = make_window()
    window.open_source(str(short_clip))
    wait_results(qtbot, window, 1)
    seen_dialog = []

    def close_under_the_dialog():  # as Ctrl-C does: the window is closed from the dialog's event loop
        seen_dialog.append(QApplication.activeModalWidget())
        window.close()
    QTimer.singleShot(300, close_under_the_dialog)
    fallback = QTimer()  # only if the close left the dialog open: the test fails below, without hanging
    fallback.setSingleShot(True)
    fallback.timeout.connect(lambda: QApplication.activeModalWidget() and QApplication.activeModalWidget().reject())
    fallback.start(10000)
    started = time.monotonic()
    try:
        window.toggle_recording()  # a real, modal file dialog
    finally:
        fallback.stop()
    assert isinstance(seen_dialog[0], QFileDialog)  # it was open when the window closed, and went with it
    assert time.monotonic() - started < 5  # (not cancelled by the fallback)
    assert window.outputs.recorder is None and not window.menus.record.isChecked()

    # Dialogs that return a path after the close (native ones may): nothing is started or written.
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: pytest.fail(f"a message box: {args[1:]}"))
    chosen = {"Record to": tmp_path / "after.mp4", "Export results to": tmp_path / "after.jsonl",
              "Save snapshot": tmp_path / "after.png"}
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda parent, title, *rest: (str(chosen[title]), ""))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (str(short_clip), ""))
    window.toggle_recording()
    window.outputs.toggle_export()
    window.ask_snapshot()
    ask_file(window)
    assert window.outputs.recorder is None and window.outputs.exporter is None and window.grabber is None
    assert list(tmp_path.iterdir()) == []
