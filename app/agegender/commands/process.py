"""`agegender process`: every frame of a video, an image or a folder of images, to result files.

Everything is checked before any output is opened: the input, the options, the output paths (their
folders, their suffixes, and that none of them is an input). Outputs are then written beside their
targets and renamed into place at the end, also after Ctrl-C or SIGTERM; a run that fails throws its
outputs away and leaves earlier files as they were."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
from tqdm import tqdm

from agegender.sources.capture import ImageSource, VideoFileSource, local_inputs, open_source
from agegender.outputs.draw import annotate
from agegender.errors import InputError, OutputError
from agegender.interrupts import EXIT_INTERRUPTED, signals_raise_interrupt
from agegender.outputs.safety import check_folder, refuse_outputs_over_inputs, write_bytes_atomically
from agegender.outputs.sinks import VideoWriter, check_results_path, check_video_path, results_writer
from agegender.timing import StageTimes

STILL_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def report(message: str) -> None:
    print(f"agegender: {message}", file=sys.stderr)


def open_input(spec: str, max_image_megapixels: float):
    source = open_source(spec, max_image_megapixels)
    if not isinstance(source, (VideoFileSource, ImageSource)):
        source.close()
        raise InputError(f"{spec} is a live source; `agegender process` takes files. "
                         "Open cameras and streams in the window: agegender --source ...")
    return source


def is_stills(source) -> bool:
    return isinstance(source, ImageSource)


def check_outputs(input_spec: str, source, out: Path | None, results: Path | None) -> None:
    """Every check on the outputs, before any is opened."""
    refuse_outputs_over_inputs({"--out": out, "--results": results}, local_inputs(input_spec))
    if results is not None:
        check_results_path(results)
        if not Path(results).is_char_device():
            check_folder(results)
    if out is None:
        return
    if not is_stills(source):
        check_video_path(out)
        check_folder(out)
    elif source.frame_count == 1:
        if Path(out).suffix.lower() not in STILL_SUFFIXES:
            raise OutputError(f"--out {out}: for an image input, give an image file (.jpg, .png)")
        check_folder(out)
    elif not Path(out).is_dir():
        raise OutputError(f"--out {out}: for a folder of images, give an existing folder")


class AnnotatedImages:
    """--out for image inputs: one annotated file, or a folder of annotated copies, each written whole."""

    def __init__(self, path: Path, single: bool) -> None:
        self.path, self.single = Path(path), single

    def write(self, image, name: str) -> None:
        target = self.path if self.single else self.path / name
        if target.suffix.lower() not in STILL_SUFFIXES:
            target = target.with_name(target.name + ".png")  # .pgm, .tif, ...: PNG keeps the colour drawn
        try:
            ok, encoded = cv2.imencode(target.suffix, image)
        except cv2.error:
            ok = False
        if not ok:
            raise OutputError(f"cannot encode the annotated {name} as {target.suffix}")
        write_bytes_atomically(target, encoded.tobytes())

    def close(self, keep: bool = True) -> None:
        pass  # every image was complete when written


def run(source, pipeline, design_names: list[str], out: Path | None, results: Path | None,
        bucket_labels: list[str], provider: str) -> int:
    """Process an opened, checked source (see check_outputs) to the outputs asked for."""
    writers = []
    keep = False
    with signals_raise_interrupt():
        try:
            results_out = results_writer(results, design_names, bucket_labels) if results else None
            writers.append(results_out)
            if out is None:
                video_out = None
            elif is_stills(source):
                video_out = AnnotatedImages(out, single=source.frame_count == 1)
            else:
                video_out = VideoWriter(out, source.fps, source.size)
            writers.append(video_out)
            code = _loop(source, pipeline, design_names, results_out, video_out, provider)
            keep = True
            return code
        finally:
            for writer in writers:
                if writer is not None:
                    writer.close(keep)


def _loop(source, pipeline, design_names, results_out, video_out, provider) -> int:
    times = StageTimes()
    frames = faces = dropped = 0
    not_written: list[str] = []
    started = time.perf_counter()
    interrupted = False
    bar = tqdm(total=source.frame_count or None, unit="frame", desc=source.name, dynamic_ncols=True)
    try:
        while (frame := source.read()) is not None:
            result = pipeline.process(frame, design_names)
            times.add_all(result.timings)
            frames += 1
            faces += len(result.detections)
            dropped += result.faces_dropped
            if results_out:
                results_out.write(result.to_dict())
            if video_out is not None:
                image = annotate(frame.image, result, design_names)
                if isinstance(video_out, AnnotatedImages):
                    try:
                        video_out.write(image, frame.source)
                    except OutputError as exc:
                        if video_out.single:
                            raise
                        not_written.append(f"{frame.source}: {exc}")
                else:
                    video_out.write(image, frame.time)
            bar.update(1)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    elapsed = time.perf_counter() - started
    stages = ", ".join(f"{stage} {times.mean_ms(stage):.1f}" for stage in times.stages())
    beyond_cap = f" (and {dropped} beyond --max-faces, not classified)" if dropped else ""
    print(f"{frames} frames, {faces} faces{beyond_cap}, {frames / max(elapsed, 1e-9):.1f} FPS; "
          f"mean ms per frame: {stages}; execution provider: {provider}")
    if interrupted:
        report(f"interrupted: the {frames} frames processed so far are saved")
        return EXIT_INTERRUPTED
    skipped = getattr(source, "skipped", []) + not_written
    problems = skipped[:]
    if skipped:
        problems.append(f"{len(skipped)} of {source.frame_count} images were skipped (listed above); "
                        "the others were processed")
    elif source.error:
        problems.append(source.error)
    for problem in problems:
        report(problem)
    return 1 if problems else 0
