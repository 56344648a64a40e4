"""The settings dialog applies to the running pipeline; the compare panel's numbers add up."""
import types

import numpy as np

from agegender.gui.compare_stats import CompareStats
from agegender.vision.buckets import DEFAULT
from agegender.vision.designs import Predictions


def test_the_settings_dialog_changes_the_running_pipeline(qtbot, make_window, short_clip):
    from agegender.gui.settings_dialog import SettingsDialog
    window = make_window(source=str(short_clip))
    dialog = SettingsDialog(window.settings, window.pipeline, window)
    qtbot.addWidget(dialog)
    dialog.min_face.setValue(48)
    dialog.buckets.setCurrentText("decades")
    dialog.smoothing.setChecked(False)
    dialog.detect_every.setValue(3)
    dialog.apply()
    pipeline = window.pipeline
    assert pipeline.detector.settings.min_face == 48 and window.settings.min_face == 48
    assert all(str(design.scheme) == "0-9,10-19,20-29,30-39,40-49,50-59,60-69,70+"
               for design in pipeline.designs.values())
    assert (pipeline.smoothing, pipeline.detect_every) == (False, 3)
    assert (window.settings.smoothing, window.settings.detect_every, window.settings.buckets) == (False, 3, "decades")


def test_a_bad_bucket_scheme_is_refused_and_changes_nothing(qtbot, make_window, short_clip, monkeypatch):
    from agegender.gui import settings_dialog
    warned = []
    monkeypatch.setattr(settings_dialog.QMessageBox, "warning", lambda *args: warned.append(args[-1]))
    window = make_window(source=str(short_clip))
    dialog = settings_dialog.SettingsDialog(window.settings, window.pipeline, window)
    qtbot.addWidget(dialog)
    dialog.min_face.setValue(60)
    dialog.buckets.setCurrentText("0-9,5-20")
    dialog.apply()
    assert warned and "overlap" in warned[0]
    assert window.pipeline.detector.settings.min_face != 60 and window.settings.min_face != 60


def _predictions(p_female, ages) -> Predictions:
    distribution = np.zeros((len(ages), 101))
    distribution[np.arange(len(ages)), ages] = 1
    return Predictions(distribution, np.array(p_female), DEFAULT, ("male", "female"))


def test_the_compare_panel_reports_cost_and_agreement_of_the_last_seconds():
    now = [100.0]
    stats = CompareStats(window_s=5.0, clock=lambda: now[0])

    def frame(mt, st, multitask_ms, single_ms, classified=None):
        stats.add(types.SimpleNamespace(predictions={"multitask": mt, "single": st},
                                        timings={"classify:multitask": multitask_ms, "classify:single": single_ms},
                                        classified=classified))

    # frame 1: 2 faces, agree on both genders, on one bucket (30 and 31 share 25-37; 10 and 40 do not)
    frame(_predictions([0.9, 0.1], [30, 10]), _predictions([0.8, 0.2], [31, 40]), 10.0, 30.0)
    now[0] += 1
    # frame 2: 1 face, they disagree on gender, agree on the bucket
    frame(_predictions([0.9], [50]), _predictions([0.3], [52]), 6.0, 12.0)
    summary = stats.summary()
    assert (summary.frames, summary.faces) == (2, 3)
    assert summary.ms_per_frame == {"multitask": 8.0, "single": 21.0}
    assert summary.ms_per_face == {"multitask": 16 / 3, "single": 14.0}
    assert summary.gender_agreement == 2 / 3 and summary.bucket_agreement == 2 / 3
    assert summary.cost_ratio == 42 / 16
    now[0] += 4.5  # 5.5 s after the first frame, 4.5 s after the second: only the second is left
    assert stats.summary().frames == 1 and stats.summary().cost_ratio == 2.0
    # frame 3: 2 faces shown, 1 classified on this frame (the live view's budget): cost per face classified
    frame(_predictions([0.9, 0.1], [30, 10]), _predictions([0.8, 0.2], [31, 40]), 3.0, 5.0, classified=np.array([1]))
    summary = stats.summary()
    assert summary.faces == 3 and summary.ms_per_face == {"multitask": 9.0 / 2, "single": 17.0 / 2}
