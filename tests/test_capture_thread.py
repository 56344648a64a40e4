"""The capture thread (FrameGrabber): a live source keeps only its newest frame, a file drops nothing
and is never read far ahead of the consumer. The frames are the short clip's, served at a known pace."""
import threading
import time

import cv2
import pytest

from agegender.frames import Frame
from agegender.sources.live import FrameGrabber


class ServedFrames:
    """The clip's frames behind the sources' read(), numbered in the order served; counts its reads."""

    def __init__(self, images, is_live: bool, count: int, interval_s: float = 0.0) -> None:
        self.images, self.is_live, self.count, self.interval_s = images, is_live, count, interval_s
        self.name, self.fps, self.error, self.reads = "served", 1000.0, None, 0
        self._read = threading.Condition()

    def read(self):
        if self.reads >= self.count:
            if self.is_live:
                time.sleep(0.05)  # a camera that has stopped sending
            return None
        time.sleep(self.interval_s)
        with self._read:
            self.reads += 1
            self._read.notify_all()
        return Frame(self.images[(self.reads - 1) % len(self.images)], self.reads - 1, self.reads / 1000)

    def wait_for_reads(self, reads: int, timeout: float) -> bool:
        """Whether `reads` frames were served within `timeout` seconds."""
        with self._read:
            return self._read.wait_for(lambda: self.reads >= reads, timeout)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def clip_images(short_clip):
    capture = cv2.VideoCapture(str(short_clip))
    images = []
    while (read := capture.read())[0]:
        images.append(read[1])
    capture.release()
    return images


def start(source) -> FrameGrabber:
    grabber = FrameGrabber("served", open_fn=lambda spec: source)
    grabber.start()
    return grabber


def stop(grabber: FrameGrabber) -> None:
    grabber.stop()
    grabber.join(2)
    assert not grabber.is_alive()


def test_a_slow_consumer_of_a_live_source_gets_the_newest_frame_and_the_others_are_dropped(clip_images):
    source = ServedFrames(clip_images, is_live=True, count=10_000, interval_s=0.005)
    grabber = start(source)
    try:
        taken = []
        for _ in range(5):
            assert source.wait_for_reads(source.reads + 30, timeout=10)  # a slow inference: 30 frames arrive meanwhile
            served_before = source.reads
            frame = grabber.take(timeout=1.0)
            assert frame is not None
            # the newest frame put: at most the one being read and the one being put are newer
            assert frame.index >= served_before - 2
            taken.append(frame.index)
    finally:
        stop(grabber)
    gaps = [b - a for a, b in zip(taken, taken[1:])]
    assert all(gap > 5 for gap in gaps), taken  # the frames between were dropped, not queued


def test_a_file_is_handed_over_frame_by_frame_and_never_read_far_ahead(clip_images):
    source = ServedFrames(clip_images, is_live=False, count=len(clip_images))
    grabber = start(source)
    try:
        # nobody takes: the thread must wait, not read the file into a queue
        assert source.wait_for_reads(1, timeout=10) and not source.wait_for_reads(3, timeout=0.5)
        taken = []
        while (frame := grabber.take(timeout=2.0)) is not None:
            taken.append(frame.index)
        assert taken == list(range(len(clip_images)))
        assert grabber.state == "ended" and grabber.ended
    finally:
        stop(grabber)


def test_a_seek_and_a_loop_each_start_a_new_segment(short_clip, clip_images):
    grabber = FrameGrabber(str(short_clip), loop=True)
    grabber.start()
    segments: dict[int, list[int]] = {}  # segment -> frame indices taken, in order
    try:
        first = grabber.take(timeout=5.0)
        assert (first.index, first.segment) == (0, 0)
        grabber.seek(3)
        while not segments.get(2):  # on through the seek and the loop back to the start
            frame = grabber.take(timeout=5.0)
            assert frame is not None
            segments.setdefault(frame.segment, []).append(frame.index)
    finally:
        stop(grabber)
    assert set(segments.get(0, [])) <= {1, 2}  # read before the seek was taken up
    assert segments[1] == list(range(3, len(clip_images))) and segments[2] == [0]
