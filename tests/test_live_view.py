"""The window's live view, offscreen: every frame a source delivers is painted, in order, whatever
inference does; boxes between results follow each track's motion, and a result too late to be on its
faces is not drawn; the playback bar follows playback
and seeks the source. Behaviour only: nothing here depends on how fast the machine is."""
import time
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

pytest.importorskip("PySide6")

from agegender.frames import Frame, FrameResult  # noqa: E402
from agegender.config import Settings  # noqa: E402
from agegender.gui.overlay import Overlay  # noqa: E402
from agegender.gui.window import MainWindow  # noqa: E402
from agegender.sources.live import FrameGrabber  # noqa: E402
from agegender.vision import buckets  # noqa: E402
from agegender.vision.designs import Predictions  # noqa: E402
from agegender.vision.detect import Detections  # noqa: E402
from agegender.vision.track import iou_matrix  # noqa: E402
from tests.conftest import write_crowd_clip  # noqa: E402


class PacedFrames:
    """A source of `count` numbered 320x240 frames at `fps`: a camera (live) or a file."""

    def __init__(self, count: int, fps: float, is_live: bool) -> None:
        self.count, self.fps, self.is_live = count, fps, is_live
        self.name, self.error, self.frame_count = "paced frames", None, 0 if is_live else count
        self.started, self.read_count = time.monotonic(), 0

    def read(self):
        if self.read_count >= self.count:
            time.sleep(0.05)
            return None
        if self.is_live:  # a camera delivers at its own pace; the grabber paces files itself
            time.sleep(max(0.0, self.started + self.read_count / self.fps - time.monotonic()))
        index, self.read_count = self.read_count, self.read_count + 1
        image = np.full((240, 320, 3), index % 256, np.uint8)
        return Frame(image, index, index / self.fps)

    def seek(self, index: int) -> None:
        self.read_count = index

    def close(self) -> None:
        pass


def predictions(n: int) -> Predictions:
    scheme = buckets.scheme("default")
    ages = np.zeros((n, 101), np.float32)
    ages[:, 30] = 1.0
    return Predictions(ages, np.full(n, 0.9, np.float32), scheme, ("male", "female"))


class MovingFacePipeline:
    """Stands in for the pipeline: one face moving right at `speed` px per second of source time,
    found exactly where it is in the frame it was given, after `delay_s` of 'inference'."""

    def __init__(self, speed: float = 200.0, delay_s: float = 0.12) -> None:
        self.speed, self.delay_s = speed, delay_s
        self.designs, self.tracker = {"multitask": SimpleNamespace(precision="fp32")}, None
        self.detector = SimpleNamespace(provider="test", precision="fp32")  # the window says what runs
        self.processed: list[int] = []

    def box_at(self, t: float) -> np.ndarray:
        return np.array([20 + self.speed * t, 60, 80 + self.speed * t, 130], np.float32)

    def reset(self) -> None:
        pass

    def process(self, frame, designs):
        time.sleep(self.delay_s)
        self.processed.append(frame.index)
        detections = Detections(self.box_at(frame.time)[None], np.ones(1, np.float32), np.zeros((1, 5, 2), np.float32))
        return FrameResult(frame.index, frame.time, detections, {"multitask": predictions(1)}, {"detect": 1.0},
                           captured_at=frame.captured_at, track_ids=np.array([7]))


def grabber_for(source):
    def factory(spec, **kwargs):
        return FrameGrabber(spec, open_fn=lambda _: source, **kwargs)
    return factory


@pytest.fixture
def window_on(qtbot):
    windows = []

    def _open(source, pipeline, **settings):
        window = MainWindow(Settings(**settings), pipeline, "test", grabber_factory=grabber_for(source))
        qtbot.addWidget(window)
        window.show()
        window.open_source("paced")
        windows.append(window)
        return window
    yield _open
    for window in windows:
        window.close()


@pytest.mark.parametrize("is_live", [True, False], ids=["camera", "file"])
def test_every_frame_the_source_delivers_is_painted_in_order(qtbot, window_on, is_live):
    source = PacedFrames(count=30, fps=10.0, is_live=is_live)
    pipeline = MovingFacePipeline(delay_s=0.35)  # inference far slower than the source
    window = window_on(source, pipeline)
    qtbot.waitUntil(lambda: window.stats.painted >= 30, timeout=30000)
    assert window.feed.delivered == 30
    assert window.stats.painted_indices == list(range(30))
    assert len(pipeline.processed) < 30  # inference skipped frames; the screen did not


def test_boxes_between_results_follow_the_track(qtbot, window_on):
    pipeline = MovingFacePipeline(speed=200.0, delay_s=0.15)
    window = window_on(PacedFrames(count=40, fps=20.0, is_live=True), pipeline)
    painted = []  # (frame index, index of the result drawn over it, results so far, boxes painted)

    def on_painted(index, _):
        result = window.overlay.result
        painted.append((index, result.frame_index if result else None, window.stats.results,
                        [f.box.copy() for f in window.video.faces]))
    window.video.frame_painted.connect(on_painted)
    qtbot.waitUntil(lambda: len(painted) >= 40, timeout=30000)
    # frames painted after a result's own frame, once two results have measured the track's velocity
    between = [(i, r, faces) for i, r, results, faces in painted if faces and results >= 2 and i > r]
    assert len(between) >= 5
    for index, result_index, faces in between:
        assert len(faces) == 1
        np.testing.assert_allclose(faces[0], pipeline.box_at(index / 20.0), atol=1.0)  # where the face is now
    assert max(index - result_index for index, result_index, _ in between) >= 2  # moved over several frames


