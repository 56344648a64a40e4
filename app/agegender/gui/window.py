"""The main window. Paints every frame the source delivers, at the source's pace, with the newest
result's faces moved to each frame's time drawn over it; inference runs beside it on its own thread
and never holds up a frame. Beside it: gui/kiosk.py (the kiosk), gui/compare_panel.py, gui/live_session.py
(a source's threads), gui/window_outputs.py (recordings, exports, snapshots), gui/menus.py (the menu bar
and the dialogs that choose a source), gui/playback_bar.py."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QApplication, QDialog, QLabel, QMainWindow, QProgressBar, QStyle, QVBoxLayout,
                               QWidget)

from agegender.config import Settings
from agegender.console import say
from agegender.gui.compare_panel import ComparePanel
from agegender.gui.compare_stats import CompareStats
from agegender.gui.kiosk import STARTING, Kiosk
from agegender.gui.live_feed import FrameFeed, LiveStats
from agegender.gui.overlay import Overlay
from agegender.gui.playback_bar import PlaybackBar
from agegender.gui.settings_dialog import SettingsDialog
from agegender.gui.video_widget import VideoWidget
from agegender.gui.window_outputs import WindowOutputs
from agegender.gui.live_session import LiveSession
from agegender.gui.menus import build_menus, enable_designs
from agegender.gui.startup import ModelLoading
from agegender.vision.designs import DESIGNS_RUN
from agegender.outputs.draw import blur_faces
from agegender.sources.capture import FALLBACK_FPS, mask_credentials
from agegender.sources.live import FrameGrabber
from agegender.sources.watchdog import Watchdog
from agegender.timing import StageTimes


class MainWindow(QMainWindow):
    # The capture thread's state of its source ("running", "lost", "failed", ...) and a message; emitted
    # there, delivered here on the GUI thread.
    source_status = Signal(str, str)
    # (pipeline, provider), or the exception that stopped their loading; emitted on the loading thread
    models_arrived = Signal(object)

    def __init__(self, settings: Settings, pipeline=None, provider: str = "", grabber_factory=FrameGrabber) -> None:
        """Without a pipeline, the window says it is loading until load_models() brings one."""
        super().__init__()
        self.source_status.connect(self._on_status)
        self.models_arrived.connect(self._models_arrived)
        self.settings, self.pipeline, self.provider = settings, None, provider
        self._loading: ModelLoading | None = None
        self._when_loaded: tuple[Callable[[], None], Callable[[str], None]] | None = None
        self.session = LiveSession(grabber_factory, settings.watchdog_s)
        self.closed = False  # set once, on close: nothing new is started after it
        self.kiosk: Kiosk | None = None  # (made once the menus and widgets it hides exist)
        self.design = settings.design
        self.times = StageTimes(window=30)
        self.compare = CompareStats(settings.compare_window_s)
        self.outputs = WindowOutputs(settings, [], self.designs_to_run, self._source_fps, self)
        self.feed = FrameFeed(parent=self)
        self.feed.connect_to(self._show_waiting)
        self.stats = LiveStats()
        self.overlay = Overlay()
        self.current_frame = None  # the Frame on screen
        self._last_face_at = time.monotonic()  # (counted from the source's first result)
        self.source_spec: str | None = None

        self.setWindowTitle("AgeGender Live")
        self.video = VideoWidget()
        self.video.frame_painted.connect(self._on_painted)
        self.status = QLabel()
        self.statusBar().addPermanentWidget(self.status, 1)
        self.busy = QProgressBar()  # moves while starting up: loading the models, opening the source
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.statusBar().addWidget(self.busy)
        self.compare_panel = ComparePanel(self, settings.compare_window_s)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.compare_panel)
        self.menus = build_menus(self)
        self.outputs.on_change = self._outputs_changed
        self.outputs.on_error = lambda message: self.statusBar().showMessage(message, 10000)
        self.playback = PlaybackBar([self.menus.play, self.menus.step, self.menus.loop])
        self.playback.seek_requested.connect(self._seek)
        self.playback.setVisible(False)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.video, 1)
        layout.addWidget(self.playback)
        self.setCentralWidget(central)
        self.compare_panel.setVisible(False)  # (until the models are there to run the design)

        self._ticker = QTimer(self)
        self._ticker.timeout.connect(self._tick)
        self._ticker.start(250)
        self.kiosk = Kiosk(self) if settings.kiosk else None
        self.video.label_scale, self.video.landmarks = settings.label_scale, settings.landmarks
        self.resize(1280, 800)
        if pipeline is not None:
            self.use_pipeline(pipeline, provider)
        else:
            self._say_starting("Loading models…")
            self.menuBar().setEnabled(False)  # nothing to open, record or set until they are loaded

    # outputs (gui/window_outputs.py): what only the window knows goes with each call
    def write_from_start(self, video: Path | None = None, results: Path | None = None) -> None:
        self.outputs.write_from_start(video, results)

    def start_recording(self, path: Path) -> None:
        self.outputs.start_recording(path, self._source_fps(), self._picture_size())

    def start_export(self, path: Path) -> None:
        self.outputs.start_export(path)

    def save_snapshot(self, path: Path) -> None:
        self.outputs.save_snapshot(path, *self._shown())

    def toggle_recording(self) -> None:
        """The Record menu item: asks where, or stops the recording."""
        self.outputs.toggle_recording(self._source_fps(), self._picture_size())

    def ask_snapshot(self) -> None:
        self.outputs.ask_snapshot(self._shown)

    def _source_fps(self) -> float:
        source = self.grabber.source if self.grabber else None
        return source.fps if source else FALLBACK_FPS

    def _picture_size(self) -> tuple[int, int]:
        shown = self.current_frame
        return shown.image.shape[:2] if shown is not None else (720, 1280)

    def _shown(self) -> tuple:
        """The frame on screen and its faces as drawn, for a snapshot."""
        frame = self.current_frame
        return frame, self.overlay.result_at(frame) if frame is not None else None

    def _outputs_changed(self) -> None:
        self.menus.record.setChecked(self.outputs.recorder is not None)
        self.menus.export.setChecked(self.outputs.exporter is not None)
        self.every_frame_to_inference(self.outputs.exporter is not None)

    @property
    def recorder(self):
        return self.outputs.recorder

    @property
    def exporter(self):
        return self.outputs.exporter

    @property
    def results_received(self) -> int:
        return self.stats.results

    # --- set-up ---
    def available(self, design: str) -> bool:
        return self.pipeline is not None and all(name in self.pipeline.designs for name in DESIGNS_RUN[design])

    def load_models(self, build: Callable[[], tuple], on_loaded: Callable[[], None],
                    on_failed: Callable[[str], None]) -> None:
        """build() -> (pipeline, provider) on a thread of its own, while the window says so; then
        on_loaded() and the source asked for meanwhile is opened, or on_failed(message)."""
        self._when_loaded = on_loaded, on_failed
        self._loading = ModelLoading(build, self.models_arrived.emit)

    def _models_arrived(self, loaded) -> None:
        self._loading = None
        on_loaded, on_failed = self._when_loaded
        if isinstance(loaded, Exception):
            self.video.message = str(loaded)
            on_failed(str(loaded))
            return
        self.use_pipeline(*loaded)
        on_loaded()
        if not self.closed and self.source_spec is not None:
            self.open_source(self.source_spec)

    def use_pipeline(self, pipeline, provider: str) -> None:
        self.pipeline, self.provider = pipeline, provider
        self.outputs.designs = list(pipeline.designs)
        enable_designs(self.menus.designs, self.available)
        self.menuBar().setEnabled(True)
        self.set_design(self.settings.design if self.available(self.settings.design) else "multitask")

    def show(self) -> None:
        if self.kiosk:
            self.kiosk.show()
        else:
            super().show()

    # --- sources ---
    def open_source(self, spec: str) -> None:
        if self.closed:  # asked for from a dialog that returned after the window closed
            return
        if self.pipeline is None:  # opened once the models are loaded
            self.source_spec = spec
            return
        self.session.stop()
        self.session.wait_for_retiring(10000)  # the tracker is reset only once no worker uses it
        self.source_spec = self.outputs.source_spec = spec
        self.pipeline.reset()
        self.pipeline.live = self.outputs.exporter is None
        self.overlay.reset()
        self.feed.clear()
        self.playback.setVisible(False)
        self._say_starting("Opening the camera…" if spec.isdigit() else f"Opening {mask_credentials(spec)}…")
        self.session.start(spec, self.pipeline, self.designs_to_run, self._on_result,
                           lambda message: self.statusBar().showMessage(message, 5000),
                           reconnect_interval_s=self.settings.reconnect_interval_s,
                           loop=self.menus.loop.isChecked(), on_status=self.source_status.emit,
                           max_image_megapixels=self.settings.max_image_megapixels, on_frame=self.feed.push,
                           wait_for_inference=self.outputs.exporter is not None)

    @property
    def grabber(self):
        return self.session.grabber

    @property
    def worker(self):
        return self.session.worker

    @property
    def watchdog(self) -> Watchdog:
        return self.session.watchdog

    def every_frame_to_inference(self, on: bool) -> None:
        """While results are exported, a file's every frame is classified (its capture waits for inference),
        and every frame gets the same work as in `agegender process`: no sweep beside it, no budget."""
        self.pipeline.live = not on
        if self.grabber is not None:
            self.grabber.wait_for_inference = on

    def _say_starting(self, step: str) -> None:
        """Over the video; the kiosk says only that it is starting."""
        self.video.message = STARTING if self.kiosk else step

    def _starting(self) -> str:
        """What start-up is doing until the source's first result, for the status bar; "" after it."""
        if self.pipeline is None:
            return "Loading models…"
        if self.grabber is None or self.session.processed:
            return ""
        state = self.session.source_state[0]
        return "Processing the first frame…" if state == "running" else self.video.message if not state else ""

    def _on_status(self, state: str, message: str) -> None:
        self.session.source_state = (state, message)  # shown by _tick

    # --- playback and designs ---
    def toggle_pause(self) -> None:
        """Pause, Play, or at the end of a file, play it again from the start."""
        grabber = self.grabber
        if grabber is None:
            return
        if grabber.ended:
            grabber.set_paused(False)
            grabber.seek(0)
        else:
            grabber.set_paused(not grabber.paused)
        self._show_play_button(grabber.paused)

    def _show_play_button(self, play: bool) -> None:
        """The playback button offers Play while nothing plays (paused, or at the end), else Pause."""
        if (self.menus.play.text() == "&Play") == play:
            return
        self.menus.play.setText("&Play" if play else "&Pause")
        self.menus.play.setIcon(self.style().standardIcon(
            QStyle.StandardPixmap.SP_MediaPlay if play else QStyle.StandardPixmap.SP_MediaPause))

    def step(self) -> None:
        if self.grabber:
            self.grabber.step()

    def _seek(self, index: int) -> None:
        if self.grabber:
            self.grabber.seek(index)

    def set_design(self, design: str) -> None:
        if not self.available(design):
            return
        self.design = design
        self.menus.designs[design].setChecked(True)
        self.compare_panel.setVisible(design == "compare" and not self.kiosk)

    def designs_to_run(self) -> list[str]:
        return list(DESIGNS_RUN[self.design])

    def runtime_in_use(self) -> str:
        """The execution provider, and the precision of each network of the design shown now (the other
        design's networks are loaded too, but do not run)."""
        if self.pipeline is None:
            return "models loading"
        designs = self.pipeline.designs
        detector = self.pipeline.detector
        return f"{detector.provider}, detector {detector.precision}, " + ", ".join(
            f"{name} {designs[name].precision}" for name in self.designs_to_run())

    # --- frames and results ---
    def _show_waiting(self) -> None:
        """The next frame from the source (in order), once the one before is on screen."""
        if not self.isVisible() or self.isMinimized():  # nothing paints: take every frame now, for a recording
            while (frame := self.feed.pop()) is not None:
                self._render(frame, new=True)
            return
        if self.video.waiting_to_paint_for() and self.video.waiting_to_paint_for() < 0.2:
            return  # its paint will call again (or, if it never comes, the next frame does not wait for it)
        frame = self.feed.pop()
        if frame is not None:
            self._render(frame, new=True)

    def _render(self, frame, new: bool) -> None:
        faces = self.overlay.faces_at(frame)
        if self.isVisible() and not self.isMinimized():  # (hidden, a frame goes only to a recording)
            self._put_on_screen(frame, faces, new)
        if new:
            self.current_frame = frame
            self.playback.follow(frame.index)
            self.outputs.frame_shown(frame, lambda: self.overlay.result_at(frame, faces), self.overlay.result)

    def _put_on_screen(self, frame, faces: list, new: bool) -> None:
        image = frame.image
        if self.settings.privacy and faces:
            image = image.copy()
            blur_faces(image, self.overlay.result_at(frame, faces).detections.boxes)
        self.video.label_scale, self.video.landmarks = self.settings.label_scale, self.settings.landmarks
        if new or self.settings.privacy:  # (privacy: the blur follows the new faces)
            self.video.show_frame(image, faces, frame.index if new else None, frame.captured_at)
        else:  # the frame on screen is unchanged; only the faces over it are new
            self.video.set_faces(faces)

    def _on_painted(self, index: int, captured_at: float) -> None:
        self.stats.frame_painted(index, captured_at)
        self.times.add("capture-to-paint", (time.monotonic() - captured_at) * 1000)
        if self.feed.waiting():
            QTimer.singleShot(0, self._show_waiting)

    def _on_result(self, frame, result) -> None:
        self.stats.result_received()
        if len(result.detections) or not self.session.processed:
            self._last_face_at = time.monotonic()
        self.session.result_arrived()
        self.times.add_all(result.timings)
        self.times.add("capture-to-result", (time.monotonic() - frame.captured_at) * 1000)
        self.compare.add(result)
        self.overlay.update(result, self.designs_to_run(), frame.segment)
        if self.current_frame is not None:  # redraw the frame on screen with the newest faces
            self._render(self.current_frame, new=False)
        self.outputs.result_received(frame, result)

    def _tick(self) -> None:
        state, message = self.session.source_state
        if self.session.stalled():
            self._restart_capture()
            return
        if self.feed.waiting() and (not self.isVisible() or self.isMinimized()):
            self._show_waiting()  # hidden while a paint was awaited: no paint will ask for the next frame
        if self.kiosk and state in ("lost", "ended", "running"):
            idle_s = time.monotonic() - self._last_face_at if self.session.processed else None
            self.video.message = self.kiosk.message(state, message, idle_s, self.settings.attract_after_s)
        elif state in ("failed", "lost"):  # a file that cannot be read: said once, not retried
            self.video.message = message
        elif state == "ended":  # over the video: the status bar's permanent label would hide it
            self.video.message = f"{message} — Play (Space) plays it again"
        elif state == "running":
            self.video.message = ""
        if self.grabber is not None:
            self._show_play_button(self.grabber.paused or self.grabber.ended)
        source = self.grabber.source if self.grabber else None
        seekable = source is not None and not source.is_live and source.frame_count > 0 and not self.kiosk
        if seekable and (not self.playback.isVisible() or self.playback.slider.maximum() != source.frame_count - 1):
            self.playback.set_source(source.frame_count, source.fps)
        self.playback.setVisible(seekable)
        self.video.update()
        self._update_status()

    def _update_status(self) -> None:
        """A short line that fits the window; the tooltip has every stage's time."""
        starting = self._starting()
        self.busy.setVisible(bool(starting))
        if starting:
            self.status.setText(starting)
            return
        ms = self.times.recent_ms
        classify = sum(ms(stage) for stage in self.times.stages() if stage.startswith("classify:"))
        self.status.setText(f"{self.stats.painted_fps():.1f} FPS shown · {self.stats.results_per_s():.1f} results/s · "
                            f"detect {ms('detect'):.0f} ms · classify {classify:.0f} ms · "
                            f"on screen {ms('capture-to-paint'):.0f} ms after capture · {self.runtime_in_use()}")
        self.status.setToolTip("\n".join(f"{stage}: {ms(stage):.1f} ms" for stage in self.times.stages()))
        if self.design == "compare":
            self.compare_panel.show_summary(self.compare.summary())

    def _restart_capture(self) -> None:
        note = f"No frame processed for {self.watchdog.timeout_s:.0f} s: capture restarted"
        say(f"{note} ({mask_credentials(self.source_spec or '')})")
        self.statusBar().showMessage(note, 10000)
        self.open_source(self.source_spec)

    def show_settings(self) -> None:
        SettingsDialog(self.settings, self.pipeline, self).exec()

    # --- shutdown ---
    def closeEvent(self, event) -> None:
        self.closed = self.outputs.closed = True
        if self._loading:
            self._loading.cancel()  # the models still loading are closed when they are, on their thread
        # Closed from inside a dialog's own event loop (Ctrl-C while a file dialog is open): the dialogs
        # go too, answering "cancelled", so nothing is started after the outputs were finalised.
        for _ in range(8):  # (a dialog may have opened another)
            dialog = QApplication.activeModalWidget()
            if not isinstance(dialog, QDialog) or dialog is self or not dialog.isVisible():
                break
            dialog.reject()
        self.feed.clear()  # frames not yet shown are not recorded either
        self._ticker.stop()
        self.session.stop()
        self.outputs.stop()  # finalised before any wait: nothing writes to them any more
        self.session.wait_for_retiring(30000)
        if self.kiosk:
            self.kiosk.leave()
        super().closeEvent(event)
