"""The window's outputs: the recording, the results export and snapshots (never in kiosk mode).

Recordings and snapshots are every shown frame drawn by outputs/draw.py's annotate at the frame's own
scale (not the window's), with the faces as the window shows them; the export holds one line per
result, as `agegender process` writes it. While results are exported from a file, every frame of it is
classified (the capture waits for inference), so the file misses none."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from agegender.console import say
from agegender.errors import AgeGenderError
from agegender.outputs.draw import annotate
from agegender.outputs.safety import check_folder, refuse_outputs_over_inputs, write_bytes_atomically
from agegender.outputs.sinks import VideoWriter, check_results_path, check_video_path, results_writer
from agegender.sources.capture import local_inputs
from agegender.vision import buckets


STILLS_WAITING_AT_MOST = 8


class WindowOutputs:
    """Told everything it needs by the window (the frames shown and their faces, the results, the source,
    the recording's size and rate); it tells the window back only through `on_change` (an output started
    or stopped: its menu's check marks, and whether every frame must go to inference) and `on_error`
    (a line for the status bar). `dialogs_parent`: the widget its file dialogs and warnings belong to."""

    def __init__(self, settings, designs: list[str], designs_shown: Callable[[], list[str]],
                 source_fps: Callable[[], float], dialogs_parent: QWidget) -> None:
        self.settings, self.designs, self.designs_shown, self.source_fps = settings, designs, designs_shown, source_fps
        self.dialogs_parent = dialogs_parent
        self.on_change: Callable[[], None] = lambda: None
        self.on_error: Callable[[str], None] = lambda message: None
        self.closed = False  # set once, when the window closes: nothing is started or written after it
        self.source_spec: str | None = None  # the source on screen: no output may be written over it
        self.recorder: VideoWriter | None = None
        self.exporter = None  # JsonlWriter or CsvWriter
        self.record_from_start: Path | None = None  # asked for on the command line; opened at the first frame
        self.saved: list[Path] = []  # recordings and exports finalised, to say on the way out
        # still images shown whose result has not come yet, oldest first: the next may be on screen before
        # the result of the one before it comes (photos are shown a second each, whatever inference takes)
        self._stills_to_record: list = []

    # --- what the window hands over ---
    def annotated(self, frame, result):
        return annotate(frame.image, result, [d for d in self.designs_shown() if d in result.predictions],
                        landmarks=self.settings.landmarks, privacy=self.settings.privacy)

    def _recording(self) -> bool:
        return not (self.settings.kiosk or self.closed or (self.recorder is None and self.record_from_start is None))

    def frame_shown(self, frame, result_for, newest_result) -> None:
        """Every frame put on screen; result_for() gives the faces drawn over it as a FrameResult (made
        only while recording), from `newest_result`. A still image is recorded once its own result has
        come (result_received): no earlier result belongs over it."""
        if not self._recording():
            return
        if frame.is_still and not _of(frame, newest_result):
            if not any(_same_picture(frame, waiting) for waiting in self._stills_to_record):
                self._stills_to_record = [*self._stills_to_record, frame][-STILLS_WAITING_AT_MOST:]
            return
        self._written(lambda: self._record(frame, result_for()), video=True)

    def result_received(self, frame, result) -> None:
        waiting = [i for i, still in enumerate(self._stills_to_record) if _of(still, result)]
        if waiting:
            # recorded in the order shown; stills shown before it that got no result were never processed
            self._stills_to_record = self._stills_to_record[waiting[0] + 1:]
            if self._recording():
                self._written(lambda: self._record(frame, result), video=True)
        if self.exporter is not None and not self.settings.kiosk and not self.closed:
            self._written(lambda: self.exporter.write(result.to_dict()), video=False)

    def _record(self, frame, result) -> None:
        if self.record_from_start is not None:
            path, self.record_from_start = self.record_from_start, None
            self.start_recording(path, self.source_fps(), frame.image.shape[:2])
        self.recorder.write(self.annotated(frame, result))  # evenly spaced: the view may loop or seek

    def _written(self, write, video: bool) -> None:
        """Runs one write; where it fails, that output alone stops and the other goes on. A recording keeps
        what it holds (fragmented MP4 plays up to its last whole frame); an export, whose last line may be
        torn, is thrown away and an earlier file of its name stays as it was."""
        try:
            write()
        except AgeGenderError as exc:
            self.stop(video=video, results=not video, keep=video)
            outcome = ("The recording stopped; what it holds was kept." if video else
                       "The export stopped and was not saved; an earlier file of that name is as it was.")
            QMessageBox.warning(self.dialogs_parent, "Output stopped", f"{exc}\n{outcome}")

    # --- starting and stopping ---
    def write_from_start(self, video: Path | None = None, results: Path | None = None) -> None:
        """Record and/or export from the first frame on (asked for on the command line, before the source
        is open: the recording takes its size and rate from the first frame). Both are checked before
        either is opened."""
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
            self.record_from_start = Path(video)  # opened at the first frame, when its size and rate are known

    def _refuse_over_source(self, what: str, path: Path) -> None:
        refuse_outputs_over_inputs({what: path}, local_inputs(self.source_spec or self.settings.source))

    def start_recording(self, path: Path, fps: float, size_hw: tuple[int, int]) -> None:
        """A recording of the frames shown from now on, at the source's `fps` and the frames' own size."""
        if self.settings.kiosk:
            raise AgeGenderError("the kiosk records nothing")
        self._refuse_over_source("the recording", path)
        height, width = size_hw
        self.recorder = VideoWriter(Path(path), fps, (width, height))
        self.on_change()

    def start_export(self, path: Path) -> None:
        """Results as JSONL or CSV (by the suffix, as `agegender process`), a column group per design."""
        if self.settings.kiosk:
            raise AgeGenderError("the kiosk stores nothing")
        self._refuse_over_source("the results file", path)
        labels = list(buckets.scheme(self.settings.buckets).labels)
        self.exporter = results_writer(Path(path), self.designs, labels)
        self.on_change()

    def save_snapshot(self, path: Path, frame, result) -> None:
        """`frame` as shown, with `result`'s faces drawn."""
        if frame is None or self.settings.kiosk:
            return
        path = Path(path)
        self._refuse_over_source("the snapshot", path)
        try:
            ok, encoded = cv2.imencode(path.suffix or ".png", self.annotated(frame, result))
        except cv2.error:
            ok = False
        if not ok:
            raise AgeGenderError(f"cannot write the snapshot to {path}: give a .png or .jpg name")
        write_bytes_atomically(path, encoded.tobytes())

    def stop(self, video: bool = True, results: bool = True, keep: bool = True) -> None:
        """Finalises (renames into place) the recording and/or the export; keep=False throws them away."""
        if video:
            self.record_from_start = None  # (--record, where no frame came before the stop)
        if video and self.recorder:
            recorder, self.recorder = self.recorder, None
            self.on_change()
            self._finalise(recorder, keep)
        if results and self.exporter:
            exporter, self.exporter = self.exporter, None
            self.on_change()
            self._finalise(exporter, keep)

    def _finalise(self, writer, keep: bool) -> None:
        # Also called while closing (after Ctrl-C or SIGTERM), where a dialog would hold up the exit.
        try:
            writer.close(keep)
        except AgeGenderError as exc:
            say(f"error: {exc}")
            self.on_error(str(exc))
            return
        if keep:
            self.saved.append(writer.path)

    # --- menu actions (the window gives what only it knows) ---
    def toggle_recording(self, fps: float, size_hw: tuple[int, int]) -> None:
        if self.settings.kiosk:
            return
        if self.recorder:
            self.stop(video=True, results=False)
            return
        path, _ = QFileDialog.getSaveFileName(self.dialogs_parent, "Record to", "recording.mp4", "Video (*.mp4 *.avi)")
        self._guarded(lambda: self.start_recording(Path(path), fps, size_hw) if self._still_wanted(path) else None)

    def toggle_export(self) -> None:
        if self.settings.kiosk:
            return
        if self.exporter:
            self.stop(video=False, results=True)
            return
        path, _ = QFileDialog.getSaveFileName(self.dialogs_parent, "Export results to", "results.jsonl",
                                              "JSON lines (*.jsonl);;CSV, one row per face (*.csv)")
        self._guarded(lambda: self.start_export(Path(path)) if self._still_wanted(path) else None)

    def ask_snapshot(self, frame_and_result: Callable[[], tuple]) -> None:
        if self.settings.kiosk:
            return
        path, _ = QFileDialog.getSaveFileName(self.dialogs_parent, "Save snapshot", "snapshot.png", "Images (*.png *.jpg)")
        if self._still_wanted(path):
            self._guarded(lambda: self.save_snapshot(Path(path), *frame_and_result()))

    def _still_wanted(self, path: str) -> bool:
        """A path was chosen, and the window did not close while its dialog was open."""
        return bool(path) and not self.closed

    def _guarded(self, action) -> None:
        try:
            action()
        except AgeGenderError as exc:
            QMessageBox.warning(self.dialogs_parent, "Cannot write", str(exc))
        self.on_change()  # (a menu item checked by its click is unchecked where nothing started)


def _same_picture(a, b) -> bool:
    return (a.index, a.source) == (b.index, b.source)


def _of(frame, result) -> bool:
    """True when `result` is the one of `frame`'s picture."""
    return result is not None and (result.frame_index, result.source) == (frame.index, frame.source)