def test_overlay_moves_boxes_by_the_track_velocity_and_drops_stale_results():
    overlay = Overlay()
    detections = lambda x: Detections(np.array([[x, 10, x + 50, 60]], np.float32), np.ones(1, np.float32),
                                      np.zeros((1, 5, 2), np.float32))
    for index, x in ((0, 100.0), (5, 120.0)):  # 20 px in 0.2 s: 100 px/s
        overlay.update(FrameResult(index, index / 25, detections(x), {"multitask": predictions(1)},
                                   track_ids=np.array([3])), ["multitask"])
    at = lambda index: overlay.faces_at(Frame(np.zeros((8, 8, 3), np.uint8), index, index / 25))
    assert at(5)[0].box[0] == pytest.approx(120.0)
    assert at(10)[0].box[0] == pytest.approx(140.0)  # 0.2 s on
    assert at(10)[0].label.rows[0][0].text == "25-37"
    assert at(10 + 25 * 10) == []  # far ahead: the old result is not drawn over it
    assert overlay.result_at(Frame(np.zeros((8, 8, 3), np.uint8), 10, 0.4)).detections.boxes[0][0] == pytest.approx(140)
    still = Frame(np.zeros((8, 8, 3), np.uint8), 6, 0.0, source="b.jpg")
    assert overlay.faces_at(still) == []  # another image: nothing of this one is drawn over it
    after_seek = Frame(np.zeros((8, 8, 3), np.uint8), 6, 6 / 25, segment=1)
    assert overlay.faces_at(after_seek) == []  # nor just after a seek, however near in time
    overlay.update(FrameResult(8, 8 / 25, detections(200.0), {"multitask": predictions(1)},
                               track_ids=np.array([3])), ["multitask"], segment=1)
    # the same id after the seek is a new track: its motion is measured afresh, not from x = 120 before it
    assert overlay.faces_at(Frame(np.zeros((8, 8, 3), np.uint8), 10, 10 / 25, segment=1))[0].box[0] == 200.0


@pytest.fixture
def numbered_video(tmp_path):
    path = tmp_path / "numbered.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (160, 120))
    for index in range(150):  # 6 s
        writer.write(np.full((120, 160, 3), index, np.uint8))
    writer.release()
    return path


def test_the_playback_bar_follows_playback_and_seeks_the_source(qtbot, window_on, numbered_video):
    from agegender.sources.capture import VideoFileSource
    window = window_on(VideoFileSource(numbered_video), MovingFacePipeline(delay_s=0.05))
    bar = window.playback
    qtbot.waitUntil(lambda: bar.isVisible() and bar.slider.value() >= 10, timeout=20000)
    assert bar.slider.maximum() == 149 and bar.time_label.text().endswith(" / 00:06")
    # under the video, not in the status bar where it would cover status text
    assert bar.parent() is not window.statusBar() and bar.geometry().top() >= window.video.geometry().bottom()
    first = bar.slider.value()
    qtbot.waitUntil(lambda: bar.slider.value() >= first + 5, timeout=10000)  # it moves with playback
    bar.slider.setValue(120)  # as a click or a drag on the slider does
    qtbot.waitUntil(lambda: window.current_frame is not None and window.current_frame.index >= 120, timeout=10000)
    minutes, seconds = map(int, bar.time_label.text().split(" / ")[0].split(":"))
    assert 4 <= minutes * 60 + seconds <= 6  # frame 120 is at 4.8 s; playback goes on meanwhile
    assert window.stats.painted_indices[-1] >= 120
    bar.slider.setSliderDown(True)  # held by the user: playback does not pull it away
    held = bar.slider.value()
    bar.follow(held + 10)
    assert bar.slider.value() == held
    bar.slider.setSliderDown(False)


def test_a_paused_file_seeks_to_the_frame_asked_for(qtbot, window_on, numbered_video):
    from agegender.sources.capture import VideoFileSource
    window = window_on(VideoFileSource(numbered_video), MovingFacePipeline(delay_s=0.05))
    qtbot.waitUntil(lambda: window.playback.isVisible(), timeout=20000)
    window.menus.play.trigger()
    assert window.grabber.paused
    window.playback.slider.setValue(75)
    qtbot.waitUntil(lambda: window.current_frame is not None and window.current_frame.index == 75, timeout=10000)
    assert abs(int(window.current_frame.image.mean()) - 75) <= 3  # the frame numbered 75 is on screen
    window.menus.step.trigger()
    qtbot.waitUntil(lambda: window.current_frame.index == 76, timeout=10000)


