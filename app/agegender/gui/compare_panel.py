"""Compare mode's side panel: each design's cost per frame and per face over the last seconds, what the
pair costs against the multi-task network, and how often the two agree (gui/compare_stats.py counts)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QWidget

from agegender.outputs.labels import DESIGN_COLOURS, DESIGN_TAGS


def _css(bgr) -> str:
    return f"#{int(bgr[2]):02x}{int(bgr[1]):02x}{int(bgr[0]):02x}"


class ComparePanel(QDockWidget):
    def __init__(self, parent: QWidget, window_s: float) -> None:
        super().__init__("Compare", parent)
        self.window_s = window_s
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)  # long lines wrap: nothing is cut off at the panel's edge
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.label.setMinimumWidth(300)
        self.label.setContentsMargins(8, 8, 8, 8)
        self.setWidget(self.label)
        self.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)

    def show_summary(self, summary) -> None:
        """`summary`: CompareStats.summary()."""
        pct = lambda v: "–" if v is None else f"{100 * v:.0f}%"
        ratio = "–" if summary.cost_ratio is None else f"{summary.cost_ratio:.2f}×"
        lines = [f"<b>Last {self.window_s:.0f} s</b> ({summary.frames} frames, {summary.faces} faces)<br>"]
        for name, title in (("multitask", "multi-task"), ("single", "single-task pair")):
            lines.append(f"<span style='color:{_css(DESIGN_COLOURS[name])}'><b>{DESIGN_TAGS[name]}</b> {title}</span>: "
                         f"{summary.ms_per_frame[name]:.1f} ms/frame, {summary.ms_per_face[name]:.2f} ms/face")
        lines += ["", f"Cost, pair / multi-task: {ratio}", f"Agree on gender: {pct(summary.gender_agreement)}",
                  f"Agree on age bucket: {pct(summary.bucket_agreement)}"]
        self.label.setText("<br>".join(lines))
