"""`agegender process`: every frame of a video, an image or a folder of images, to result files."""
from __future__ import annotations

import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import cv2
from tqdm import tqdm

from app.capture import ImageSource, VideoFileSource, open_source
from app.draw import annotate
from app.errors import InputError, OutputError
from app.sinks import VideoWriter, results_writer
from app.timing import StageTimes



def report(message: str) -> None:
    print(f"agegender: {message}", file=sys.stderr)


class AnnotatedImages:
    """--out for image inputs: one annotated file, or a folder of annotated copies."""

    def __init__(self, path: Path, single: bool) -> None:
        self.path, self.single = Path(path), single
        if single and self.path.suffix.lower() not in (".jpg", ".jpeg", ".png", ".bmp", ".webp"):
            raise OutputError(f"--out {self.path}: for an image input, give an image file (.jpg, .png)")
        folder = self.path.parent if single else self.path
        if not folder.is_dir():
            raise OutputError(f"cannot write to {folder}: no such folder")

    def write(self, image, name: str) -> None:
        target = self.path if self.single else self.path / name
        ok, encoded = cv2.imencode(target.suffix or ".png", image)
        try:
            if not ok:
                raise OSError(0, "encoding failed")
            encoded.tofile(str(target))
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {exc.strerror}") from exc

    def close(self) -> None:
        pass


def run(input_spec: str, pipeline, design_names: list[str], out: Path | None, results: Path | None,
        bucket_labels: list[str], provider: str) -> int:
    source = open_source(input_spec)
    if not isinstance(source, (VideoFileSource, ImageSource)):
        source.close()
        raise InputError(f"{input_spec} is a live source; `agegender process` takes files. "
                         "Open cameras and streams in the window: agegender --source ...")
    writers = []
    try:
        results_out = results_writer(results, design_names, bucket_labels) if results else None
        writers.append(results_out)
        if out is None:
            video_out = None
        elif isinstance(source, VideoFileSource):
            video_out = VideoWriter(out, source.fps, source.size)
        else:
            video_out = AnnotatedImages(out, single=source.frame_count == 1)
        writers.append(video_out)
        return _loop(source, pipeline, design_names, results_out, video_out, provider)
    finally:
        for writer in writers:
            if writer is not None:
                writer.close()
        source.close()


@contextmanager
def sigterm_as_interrupt():
    """SIGTERM ends the run like Ctrl-C, so the video and result files are closed and stay valid."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _loop(source, pipeline, design_names, results_out, video_out, provider) -> int:
    times = StageTimes()
    frames = faces = 0
    started = time.perf_counter()
    interrupted = False
    bar = tqdm(total=source.frame_count or None, unit="frame", desc=source.name, dynamic_ncols=True)
    try:
        with sigterm_as_interrupt():
            while (frame := source.read()) is not None:
                result = pipeline.process(frame, design_names)
                times.add_all(result.timings)
                frames += 1
                faces += len(result.detections)
                if results_out:
                    results_out.write(result.to_dict())
                if video_out is not None:
                    image = annotate(frame.image, result, design_names)
                    if isinstance(video_out, AnnotatedImages):
                        video_out.write(image, frame.source)
                    else:
                        video_out.write(image)
                bar.update(1)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    elapsed = time.perf_counter() - started
    stages = ", ".join(f"{stage} {times.mean_ms(stage):.1f}" for stage in times.stages())
    print(f"{frames} frames, {faces} faces, {frames / max(elapsed, 1e-9):.1f} FPS; "
          f"mean ms per frame: {stages}; execution provider: {provider}")
    if interrupted:
        report(f"interrupted: the {frames} frames processed so far are saved")
        return 130
    problems = [source.error] if source.error else []
    problems += getattr(source, "skipped", [])
    for problem in problems:
        report(problem)
    return 1 if problems else 0
