"""The kiosk's labels (2.5x) on real crowds, laid out as the window paints them: on no face and not on the
privacy notice; shrunk towards 1x, or left out, where they would not fit."""
import cv2
import pytest

from agegender.config import KIOSK_LABEL_SCALE
from agegender.frames import Frame
from agegender.gui.kiosk import PRIVACY_NOTICE
from agegender.gui.overlay import Overlay
from agegender.gui.overlay_paint import BASE_TEXT_PX, place_face_labels, screen_boxes
from agegender.gui.video_widget import VideoWidget
from agegender.vision.designs import load_design
from agegender.vision.pipeline import Pipeline

from tests.conftest import need, CROWD_VIDEO

CROWD_FRAME = 60  # seven faces, two of them near the bottom edge


@pytest.fixture(scope="module")
def crowds(detector, random_models, group_photo):
    """name -> (frame, result) for the group photo and a frame of the crowd video, compare mode's designs."""
    capture = cv2.VideoCapture(str(need(CROWD_VIDEO)))
    capture.set(cv2.CAP_PROP_POS_FRAMES, CROWD_FRAME)
    crowd = capture.read()[1]
    capture.release()
    pipeline = Pipeline(detector, {name: load_design(name, random_models) for name in ("multitask", "single")})
    return {name: (frame, pipeline.process(frame)) for name, frame in
            (("group", Frame(cv2.imread(str(group_photo)), 0, 0.0)), ("crowd", Frame(crowd, CROWD_FRAME, 2.4)))}


def overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("screen", [(1920, 1080), (1280, 720)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", ["group", "crowd"])
@pytest.mark.parametrize("designs", [["multitask"], ["multitask", "single"]], ids=len)
def test_kiosk_labels_cover_no_face_and_not_the_privacy_notice(qtbot, crowds, name, screen, designs):
    frame, result = crowds[name]
    overlay = Overlay()
    overlay.update(result, designs)
    video = VideoWidget()  # as the kiosk's: full screen, its notice at the bottom, labels 2.5x
    qtbot.addWidget(video)
    video.resize(*screen)
    video.notice, video.label_scale = PRIVACY_NOTICE, KIOSK_LABEL_SCALE
    video.show_frame(frame.image, overlay.faces_at(frame), frame.index)
    video.grab()  # paints them
    (notice,) = video.labels_keep_off()
    labels = place_face_labels(video.faces, video.video_rect(), video.frame_scale(), video.label_scale, (notice,))
    boxes = [box.getCoords() for box in screen_boxes(video.faces, video.video_rect(), video.frame_scale())]
    shown = [label for label in labels if label]
    assert len(video.faces) >= 5 and len(shown) >= len(labels) - 1  # (one may find no room at all)
    assert max(label.text_px for label in shown) == BASE_TEXT_PX * KIOSK_LABEL_SCALE  # large where there is room
    for label in shown:
        assert label.text_px >= BASE_TEXT_PX
        rect = (label.x, label.y, label.x + label.width, label.y + label.height)
        assert not overlaps(rect, notice), (rect, notice)
        assert not [box for box in boxes if overlaps(rect, box)], rect
        assert not [other for other in shown if other is not label and overlaps(
            rect, (other.x, other.y, other.x + other.width, other.y + other.height))], rect
