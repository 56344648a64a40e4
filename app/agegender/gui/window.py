"""The main window. Receives finished results from the worker and paints them; never blocks on
inference. Kiosk mode: full screen, frameless, no menus, no cursor, nothing written to disk."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QInputDialog, QLabel, QMainWindow,
                               QMessageBox, QSlider)

from agegender.vision import buckets
from agegender.sources.capture import local_inputs, mask_credentials
from agegender.config import KIOSK_LABEL_SCALE, Settings
from agegender.outputs.draw import annotate
from agegender.errors import AgeGenderError
from agegender.gui.compare_stats import CompareStats
from agegender.gui.settings_dialog import SettingsDialog
from agegender.gui.video_widget import VideoWidget
from agegender.gui.worker import InferenceWorker
from agegender.sources.live import FrameGrabber, list_cameras
from agegender.outputs.safety import check_folder, refuse_outputs_over_inputs, write_bytes_atomically
from agegender.outputs.sinks import VideoWriter, check_results_path, check_video_path, results_writer
from agegender.timing import StageTimes
from agegender.sources.watchdog import Watchdog

DESIGN_TITLES = {"multitask": "Multi-task", "single": "Single-task pair", "compare": "Compare"}
PRIVACY_NOTICE = "Nothing is recorded or stored. Age and gender are estimates, and often wrong."


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings, pipeline, provider: str, grabber_factory=FrameGrabber) -> None:
        super().__init__()
        self.settings, self.pipeline, self.provider = settings, pipeline, provider
        self._grabber_factory = grabber_factory
        self.grabber = None
        self.worker = None
        self.design = settings.design if self._available(settings.design) else "multitask"
        self.times = StageTimes(window=30)
        self.compare = CompareStats(settings.compare_window_s)
        self.recorder: VideoWriter | None = None
        self.exporter = None  # JsonlWriter or CsvWriter
        self.last_annotated = None
        self.results_received = 0
        self._last_face_at = time.monotonic()
        self._frame_times: list[float] = []
        self.watchdog = Watchdog(settings.watchdog_s)
        self.source_spec: str | None = None
        self._record_from_start: Path | None = None  # asked for on the command line; opened at the first frame

        self.setWindowTitle("AgeGender Live")
        self.video = VideoWidget()
        self.setCentralWidget(self.video)
        self.status = QLabel()
        self.statusBar().addPermanentWidget(self.status, 1)
        self.compare_label = QLabel()
        self.compare_label.setTextFormat(Qt.TextFormat.RichText)
        self.compare_label.setWordWrap(True)
        self.compare_label.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.compare_label.setMinimumWidth(300)
        self.compare_label.setContentsMargins(8, 8, 8, 8)
        self.compare_dock = QDockWidget("Compare", self)
        self.compare_dock.setWidget(self.compare_label)
        self.compare_dock.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.compare_dock)
        self._build_menus()
        self._set_design(self.design)

        self._ticker = QTimer(self)
        self._ticker.timeout.connect(self._tick)
        self._ticker.start(250)
        if settings.kiosk:
            self._enter_kiosk()
        self.resize(1280, 800)

    # --- set-up ---
    def _available(self, design: str) -> bool:
        needed = ["multitask", "single"] if design == "compare" else [design]
        return all(name in self.pipeline.designs for name in needed)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        source = bar.addMenu("&Source")
        self.cameras_menu = source.addMenu("Cameras")
        self.cameras_menu.aboutToShow.connect(self._fill_cameras)
        source.addAction("Open &file…", self._ask_file, QKeySequence.StandardKey.Open)
        source.addAction("Open &URL…", self._ask_url)

        playback = bar.addMenu("&Playback")
        self.play_action = playback.addAction("&Pause", self._toggle_pause, QKeySequence(Qt.Key.Key_Space))
        playback.addAction("&Step one frame", self._step, QKeySequence(Qt.Key.Key_Period))
        self.loop_action = playback.addAction("&Loop")
        self.loop_action.setCheckable(True)
        self.loop_action.toggled.connect(lambda on: setattr(self.grabber, "loop", on) if self.grabber else None)
        self.seek_slider = QSlider(Qt.Orientation.Horizontal)
        self.seek_slider.sliderReleased.connect(lambda: self.grabber and self.grabber.seek(self.seek_slider.value()))
        self.statusBar().addWidget(self.seek_slider)

        designs = bar.addMenu("&Design")
        self.design_group = QActionGroup(self)
        self.design_actions = {}
        for i, (key, title) in enumerate(DESIGN_TITLES.items()):
            action = designs.addAction(title, lambda k=key: self._set_design(k), QKeySequence(f"Ctrl+{i + 1}"))
            action.setCheckable(True)
            action.setEnabled(self._available(key))
            if not self._available(key):
                action.setToolTip("its model files are missing from models/")
            self.design_group.addAction(action)
            self.design_actions[key] = action

        output = bar.addMenu("&Output")
        self.record_action = output.addAction("&Record video…", self._toggle_recording, QKeySequence("Ctrl+R"))
        self.record_action.setCheckable(True)
        self.snapshot_action = output.addAction("&Snapshot…", self._ask_snapshot, QKeySequence("Ctrl+S"))
        self.export_action = output.addAction("&Export results (JSONL or CSV)…", self._toggle_export, QKeySequence("Ctrl+E"))
        self.export_action.setCheckable(True)

        view = bar.addMenu("&View")
        view.addAction("&Settings…", self._show_settings, QKeySequence("Ctrl+,"))

    def _enter_kiosk(self) -> None:
        self.menuBar().hide()
        self.statusBar().hide()
        self.compare_dock.setVisible(False)
        self.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
        self.settings.label_scale *= KIOSK_LABEL_SCALE
        self.video.notice = PRIVACY_NOTICE
        for action in (self.record_action, self.snapshot_action, self.export_action):
            action.setEnabled(False)  # menus are hidden, but their shortcuts would still fire
        QApplication.setOverrideCursor(Qt.CursorShape.BlankCursor)
        self._exit_shortcut = QShortcut(QKeySequence(self.settings.kiosk_exit_keys), self)
        self._exit_shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
        self._exit_shortcut.activated.connect(self.close)

    def show(self) -> None:
        if self.settings.kiosk:
            self.setGeometry(self.screen().geometry())  # also without a window manager to honour full screen
            self.showFullScreen()
        else:
            super().show()

    # --- sources ---
    def open_source(self, spec: str) -> None:
        self._stop_threads()
        self.source_spec = spec
        self.watchdog.beat()
        if self.pipeline.tracker is not None:
            self.pipeline.tracker.reset()
        self.video.message = f"Opening {mask_credentials(spec)}…"
        self.grabber = self._grabber_factory(spec, reconnect_interval_s=self.settings.reconnect_interval_s,
                                             loop=self.loop_action.isChecked(), on_status=self._on_status,
                                             max_image_megapixels=self.settings.max_image_megapixels)
        self.worker = InferenceWorker(self.pipeline, self.grabber, self._designs_to_run)
        self.worker.result_ready.connect(self._on_result, Qt.ConnectionType.QueuedConnection)
        self.worker.failed.connect(lambda message: self.statusBar().showMessage(message, 5000))
        self.grabber.start()
        self.worker.start()

    def _on_status(self, state: str, message: str) -> None:
        # Called on the capture thread: only store; the GUI thread shows it in _tick.
        self._source_state = (state, message)

    def _fill_cameras(self) -> None:
        self.cameras_menu.clear()
        cameras = list_cameras()
        for index in cameras:
            self.cameras_menu.addAction(f"Camera {index}", lambda i=index: self.open_source(str(i)))
        if not cameras:
            self.cameras_menu.addAction("No camera found").setEnabled(False)

    def _ask_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a video or image")
        if path:
            self.open_source(path)

    def _ask_url(self) -> None:
        url, ok = QInputDialog.getText(self, "Open a stream", "rtsp:// or http:// address:")
        if ok and url.strip():
            self.open_source(url.strip())

    # --- playback and designs ---
    def _toggle_pause(self) -> None:
        if self.grabber:
            paused = self.play_action.text() == "&Pause"
            self.grabber.set_paused(paused)
            self.play_action.setText("&Play" if paused else "&Pause")

    def _step(self) -> None:
        if self.grabber:
            self.grabber.step()

    def _set_design(self, design: str) -> None:
        if not self._available(design):
            return
        self.design = design
        self.design_actions[design].setChecked(True)
        self.compare_dock.setVisible(design == "compare" and not self.settings.kiosk)

    def _designs_to_run(self) -> list[str]:
        return ["multitask", "single"] if self.design == "compare" else [self.design]

    # --- results ---
    def _on_result(self, frame, result) -> None:
        self.results_received += 1
        self.watchdog.beat()
        self.times.add_all(result.timings)
        now = time.monotonic()
        self.times.add("capture-to-display", (now - frame.captured_at) * 1000)
        self._frame_times = [t for t in self._frame_times if now - t < 2.0] + [now]
        if len(result.detections):
            self._last_face_at = now
        self.compare.add(result)
        text_scale = 0.6 * self.settings.label_scale / max(self.video.frame_scale(), 0.05)
        annotated = annotate(frame.image, result, [d for d in self._designs_to_run() if d in result.predictions],
                             landmarks=self.settings.landmarks, privacy=self.settings.privacy,
                             text_scale=min(max(text_scale, 0.35), 4.0))
        self.last_annotated = annotated
        self.video.show_frame(annotated)
        if self.settings.kiosk:
            return  # the kiosk writes nothing
        try:
            if self._record_from_start is not None:
                path, self._record_from_start = self._record_from_start, None
                self.start_recording(path)
            if self.recorder:
                self.recorder.write(annotated)
            if self.exporter:
                self.exporter.write(result.to_dict())
        except AgeGenderError as exc:
            self._stop_outputs(keep=False)
            QMessageBox.warning(self, "Output stopped", f"{exc}\nNothing was saved; an earlier file of that name "
                                                        "is as it was.")

    def _tick(self) -> None:
        state, message = getattr(self, "_source_state", ("", ""))
        expecting = state == "running" and self.grabber is not None and not self.grabber.paused
        if self.watchdog.check(expecting):
            self._restart_capture()
            return
        if state == "failed":  # a file that cannot be read: said once, not retried
            self.video.message = message
        elif state == "lost":
            self.video.message = f"Camera lost — reconnecting…\n{message}" if self.settings.kiosk else message
        elif state == "ended":
            self.video.message = ""
            self.statusBar().showMessage(message, 3000)
        elif state == "running":
            idle = time.monotonic() - self._last_face_at
            attract = self.settings.kiosk and idle > self.settings.attract_after_s
            self.video.message = "Step closer: how old do I think you are?" if attract else ""
        if self.grabber and self.grabber.source is not None and not self.grabber.source.is_live:
            self.seek_slider.setVisible(True)
            self.seek_slider.setMaximum(max(self.grabber.source.frame_count - 1, 0))
        else:
            self.seek_slider.setVisible(False)
        self.video.update()
        self._update_status()

    def _update_status(self) -> None:
        fps = len(self._frame_times) / 2.0
        stages = " · ".join(f"{s} {self.times.recent_ms(s):.0f} ms" for s in self.times.stages() if s != "total")
        self.status.setText(f"{fps:.1f} FPS · {stages} · provider {self.provider}")
        if self.design == "compare":
            s = self.compare.summary()
            pct = lambda v: "–" if v is None else f"{100 * v:.0f}%"
            ratio = "–" if s.cost_ratio is None else f"{s.cost_ratio:.2f}×"
            self.compare_label.setText(
                f"<b>Last {self.settings.compare_window_s:.0f} s</b> ({s.frames} frames, {s.faces} faces)<br><br>"
                f"<span style='color:#ffa500'><b>MT</b> multi-task</span>: {s.ms_per_frame['multitask']:.1f} ms/frame, "
                f"{s.ms_per_face['multitask']:.2f} ms/face<br>"
                f"<span style='color:#28bee6'><b>ST</b> single-task pair</span>: {s.ms_per_frame['single']:.1f} ms/frame, "
                f"{s.ms_per_face['single']:.2f} ms/face<br><br>"
                f"Cost, pair / multi-task: {ratio}<br>Agree on gender: {pct(s.gender_agreement)}<br>"
                f"Agree on age bucket: {pct(s.bucket_agreement)}")

    def _restart_capture(self) -> None:
        note = f"No frame processed for {self.watchdog.timeout_s:.0f} s: capture restarted"
        print(f"agegender: {note} ({mask_credentials(self.source_spec or '')})", file=sys.stderr)
        self.statusBar().showMessage(note, 10000)
        self.open_source(self.source_spec)

    # --- outputs (never in kiosk mode) ---
    def write_from_start(self, video: Path | None = None, results: Path | None = None) -> None:
        """Record and/or export from the first frame on (asked for on the command line). Both are
        checked before either is opened."""
        if self.settings.kiosk and (video or results):
            raise AgeGenderError("the kiosk writes nothing: --record and --results cannot be used with --kiosk")
        refuse_outputs_over_inputs({"--record": video, "--results": results}, local_inputs(self.settings.source))
        if video is not None:
            check_video_path(video)
            check_folder(Path(video))
        if results is not None:
            check_results_path(results)
            self.start_export(Path(results))
        if video is not None:
            self._record_from_start = Path(video)  # opened at the first frame, when its size is known

    def _refuse_over_source(self, what: str, path: Path) -> None:
        refuse_outputs_over_inputs({what: path}, local_inputs(self.source_spec or self.settings.source))

    def start_recording(self, path: Path) -> None:
        if self.settings.kiosk:
            raise AgeGenderError("the kiosk records nothing")
        self._refuse_over_source("the recording", path)
        fps = self.grabber.source.fps if self.grabber and self.grabber.source else 25.0
        height, width = self.last_annotated.shape[:2] if self.last_annotated is not None else (720, 1280)
        self.recorder = VideoWriter(Path(path), fps, (width, height))
        self.record_action.setChecked(True)

    def start_export(self, path: Path) -> None:
        """Results as JSONL or CSV (by the suffix, as `agegender process`), a column group per design."""
        if self.settings.kiosk:
            raise AgeGenderError("the kiosk stores nothing")
        self._refuse_over_source("the results file", path)
        labels = list(buckets.scheme(self.settings.buckets).labels)
        self.exporter = results_writer(Path(path), list(self.pipeline.designs), labels)
        self.export_action.setChecked(True)

    def save_snapshot(self, path: Path) -> None:
        if self.last_annotated is None or self.settings.kiosk:
            return
        path = Path(path)
        self._refuse_over_source("the snapshot", path)
        try:
            ok, encoded = cv2.imencode(path.suffix or ".png", self.last_annotated)
        except cv2.error:
            ok = False
        if not ok:
            raise AgeGenderError(f"cannot write the snapshot to {path}: give a .png or .jpg name")
        write_bytes_atomically(path, encoded.tobytes())

    def _toggle_recording(self) -> None:
        if self.settings.kiosk:
            return
        if self.recorder:
            self._stop_outputs(video=True, results=False)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Record to", "recording.mp4", "Video (*.mp4 *.avi)")
        self._guarded(lambda: self.start_recording(Path(path)) if path else self.record_action.setChecked(False))

    def _toggle_export(self) -> None:
        if self.settings.kiosk:
            return
        if self.exporter:
            self._stop_outputs(video=False, results=True)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export results to", "results.jsonl",
                                              "JSON lines (*.jsonl);;CSV, one row per face (*.csv)")
        self._guarded(lambda: self.start_export(Path(path)) if path else self.export_action.setChecked(False))

    def _ask_snapshot(self) -> None:
        if self.settings.kiosk:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save snapshot", "snapshot.png", "Images (*.png *.jpg)")
        if path:
            self._guarded(lambda: self.save_snapshot(Path(path)))

    def _guarded(self, action) -> None:
        try:
            action()
        except AgeGenderError as exc:
            self.record_action.setChecked(self.recorder is not None)
            self.export_action.setChecked(self.exporter is not None)
            QMessageBox.warning(self, "Cannot write", str(exc))

    def _stop_outputs(self, video: bool = True, results: bool = True, keep: bool = True) -> None:
        """Finalises (renames into place) the recording and/or the export; keep=False throws them away."""
        if video and self.recorder:
            recorder, self.recorder = self.recorder, None
            self.record_action.setChecked(False)
            self._finalise(recorder, keep)
        if results and self.exporter:
            exporter, self.exporter = self.exporter, None
            self.export_action.setChecked(False)
            self._finalise(exporter, keep)

    def _finalise(self, writer, keep: bool) -> None:
        # Also called while closing (after Ctrl-C or SIGTERM), where a dialog would hold up the exit.
        try:
            writer.close(keep)
        except AgeGenderError as exc:
            print(f"agegender: error: {exc}", file=sys.stderr)
            self.statusBar().showMessage(str(exc), 10000)

    def _show_settings(self) -> None:
        SettingsDialog(self.settings, self.pipeline, self).exec()

    # --- shutdown ---
    def _stop_threads(self) -> None:
        if self.worker:
            self.worker.stop()
        if self.grabber:
            self.grabber.stop()
        if self.worker:
            self.worker.wait(1000)
        if self.grabber:
            self.grabber.join(1.0)
        self.worker = self.grabber = None

    def closeEvent(self, event) -> None:
        self._ticker.stop()
        self._stop_threads()
        self._stop_outputs()
        if self.settings.kiosk:
            QApplication.restoreOverrideCursor()
        super().closeEvent(event)
