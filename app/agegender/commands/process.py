"""`agegender process`: every frame of a video, an image or a folder of images, to result files.

Everything is checked before any output is opened: the input, the options, the output paths (their
folders, their suffixes, and that none of them is an input). Outputs are then written beside their
targets and renamed into place at the end, also after Ctrl-C or SIGTERM; a run that fails throws its
outputs away and leaves earlier files as they were."""
from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
from tqdm import tqdm

from agegender.console import say, shown
from agegender.sources.capture import ImageSource, VideoFileSource, local_inputs, open_source
from agegender.outputs.draw import annotate
from agegender.errors import InputError, OutputError
from agegender.interrupts import EXIT_INTERRUPTED, deferred_interrupts, outputs_saved, signals_raise_interrupt
from agegender.outputs.safety import (check_folder, refuse_closed_streams, refuse_links_to_inputs,
                                      refuse_outputs_over_inputs, through_links, write_bytes_atomically,
                                      writes_in_place, writes_to_stdout)
from agegender.outputs.sinks import VideoWriter, check_results_path, check_video_path, results_writer
from agegender.timing import StageTimes
from agegender.vision.parallel import in_parallel

STILL_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def annotated_name(name: str) -> str:
    """The name of an image's annotated copy: its own, or with .png added where its format is not one
    the annotation is written in (.pgm, .tif, .gif, ...: PNG keeps the colours drawn)."""
    return name if Path(name).suffix.lower() in STILL_SUFFIXES else name + ".png"


def refuse_name_clashes(images: list[Path]) -> None:
    """Two inputs whose annotated copies would have one name (a.pgm and a.pgm.png) are refused before
    anything is written: one copy would silently replace the other."""
    by_target = defaultdict(list)
    for path in images:
        by_target[annotated_name(path.name)].append(path.name)
    for target, names in by_target.items():
        if len(names) > 1:
            raise OutputError(f"{' and '.join(names)} would both be annotated as {target}; rename one of them, "
                              "or leave out --out")


def open_input(spec: str, max_image_megapixels: float):
    source = open_source(spec, max_image_megapixels)
    if not isinstance(source, (VideoFileSource, ImageSource)):
        source.close()
        raise InputError(f"{spec} is a live source; `agegender process` takes files. "
                         "Open cameras and streams in the window: agegender --source ...")
    if isinstance(source, VideoFileSource):
        source.follow_size_changes()  # results in each frame's own coordinates (the window shows OpenCV's)
        source.count_damage()
    return source


def is_stills(source) -> bool:
    return isinstance(source, ImageSource)


def check_outputs(input_spec: str, source, out: Path | None, results: Path | None) -> None:
    """Every check on the outputs, before any is opened."""
    inputs = local_inputs(input_spec)
    refuse_outputs_over_inputs({"--out": out, "--results": results}, inputs)
    refuse_closed_streams({"--out": out, "--results": results})
    if results is not None:
        check_results_path(results)
        _check_folder_of(results)
    if out is None:
        return
    if not is_stills(source):
        check_video_path(out)
    elif source.is_folder:
        if not Path(out).is_dir():
            raise OutputError(f"--out {out}: for a folder of images, give an existing folder")
        refuse_name_clashes(source.paths)
        refuse_links_to_inputs("--out", [Path(out) / annotated_name(path.name) for path in source.paths], inputs)
        return
    elif Path(out).suffix.lower() not in STILL_SUFFIXES and not writes_in_place(out):
        raise OutputError(f"--out {out}: for an image input, give an image file ({', '.join(STILL_SUFFIXES)})")
    _check_folder_of(out)


def _check_folder_of(output: Path) -> None:
    if not writes_in_place(output):  # a device or a pipe is written where it is, whatever its folder
        check_folder(through_links(output))


class AnnotatedImages:
    """--out for image inputs: one annotated file, or a folder of annotated copies, each written whole.
    A link where a copy in the folder goes is replaced, not written through; `follow_links`: whether a
    single file's link is (the name the user gave) or is replaced too (a file in an output folder)."""

    def __init__(self, path: Path, single: bool, follow_links: bool = True) -> None:
        self.path, self.single = Path(path), single
        self.follow_links = single and follow_links

    def write(self, image, name: str) -> None:
        target = self.path if self.single else self.path / annotated_name(name)
        suffix = target.suffix if target.suffix.lower() in STILL_SUFFIXES else ".png"  # a device, /dev/stdout
        try:
            ok, encoded = cv2.imencode(suffix, image)
        except cv2.error:
            ok = False
        if not ok:
            raise OutputError(f"cannot encode the annotated {name} as {suffix}")
        write_bytes_atomically(target, encoded.tobytes(), follow_links=self.follow_links)

    def close(self, keep: bool = True) -> None:
        pass  # every image was complete when written


