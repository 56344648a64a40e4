"""Settings that take effect on the next frame: face size, thresholds, age buckets, privacy, landmarks."""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout,
                               QMessageBox, QSpinBox)

from agegender.config import ConfigError
from agegender.vision import buckets


class SettingsDialog(QDialog):
    def __init__(self, settings, pipeline, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings, self.pipeline = settings, pipeline
        form = QFormLayout(self)
        self.min_face = QSpinBox()
        self.min_face.setRange(12, 400)
        self.min_face.setValue(settings.min_face)
        form.addRow("Minimum face size (px)", self.min_face)
        self.thresholds = []
        for i, name in enumerate(("P-Net", "R-Net", "O-Net")):
            box = QDoubleSpinBox()
            box.setRange(0.0, 1.0)
            box.setSingleStep(0.05)
            box.setValue(settings.thresholds[i])
            form.addRow(f"{name} threshold", box)
            self.thresholds.append(box)
        self.buckets = QComboBox()
        self.buckets.setEditable(True)
        self.buckets.addItems(list(buckets.NAMED))
        self.buckets.setCurrentText(settings.buckets)
        self.buckets.setToolTip("a named scheme, or ranges such as 0-12,13-19,20-39,40-64,65+")
        form.addRow("Age buckets", self.buckets)
        self.smoothing = QCheckBox("Average each face's labels over recent frames")
        self.smoothing.setChecked(settings.smoothing)
        form.addRow("Smoothing", self.smoothing)
        self.detect_every = QSpinBox()
        self.detect_every.setRange(0, 30)
        self.detect_every.setSpecialValueText("auto")  # 0: from the measured detection time and frame rate
        self.detect_every.setValue(settings.detect_every)
        self.detect_every.setToolTip("auto: as often as the detector's measured time allows at this frame rate. "
                                     "1: detect on every frame. N: detect every N frames and follow faces between")
        form.addRow("Full detection every N frames", self.detect_every)
        self.privacy = QCheckBox("Blur faces on screen and in recordings")
        self.privacy.setChecked(settings.privacy)
        form.addRow("Privacy", self.privacy)
        self.landmarks = QCheckBox("Show the five landmarks")
        self.landmarks.setChecked(settings.landmarks)
        form.addRow("Landmarks", self.landmarks)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.apply)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def apply(self) -> None:
        """The new values, checked by Settings as a settings file's are (the same rules, the same
        messages); refused values change nothing."""
        try:
            checked = replace(self.settings, min_face=self.min_face.value(),
                              thresholds=[box.value() for box in self.thresholds],
                              buckets=self.buckets.currentText().strip(), smoothing=self.smoothing.isChecked(),
                              detect_every=self.detect_every.value(), privacy=self.privacy.isChecked(),
                              landmarks=self.landmarks.isChecked())
        except ConfigError as exc:
            QMessageBox.warning(self, "Settings", str(exc))
            return
        self.pipeline.reconfigure(checked.detector_settings(), buckets.scheme(checked.buckets), checked.smoothing,
                                  checked.detect_every)
        for key in ("min_face", "thresholds", "buckets", "smoothing", "detect_every", "privacy", "landmarks"):
            setattr(self.settings, key, getattr(checked, key))  # the window's Settings, read on each frame
        self.accept()