def test_the_window_bench_reports_what_was_painted(qtbot, random_models, short_clip):
    from agegender.commands.bench.window import window_replay
    row = window_replay(short_clip, random_models, "compare", seconds=1.5, height=360, warmup_s=0.5)
    assert {"source_fps", "painted_fps", "results_per_s", "latency_ms"} <= set(row)
    assert set(row["latency_ms"]) == {"p50", "p95", "p99"}
    # a frame delivered just before the counting starts may be painted just after it
    assert 0 < row["frames_painted"] <= row["frames_delivered"] + 1


def test_switching_source_or_closing_during_a_long_inference_neither_aborts_nor_mixes_sources(
        qtbot, window_on, numbered_video):
    """One inference outlasting the one second the window waits for its threads (a huge frame, a slow
    machine): the old worker is kept until it ends and its late result is not taken for the new source."""
    from agegender.sources.capture import VideoFileSource
    pipeline = MovingFacePipeline(delay_s=1.8)
    window = window_on(VideoFileSource(numbered_video), pipeline)
    qtbot.waitUntil(lambda: len(pipeline.processed) >= 1, timeout=20000)
    qtbot.waitUntil(lambda: window.worker is not None and window.worker.isRunning(), timeout=5000)
    results_before, old_worker = window.results_received, window.worker
    window.open_source("paced")  # while the worker sleeps inside process()
    assert window.results_received == results_before
    # the old worker's inference ends meanwhile; Qt would abort had it been destroyed
    qtbot.waitUntil(old_worker.isFinished, timeout=10000)
    qtbot.waitUntil(lambda: window.session._retiring == [], timeout=5000)
    window.close()
    assert not window.isVisible()


RESULT_DELAY_FRAMES = 25  # a second at the crowd clip's 25 FPS: a busy machine's results


def crowd_frames(path) -> list:
    from agegender.sources.capture import VideoFileSource
    source = VideoFileSource(path)
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    source.close()
    return frames


def off_the_faces(boxes, found: Detections) -> list:
    """The boxes that overlap no face found on the frame (IoU < 0.5)."""
    if not len(found):
        return list(boxes)
    return [box for box in boxes if iou_matrix(np.array([box], np.float32), found.boxes).max() < 0.5]


@pytest.mark.parametrize("delay", [0, RESULT_DELAY_FRAMES], ids=["on time", "a second late"])
def test_each_box_drawn_is_on_a_face_of_the_frame_it_is_drawn_over(random_models, tmp_path, delay):
    """The crowd clip replayed as the window sees it on a machine whose every result comes `delay` frames
    after its own frame, inference then taking the newest frame: each box drawn over frame N is on a face
    the detector finds on frame N, or none is drawn."""
    from agegender.assemble import build_pipeline
    frames = crowd_frames(write_crowd_clip(tmp_path / "crowd.avi", 100))
    # every processed frame detected in full: on time, the boxes are the detector's own
    pipeline, _, _ = build_pipeline(Settings(detect_every=1), random_models, designs=("multitask",))
    overlay, in_flight, drawn_on = Overlay(), None, 0
    for frame in frames:
        if in_flight is not None and frame.index >= in_flight.frame_index + delay:
            overlay.update(in_flight, ["multitask"], frame.segment)
            in_flight = None
        if in_flight is None:
            in_flight = pipeline.process(frame, ["multitask"])
            if not delay:
                overlay.update(in_flight, ["multitask"], frame.segment)
                in_flight = None
        boxes = [face.box for face in overlay.faces_at(frame)]
        assert off_the_faces(boxes, pipeline.detector.detect(frame.image)) == [], f"frame {frame.index}"
        drawn_on += bool(boxes)
    if not delay:
        assert drawn_on == len(frames)  # (the check above is not met by drawing nothing)


def test_no_box_stays_at_the_end_of_a_file_whose_results_come_late(qtbot, make_window, tmp_path):
    """The last result of a file comes after its last frame, for a frame a second before it: the faces
    have moved on, and nothing of it is drawn over the last frame, which stays on screen."""
    clip = write_crowd_clip(tmp_path / "crowd.avi", 50)
    window = make_window()
    late = LateResults(window.pipeline, RESULT_DELAY_FRAMES / 25)
    window.pipeline = late
    window.open_source(str(clip))
    qtbot.waitUntil(lambda: window.grabber is not None and window.grabber.ended and late.last_index == 49
                    and window.results_received == len(late.returned) and window.current_frame is not None
                    and window.current_frame.index == 49, timeout=60000)
    assert len(late.returned[-1].detections)  # it had faces to draw
    assert window.video.faces == []


class LateResults:
    """The window's pipeline with every result handed over `late_s` of video time after its own frame,
    as where inference takes that long: each call returns the newest result at least that old."""

    def __init__(self, pipeline, late_s: float) -> None:
        self.pipeline, self.late_s = pipeline, late_s
        self.results, self.returned, self.last_index = [], [], None

    def __getattr__(self, name):
        return getattr(self.pipeline, name)

    def process(self, frame, designs):
        self.results.append(self.pipeline.process(frame, designs))
        old = [r for r in self.results if r.time <= frame.time - self.late_s] or self.results[:1]
        self.returned.append(old[-1])
        self.last_index = frame.index
        return old[-1]
