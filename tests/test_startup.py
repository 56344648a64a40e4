"""Start-up on a busy machine: the window is there at once and says what it is doing while the models
load and the first frame is processed; the watchdog does not take that wait for a stall; the kiosk says
"Starting…" rather than inviting people in view to step closer; a close while loading ends cleanly."""
import threading

import pytest

pytest.importorskip("PySide6")
from agegender.assemble import build_pipeline  # noqa: E402
from agegender.config import Settings  # noqa: E402
from agegender.gui.kiosk import ATTRACT, STARTING  # noqa: E402
from agegender.gui.window import MainWindow  # noqa: E402
from tests.conftest import wait_results  # noqa: E402


def held_loading(settings, models, release: threading.Event, closed: list):
    """build() for load_models that waits for `release` before loading; the pipeline notes its close."""
    def build():
        release.wait(30)  # (bounded, so that a window that waits for its models fails the test, not hangs it)
        pipeline, _, provider = build_pipeline(settings, models, live=True)
        real_close = pipeline.close
        pipeline.close = lambda: closed.append(True) or real_close()
        return pipeline, provider
    return build


def hold_processing(window) -> tuple[threading.Event, threading.Event]:
    """The window's first frame is held inside its processing until the test sets the second event; the
    first is set once it is held."""
    held, release = threading.Event(), threading.Event()
    real_process = window.pipeline.process

    def process(*args, **kwargs):
        held.set()
        release.wait(30)
        return real_process(*args, **kwargs)
    window.pipeline.process = process
    return held, release


def test_the_window_is_shown_saying_it_loads_before_the_models_are_loaded(qtbot, random_models, short_clip):
    settings, release, loaded = Settings(), threading.Event(), []
    window = MainWindow(settings)
    qtbot.addWidget(window)
    try:
        window.show()
        window.open_source(str(short_clip))
        window.load_models(held_loading(settings, random_models, release, []), lambda: loaded.append(True),
                           pytest.fail)
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: "Loading models" in window.status.text())  # the ticker runs: the loop is alive
        assert window.isVisible() and window.video.message == "Loading models…" and window.busy.isVisible()
        assert not loaded and window.pipeline is None
    finally:
        release.set()
    qtbot.waitUntil(lambda: bool(loaded), timeout=60000)
    wait_results(qtbot, window, 1)  # the source asked for while loading was opened
    qtbot.waitUntil(lambda: not window.busy.isVisible())  # started: the status bar has its figures
    window.close()


def test_a_close_while_the_models_load_leaves_no_thread_and_closes_them(qtbot, random_models, short_clip):
    settings, release, closed = Settings(), threading.Event(), []
    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.show()
    window.open_source(str(short_clip))
    window.load_models(held_loading(settings, random_models, release, closed), lambda: pytest.fail("opened"),
                       pytest.fail)
    loading = window._loading.thread
    assert window.close()
    release.set()
    loading.join(60)
    assert not loading.is_alive() and closed == [True]
    qtbot.wait(100)  # a delivery, had there been one, would have run by now
    assert window.pipeline is None and window.grabber is None


def test_no_watchdog_restart_before_the_first_frame_is_processed(qtbot, make_window, long_clip):
    window = make_window(watchdog_s=0.5)
    held, release = hold_processing(window)
    try:
        window.open_source(str(long_clip))
        qtbot.waitUntil(held.is_set, timeout=30000)
        qtbot.waitUntil(lambda: window.session.source_state[0] == "running")
        qtbot.wait(2000)  # four watchdog periods, eight ticks
        assert window.watchdog.fired == 0
        assert "capture restarted" not in window.statusBar().currentMessage()
        assert window.status.text() == "Processing the first frame…"
    finally:
        release.set()
    wait_results(qtbot, window, 1)


def test_the_kiosk_says_starting_not_the_attract_line_until_its_first_result(qtbot, make_window, short_clip):
    window = make_window(kiosk=True, attract_after_s=0.2)
    held, release = hold_processing(window)
    try:
        window.open_source(str(short_clip))
        assert window.video.message == STARTING
        qtbot.waitUntil(held.is_set, timeout=30000)
        qtbot.waitUntil(lambda: window.session.source_state[0] == "running")
        qtbot.wait(1000)  # five times attract_after_s, four ticks
        assert window.video.message == STARTING and ATTRACT not in window.video.message
    finally:
        release.set()
    wait_results(qtbot, window, 1)
    qtbot.waitUntil(lambda: window.video.message != STARTING)
