"""One input processed to its files in the output folder: the same work in this process, in a worker
process or in a Ray actor. The results file and the faces table are written beside their targets and
renamed into place at the end, so an input whose task did not finish leaves its earlier ones (or none),
never half of new ones; a new annotated video is written under its own name (a killed task leaves a
playable part of it), and the manifest, which calls the input done only after all of them, redoes it."""
from __future__ import annotations

import glob
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from agegender.archive.inputs import ArchiveInput
from agegender.archive.manifest import Finished
from agegender.archive.tables import FaceRows, write_table
from agegender.commands.process import AnnotatedImages, annotated_name, open_input
from agegender.config import Settings
from agegender.errors import InputError, OutputError
from agegender.outputs.draw import annotate
from agegender.outputs.sinks import VideoWriter, results_writer

FACES_SUFFIX = ".faces.parquet"
log = logging.getLogger("agegender")


class Stopped(Exception):
    """The run was asked to stop (Ctrl-C): the input in hand is left unfinished."""


@dataclass(frozen=True)
class ArchiveOptions:
    """What every task of one run is given: picklable, so that worker processes and Ray actors get it."""
    out_dir: Path
    settings: Settings
    models_dir: Path | None
    design_names: tuple[str, ...]
    track: bool
    results_format: str = "jsonl"  # or "csv"
    annotate: bool = False


def faces_path(out_dir: Path, key: str) -> Path:
    """An input's table of faces, from which the folder's summary is gathered."""
    return Path(out_dir) / (key + FACES_SUFFIX)


def outputs_of(item: ArchiveInput, options: ArchiveOptions) -> dict[str, Path]:
    """The files of one input in the output folder, mirroring its relative path."""
    base = options.out_dir / item.key
    files = {"results": base.with_name(f"{base.name}.{options.results_format}"),
             "faces": faces_path(options.out_dir, item.key)}
    if options.annotate:
        annotated = annotated_name(base.name) if item.is_image else base.name + ".mp4"
        files["annotated"] = base.with_name(_annotated_file_name(annotated))
    return files


def _annotated_file_name(name: str) -> str:
    """photo.jpg -> photo.annotated.jpg, clip.avi.mp4 -> clip.avi.annotated.mp4."""
    path = Path(name)
    return f"{path.stem}.annotated{path.suffix}"


def remove_leftovers(target: Path) -> None:
    """Temporary files a killed task left beside `target`: `.STEM.RANDOM.partSUFFIX`, RANDOM being the 8
    characters tempfile.mkstemp adds (see AtomicFile); nothing else matches."""
    pattern = f".{glob.escape(target.stem)}.{'[a-z0-9_]' * 8}.part{glob.escape(target.suffix)}"
    for leftover in target.parent.glob(pattern):
        leftover.unlink(missing_ok=True)


class ArchiveWorker:
    """One pipeline, loaded once, that processes inputs one after another."""

    def __init__(self, options: ArchiveOptions) -> None:
        from agegender.assemble import build_pipeline
        self.options = options
        self.pipeline, self.scheme, self.provider = build_pipeline(
            options.settings, options.models_dir, list(options.design_names), all_required=True, track=options.track)

    def close(self) -> None:
        self.pipeline.close()

    def process(self, item: ArchiveInput, fingerprint: str, stop=lambda: False, progress=lambda frames: None
                ) -> Finished:
        """Process one input. A file that cannot be read, or any other failure of this input, comes back as a
        failed line (the others go on); a stop request raises Stopped; an output that cannot be written
        raises OutputError (it would fail for every input: a full disk)."""
        try:
            return self._process(item, fingerprint, stop, progress)
        except (Stopped, OutputError):
            raise
        except Exception as exc:  # a decoder or library error on this file: the archive goes on without it
            log.debug("processing %s failed", item.path, exc_info=True)
            return Finished(item.key, str(item.path), fingerprint, "failed",
                            problem=f"{item.path} could not be processed: {type(exc).__name__}: {exc}")

    def _process(self, item: ArchiveInput, fingerprint: str, stop, progress) -> Finished:
        started = time.perf_counter()
        try:
            source = open_input(str(item.path), self.options.settings.max_image_megapixels)
        except InputError as exc:
            return Finished(item.key, str(item.path), fingerprint, "failed", problem=str(exc))
        files = outputs_of(item, self.options)
        for target in files.values():
            target.parent.mkdir(parents=True, exist_ok=True)
            remove_leftovers(target)
        self.pipeline.reset(restart_track_ids=True)
        names = list(self.options.design_names)
        rows = FaceRows(item.key)
        writers, keep = [], False
        frames = faces = 0
        last_time = 0.0
        try:
            # files in the output folder: a link at one's name is replaced, never written through
            results = results_writer(files["results"], names, list(self.scheme.labels), follow_links=False)
            writers.append(results)
            if "annotated" in files:
                writers.append(AnnotatedImages(files["annotated"], single=True, follow_links=False) if item.is_image
                               else VideoWriter(files["annotated"], source.fps, source.size, follow_links=False))
            while (frame := source.read()) is not None:
                if stop():
                    raise Stopped
                result = self.pipeline.process(frame, names)
                record = result.to_dict()
                results.write(record)
                rows.add(record)
                if len(writers) > 1:
                    image = annotate(frame.image, result, names)
                    writers[1].write(image, frame.source) if item.is_image else writers[1].write(image, frame.time)
                frames += 1
                faces += len(result.detections)
                last_time = frame.time
                if frames % 25 == 0:
                    progress(25)
            progress(frames % 25)
            problem = getattr(source, "error", None)
            if frames == 0:
                return Finished(item.key, str(item.path), fingerprint, "failed",
                                problem=problem or f"{item.path} holds no frame that could be decoded")
            write_table(rows.table(), files["faces"])
            keep = True
        finally:
            source.close()
            for writer in writers:
                writer.close(keep)
        video_seconds = 0.0 if item.is_image else last_time + 1.0 / source.fps
        return Finished(item.key, str(item.path), fingerprint, "done", frames=frames, faces=faces, rows=len(rows),
                        seconds=round(time.perf_counter() - started, 3), video_seconds=round(video_seconds, 3),
                        problem=problem)
