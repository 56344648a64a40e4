"""One frame in, one FrameResult out: detect, align, one batched call per network, all timed."""
from __future__ import annotations

import numpy as np

from agegender.frames import Frame, FrameResult
from agegender.vision.align import align_faces
from agegender.vision.designs import Predictions
from agegender.vision.buckets import BucketScheme
from agegender.vision.detect import Detections, DetectorSettings, MtcnnDetector
from agegender.vision.schedule import ClassifySchedule
from agegender.vision.sweep import BackgroundSweep, SweepPace, find_again, merge, new_faces, uncovered
from agegender.timing import timed
from agegender.vision.track import Tracker

DEFAULT_MAX_FACES = 64


LOOK_AGAIN_AT_MOST = 4  # lost faces looked for again per live frame, each a few ms
LOOK_AGAIN_MISSED = 2  # only faces seen on one of the last frames: the others have likely left
LOOK_AGAIN_REACH = 2.0  # the square searched, in face sizes: a face moves far less than that in a frame


class Pipeline:
    """With a tracker, faces keep ids and their predictions are smoothed per track (if `smoothing`);
    with detect_every > 1 as well, the full detector runs on every N-th frame only and the frames
    between refine the tracked faces (tracking mode). Stills (images) never touch the tracker: each is
    detected in full and labelled on its own, whatever came before.

    The live view adds two things (`live=True`, with a tracker): the full sweep runs on its own thread
    (vision/sweep.py), so no frame waits for it, and with `classify_budget` > 0 only that many crops
    are classified per frame (vision/schedule.py); the other faces keep their track's answer. Files
    processed for their results use neither, so every frame gets the same work, whatever the timing."""

    def __init__(self, detector: MtcnnDetector, designs: dict, max_faces: int = DEFAULT_MAX_FACES,
                 tracker: Tracker | None = None, detect_every: int = 1, smoothing: bool = True,
                 live: bool = False, classify_budget: int = 0) -> None:
        self.detector = detector
        self.designs = designs  # name -> design object with input_size and predict()
        self.max_faces = max_faces
        if detect_every < 0:
            raise ValueError(f"detect_every must be 0 (auto) or more, got {detect_every}")
        self.tracker, self.detect_every, self.smoothing = tracker, detect_every, smoothing
        self.pace = SweepPace()
        # May be switched off and on while running: off, a live pipeline does the same work on every
        # frame as a file's (the window does so while it exports results).
        self.live = live
        self._since_full = self.sweep_interval  # the live view's first frame starts a sweep
        self._jumped = True  # a new source, a seek or a loop: no track to follow yet
        self._segment = 0  # Frame.segment of the frames the tracks follow
        self.sweep = BackgroundSweep(detector) if live and tracker is not None else None
        self.schedule = ClassifySchedule(classify_budget) if live and classify_budget and tracker is not None else None

    @property
    def sweep_interval(self) -> int:
        """Frames from one full detection to the next: detect_every, or where it is 0 ("auto"), the live
        view's measured pace (vision/sweep.py SweepPace); a file's frames, whose results must not depend
        on timing, take the pace's first guess."""
        if self.detect_every:
            return self.detect_every
        return self.pace.interval if self.live else SweepPace.FIRST

    def reconfigure(self, detector_settings: DetectorSettings, scheme: BucketScheme, smoothing: bool,
                    detect_every: int) -> None:
        """New settings while frames are processed on another thread: each is one attribute swap, taken up
        by the next frame."""
        if detect_every < 0:
            raise ValueError(f"detect_every must be 0 (auto) or more, got {detect_every}")
        self.detector.settings = detector_settings
        for design in self.designs.values():
            design.scheme = scheme
        self.smoothing, self.detect_every = smoothing, detect_every

    def reset(self, restart_track_ids: bool = False) -> None:
        """Forgets every face: for a new source. Not while a frame is being processed. (A seek needs no
        call: process() sees it in the frame's segment.) `restart_track_ids`: the new source's tracks are
        numbered from 1, as if it were the first (the archive: each input's results stand alone)."""
        if self.tracker is not None:
            self.tracker.reset(restart_track_ids)
        if self.sweep is not None:
            self.sweep.reset()
        if self.schedule is not None:
            self.schedule.reset()
        self.pace.reset()
        self._since_full = self.sweep_interval
        self._jumped = True

    def close(self) -> None:
        if self.sweep is not None:
            self.sweep.close()

    def _detect(self, frame: Frame) -> tuple[Detections, bool]:
        if frame.is_still or self.tracker is None:
            return self.detector.detect(frame.image, compile_for_size=not frame.is_still), True
        if self.sweep is not None:
            if self.live:
                return self._detect_beside_sweep(frame)
            self.sweep.reset()  # one begun before the window started exporting is of a frame long gone
        if self.sweep_interval > 1 and self.tracker.tracks and self._since_full < self.sweep_interval - 1:
            self._since_full += 1
            return self.detector.detect_near(frame.image, self.tracker.predicted_boxes()), False
        self._since_full = 0
        return self.detector.detect(frame.image), True

    def _detect_beside_sweep(self, frame: Frame) -> tuple[Detections, bool]:
        """Known faces by the region search on this frame; the full sweep runs beside it every
        detect_every frames (or as often as it can, at 1), and the new faces it found join them here.
        The first frame after a jump (a new source, a seek, a loop) is swept on the frame path instead:
        there is no track to follow, and its faces are labelled a sweep's time sooner."""
        if self._jumped:
            self._jumped = False
            self._since_full = 0
            return self.detector.detect(frame.image), True
        self.sweep.newest_image = frame.image
        swept = self.sweep.finished()
        regions = self.tracker.predicted_boxes()
        if swept is not None:  # swept faces are where they were a frame or two ago: searched for here
            # Only tracks seen on the last frame cover a face; a coasting one's box is a guess.
            regions = np.concatenate([regions, new_faces(swept, self.tracker.seen_boxes())])
            self.pace.swept_in(self.sweep.last_seconds)
        self.pace.frame_at(frame.time)
        self._since_full += 1
        if self._since_full >= self.sweep_interval and self.sweep.start(frame.image, self.tracker.seen_boxes()):
            self._since_full = 0
        found = self.detector.detect_near(frame.image, regions) if len(regions) else Detections()
        recent = self.tracker.predicted_boxes(missed_at_most=LOOK_AGAIN_MISSED)
        expected = np.concatenate([recent, regions[len(self.tracker.tracks):]])  # and the new swept faces
        return self._look_again(frame.image, expected, found), swept is not None

    def _look_again(self, image, expected: np.ndarray, found: Detections) -> Detections:
        """The faces the region search lost on this frame (small ones, moving, often) looked for by the
        full detector in a square around where each was expected, LOOK_AGAIN_AT_MOST per frame."""
        lost = uncovered(expected, found.boxes)[:LOOK_AGAIN_AT_MOST]
        return merge([found, find_again(self.detector, image, lost, LOOK_AGAIN_REACH)]) if len(lost) else found

    def _to_classify(self, detections: Detections, track_ids: np.ndarray | None, names: list[str]) -> np.ndarray:
        """Indices of the faces classified on this frame: all of them, or the schedule's choice."""
        if not self.live or self.schedule is None or track_ids is None:
            return np.arange(len(detections))
        answered = self.tracker.answered_ids(names)  # one pass over the tracks, not one per face
        unanswered = np.array([int(t) not in answered for t in track_ids], bool)
        chosen = self.schedule.choose(track_ids, detections.boxes, detections.landmarks, unanswered)
        self.schedule.forget_all_but(t.track_id for t in self.tracker.tracks)
        return chosen

    def _capped(self, detections: Detections) -> tuple[Detections, int]:
        """Bounded work per frame: the max_faces most confident faces, and how many were dropped."""
        if len(detections) <= self.max_faces:
            return detections, 0
        keep = np.sort(np.argsort(-detections.scores)[: self.max_faces])
        return detections[keep], len(detections) - self.max_faces

    def process_stills(self, frames: list[Frame]) -> list[FrameResult]:
        """Several images, each detected on its own and all their faces classified together, in one call
        per network (the Python API's analyze([...])): the same answers as one process() per image."""
        found = []
        for frame in frames:
            timings: dict[str, float] = {}
            with timed(timings, "detect"):
                detections, dropped = self._capped(self.detector.detect(frame.image, compile_for_size=False))
            found.append((frame, detections, dropped, timings))
        crops_by_size: dict[int, np.ndarray] = {}
        batch: dict[str, Predictions] = {}
        for name, design in self.designs.items():
            if design.input_size not in crops_by_size:
                crops_by_size[design.input_size] = np.concatenate(
                    [align_faces(frame.image, detections.landmarks, design.input_size)
                     for frame, detections, _, _ in found])
            batch[name] = design.predict(crops_by_size[design.input_size])
        results, start = [], 0
        for frame, detections, dropped, timings in found:
            end = start + len(detections)
            timings["total"] = sum(timings.values())
            results.append(FrameResult(frame.index, frame.time, detections,
                                       {name: p.rows(slice(start, end)) for name, p in batch.items()}, timings,
                                       frame.source, frame.captured_at, dropped, classified=np.arange(len(detections))))
            start = end
        return results

    def process(self, frame: Frame, design_names: list[str] | None = None) -> FrameResult:
        if not frame.is_still and frame.segment != self._segment:  # after a seek: other faces, or the same elsewhere
            self.reset()
            self._segment = frame.segment
        timings: dict[str, float] = {}
        names = design_names or list(self.designs)
        with timed(timings, "detect"):
            detections, full = self._detect(frame)
        detections, dropped = self._capped(detections)
        track_ids = None
        if self.tracker is not None and not frame.is_still:
            with timed(timings, "track"):
                track_ids = self.tracker.update(detections.boxes, detections.landmarks)
        chosen = self._to_classify(detections, track_ids, names)
        raw: dict[str, Predictions] = {}
        crops_by_size: dict[int, np.ndarray] = {}
        for name in names:
            design = self.designs[name]
            if design.input_size not in crops_by_size:
                with timed(timings, "align"):
                    crops_by_size[design.input_size] = align_faces(frame.image, detections.landmarks[chosen],
                                                                   design.input_size)
            with timed(timings, f"classify:{name}"):
                raw[name] = design.predict(crops_by_size[design.input_size])
        predictions = raw
        scheduled = self.live and self.schedule is not None
        if track_ids is not None and (self.smoothing or scheduled):  # (the schedule reads the tracks' answers)
            with timed(timings, "track"):
                predictions = {name: self.tracker.follow(track_ids, chosen, name, p, self.smoothing)
                               for name, p in raw.items()}
            if scheduled:
                self.schedule.note_answers(track_ids, list(predictions.values()))
        timings["total"] = sum(timings.values())
        return FrameResult(frame.index, frame.time, detections, predictions, timings, frame.source,
                           frame.captured_at, dropped, track_ids, full, classified=chosen)