def run(source, pipeline, design_names: list[str], out: Path | None, results: Path | None,
        bucket_labels: list[str], provider: str, workers: int = 1) -> int:
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
                video_out = AnnotatedImages(out, single=not source.is_folder)
            else:
                video_out = VideoWriter(out, source.fps, source.size)
            writers.append(video_out)
            outcome = _loop(source, pipeline, design_names, results_out, video_out, workers)
            # stopped before its first frame, a run has nothing to save: earlier outputs stay as they were
            keep = not (outcome.interrupted and outcome.frames == 0)
        finally:
            for writer in writers:
                if writer is not None:
                    writer.close(keep)
    outputs_saved()
    # where an output goes to stdout (--results /dev/stdout), the summary must not land in it
    return outcome.finish(provider, summary_to_stderr=any(path is not None and writes_to_stdout(path)
                                                          for path in (out, results)))


class Outcome:
    """What a run did, told once its outputs are saved: a summary line, then any problems, one a line."""

    def __init__(self, source) -> None:
        self.source = source
        self.times = StageTimes()
        self.frames = self.faces = self.dropped = 0
        self.not_written: list[str] = []  # annotated images that could not be written (their results were)
        self.interrupted = False
        self.started = time.perf_counter()

    def finish(self, provider: str, summary_to_stderr: bool = False) -> int:
        elapsed = time.perf_counter() - self.started
        stages = ", ".join(f"{stage} {self.times.mean_ms(stage):.1f}" for stage in self.times.stages())
        beyond_cap = f" (and {self.dropped} beyond --max-faces, not classified)" if self.dropped else ""
        print(f"{self.frames} frames, {self.faces} faces{beyond_cap}, {self.frames / max(elapsed, 1e-9):.1f} FPS; "
              f"mean ms per frame: {stages}; execution provider: {provider}",
              file=sys.stderr if summary_to_stderr else sys.stdout)
        if self.interrupted:
            say(f"interrupted: the {self.frames} frames processed so far are saved" if self.frames else
                "interrupted before the first frame: nothing was written, and outputs of an earlier run are as "
                "they were")
            return EXIT_INTERRUPTED
        problems = list(getattr(self.source, "skipped", []))
        if problems:
            problems.append(f"{len(problems)} of {self.source.frame_count} images could not be read and were "
                            "skipped (listed above); the others were processed")
        elif self.source.error:
            problems.append(self.source.error)
        if not is_stills(self.source) and (damage := self.source.damage()):
            problems.append(damage)
        if self.not_written:
            problems += self.not_written
            problems.append(f"{len(self.not_written)} annotated images could not be written (listed above); "
                            "their results are in the results file")
        for problem in problems:
            say(problem)
        return 1 if problems else 0


def _frames(source):
    while (frame := source.read()) is not None:
        yield frame


def _loop(source, pipeline, design_names, results_out, video_out, workers) -> Outcome:
    outcome = Outcome(source)
    bar = tqdm(total=source.frame_count or None, unit="frame", desc=shown(source.name), dynamic_ncols=True)
    try:
        for frame, result in in_parallel(pipeline, _frames(source), design_names, workers):
            image = annotate(frame.image, result, design_names) if video_out is not None else None
            with deferred_interrupts():  # a frame is in every output or in none, and counted where it is
                if video_out is not None:  # first, so that a frame with a results line is in the video too
                    if isinstance(video_out, AnnotatedImages):
                        try:
                            video_out.write(image, frame.source)
                        except OutputError as exc:
                            if video_out.single:
                                raise
                            outcome.not_written.append(f"{frame.source}: {exc}")
                    else:
                        video_out.write(image, frame.time)
                if results_out:
                    results_out.write(result.to_dict())
                outcome.times.add_all(result.timings)
                outcome.frames += 1
                outcome.faces += len(result.detections)
                outcome.dropped += result.faces_dropped
            bar.update(1)
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        bar.close()
    return outcome
