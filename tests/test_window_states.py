"""The window's own states, as a person sees them: the end of a file, a kiosk on a video, the first
frame after a loop, what the status bar says runs, and recordings of still images."""
import cv2
import numpy as np
import pytest

pytest.importorskip("PySide6")

from agegender.frames import Frame  # noqa: E402
from agegender.config import Settings  # noqa: E402
from agegender.assemble import build_pipeline  # noqa: E402
from tests.conftest import wait_results  # noqa: E402


def test_the_end_of_a_file_is_shown_over_the_video_and_play_plays_it_again(qtbot, make_window, short_clip):
    window = make_window()
    window.open_source(str(short_clip))
    qtbot.waitUntil(lambda: window.grabber is not None and window.grabber.ended, timeout=60000)
    qtbot.waitUntil(lambda: "ended" in window.video.message and "Play" in window.video.message, timeout=5000)
    assert window.menus.play.text() == "&Play"
    painted = window.stats.painted
    window.menus.play.trigger()
    qtbot.waitUntil(lambda: window.stats.painted >= painted + 5, timeout=60000)
    qtbot.waitUntil(lambda: window.menus.play.text() == "&Pause" or window.grabber.ended, timeout=5000)


def test_a_kiosk_plays_a_video_file_on_and_on(qtbot, make_window, short_clip):
    window = make_window(kiosk=True)
    window.open_source(str(short_clip))
    qtbot.waitUntil(lambda: window.stats.painted >= 30, timeout=120000)  # the clip has 12 frames
    assert not window.grabber.ended


def test_the_first_frame_after_a_loop_or_seek_has_its_faces(random_models, crowd_video):
    """The live view's pipeline sweeps for faces beside the frame path; after a jump there is nothing to
    follow, so the first frame is swept on the frame path and labelled at once."""
    pipeline, _, _ = build_pipeline(Settings(), random_models, ["multitask"], live=True)
    capture = cv2.VideoCapture(str(crowd_video))
    images = [capture.read()[1] for _ in range(3)]
    capture.release()
    try:
        for segment in (0, 1, 2):
            first = pipeline.process(Frame(images[segment], 0, 0.0, segment=segment))
            assert len(first.detections) >= 3 and len(first.predictions["multitask"].age_years) >= 3
            following = pipeline.process(Frame(images[segment], 1, 0.04, segment=segment))
            assert len(following.detections) >= 3  # tracked from the first
    finally:
        pipeline.close()


def test_the_status_bar_names_the_precision_of_the_design_that_runs(qtbot, make_window, short_clip):
    window = make_window()
    window.menus.loop.setChecked(True)
    window.open_source(str(short_clip))
    wait_results(qtbot, window, 2)
    detector = window.pipeline.detector  # OpenVINO CPU, or ONNX Runtime's CPU provider
    expected = f"{detector.provider}, detector {detector.precision}, multitask fp32"
    qtbot.waitUntil(lambda: expected in window.status.text(), timeout=5000)
    assert "single" not in window.status.text() and "gender" not in window.status.text()
    window.menus.designs["compare"].trigger()
    qtbot.waitUntil(lambda: "multitask fp32, single fp32" in window.status.text(), timeout=5000)


def recorded_frames(path) -> list:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames


def test_a_recording_of_photos_has_their_boxes_and_keeps_each_shape(qtbot, make_window, group_photo, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    group = cv2.imread(str(group_photo))
    tall = np.ascontiguousarray(cv2.rotate(group, cv2.ROTATE_90_CLOCKWISE))  # another size and shape
    cv2.imwrite(str(photos / "a.png"), group)
    cv2.imwrite(str(photos / "b.png"), tall)
    window = make_window()
    window.write_from_start(video=tmp_path / "rec.mp4")
    window.open_source(str(photos))
    qtbot.waitUntil(lambda: window.grabber is not None and window.grabber.ended, timeout=60000)
    qtbot.waitUntil(lambda: window.recorder is not None and window.recorder.frames == 2, timeout=30000)
    window.close()
    frames = recorded_frames(tmp_path / "rec.mp4")
    assert len(frames) == 2 and frames[0].shape[:2] == group.shape[:2]
    # boxes drawn: the recorded picture is not the plain photo
    assert np.abs(frames[0].astype(int) - group.astype(int)).mean() > 3
    # the tall photo is letterboxed, not stretched: black bars either side, the photo in the middle
    second = frames[1]
    height, width = group.shape[:2]
    fitted_width = round(tall.shape[1] * height / tall.shape[0])
    bar = (width - fitted_width) // 2
    assert second[:, : bar - 4].max() < 40 and second[:, width - bar + 4:].max() < 40
    assert second[:, bar + 10: width - bar - 10].mean() > 40


def test_every_photo_is_recorded_when_inference_is_slower_than_the_slideshow(qtbot, make_window, group_photo,
                                                                           tmp_path):
    """Photos are shown a second each; where a photo's result comes after the next photo is on screen, both
    are still recorded, each with its own faces."""
    import time
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        cv2.imwrite(str(photos / name), cv2.imread(str(group_photo)))
    window = make_window()
    real_process = window.pipeline.process

    def slow(frame, *args, **kwargs):
        time.sleep(1.3)  # longer than a photo stays on screen
        return real_process(frame, *args, **kwargs)

    window.pipeline.process = slow
    window.write_from_start(video=tmp_path / "rec.mp4")
    window.open_source(str(photos))
    qtbot.waitUntil(lambda: window.grabber is not None and window.grabber.ended, timeout=60000)
    qtbot.waitUntil(lambda: window.recorder is not None and window.recorder.frames >= 2, timeout=30000)
    window.close()
    frames = recorded_frames(tmp_path / "rec.mp4")
    assert len(frames) >= 2  # newest-wins may skip a photo's inference, never the recording of one it labelled


def test_tracking_starts_again_when_the_frame_size_changes(random_models, group_photo):
    from agegender import FaceAnalyzer
    group = cv2.imread(str(group_photo))
    half = cv2.resize(group, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    frames = [group, group, half, half, group, half, group, group]
    faces = [len(found) for found in FaceAnalyzer(models=random_models).track(frames, detect_every=5)]
    assert min(faces) >= 3, faces


def test_a_recording_asked_for_before_the_source_opens_takes_the_sources_frame_rate(qtbot, make_window, short_clip,
                                                                                      tmp_path):
    """--record is set up before the window opens its source: the recording's rate is the video's (10 FPS
    here), read once the first frame comes, not a guess."""
    capture = cv2.VideoCapture(str(short_clip))
    clip = tmp_path / "ten-fps.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 360))
    while (read := capture.read())[0]:
        writer.write(read[1])
    writer.release()
    window = make_window()
    window.write_from_start(video=tmp_path / "rec.mp4")
    window.open_source(str(clip))
    qtbot.waitUntil(lambda: window.recorder is not None and window.recorder.frames >= 3, timeout=60000)
    window.close()
    assert cv2.VideoCapture(str(tmp_path / "rec.mp4")).get(cv2.CAP_PROP_FPS) == pytest.approx(10, abs=0.1)
