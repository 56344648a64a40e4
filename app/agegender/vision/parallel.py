"""Independent frames on several pipelines at once, results in frame order.

Where every frame is detected on its own (`agegender process` without tracking, and folders of images),
frames do not depend on each other, so a second frame can be in the detector's numpy work (pyramid
resizes, crop gathers: single-threaded) while the first is in the networks. Each worker has a detector
of its own, whose sessions take an equal share of the cores; the classifiers are shared (their sessions
take turns: classification is a small part of a frame). At most two frames per worker are in flight.
"""
from __future__ import annotations

import os
import queue
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from agegender.frames import Frame, FrameResult
from agegender.vision.detect import MtcnnDetector
from agegender.vision.pipeline import Pipeline
from agegender.vision.runtime import CPU, OPENVINO

MAX_WORKERS = 4


def usable_cores() -> int:
    """The cores this process may run on (its affinity; a container's limit shows there), else all."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def frame_workers() -> int:
    """How many frames to process at once on this machine: one per core, up to MAX_WORKERS."""
    return max(1, min(MAX_WORKERS, usable_cores()))


def in_parallel(pipeline: Pipeline, frames: Iterable[Frame], design_names: list[str],
                workers: int) -> Iterator[tuple[Frame, FrameResult]]:
    """(frame, result) for every frame, in the frames' order. With one worker, or a pipeline that
    follows faces from frame to frame (a tracker), or one on a GPU, the frames go through `pipeline` one
    by one."""
    if workers <= 1 or pipeline.tracker is not None or pipeline.detector.providers[0] not in (CPU, OPENVINO):
        for frame in frames:
            yield frame, pipeline.process(frame, design_names)
        return
    threads = max(1, usable_cores() // workers)
    free: queue.SimpleQueue[Pipeline] = queue.SimpleQueue()
    for _ in range(workers):
        detector = pipeline.detector
        free.put(Pipeline(MtcnnDetector(detector.settings, detector.model_dir, detector.providers, threads=threads,
                                        precision=detector.precision_setting),
                          pipeline.designs, pipeline.max_faces))

    def process(frame: Frame) -> FrameResult:
        worker = free.get()
        try:
            return worker.process(frame, design_names)
        finally:
            free.put(worker)

    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="frames") as pool:
        try:
            for frame in frames:
                pending.append((frame, pool.submit(process, frame)))
                if len(pending) >= 2 * workers:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            for _, future in pending:  # stopped early (Ctrl-C, an output that failed): no more work
                future.cancel()
