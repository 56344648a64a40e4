"""The archive run: find the inputs, skip what the folder's manifest has finished, run the rest on an
engine, record each as it finishes, then gather the folder's tables and its report."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from agegender.archive import report
from agegender.archive.engines import open_engine
from agegender.archive.inputs import ArchiveInput, find_inputs
from agegender.archive.manifest import Finished, Manifest, fingerprint
from agegender.archive.tables import count_people, part_is_whole, people_of, read_faces, write_table, INPUTS
from agegender.archive.task import ArchiveOptions, faces_path, outputs_of
from agegender.console import say
from agegender.errors import InputError, OutputError
from agegender.interrupts import EXIT_INTERRUPTED, outputs_saved, signals_raise_interrupt
from agegender.outputs.safety import check_folder, refuse_links_to_inputs
from agegender.paths import MODELS_DIR
from agegender.sources.capture import refuse_non_utf8_path
from agegender.vision import buckets

import pyarrow as pa


def model_digests(models_dir: Path | None) -> dict[str, str]:
    """SHA-256 of every network file a run may load: results of other models are not mixed in one folder."""
    folder = Path(models_dir or MODELS_DIR)
    files = sorted([*folder.glob("*.onnx"), *folder.glob("mtcnn/*.onnx"), *folder.glob("*.json")])
    return {f.relative_to(folder).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()[:16] for f in files}


def run_record(options: ArchiveOptions) -> dict:
    """What makes two runs' results comparable: kept in the manifest, and a different one is refused."""
    settings = {name: getattr(options.settings, name) for name in (
        "detector", "thresholds", "min_face", "buckets", "max_faces", "detect_every", "precision", "backend",
        "provider", "max_image_megapixels")}
    return {"settings": settings, "designs": list(options.design_names), "track": options.track,
            "format": options.results_format, "annotate": options.annotate,
            "models": model_digests(options.models_dir)}


def _refuse_inputs_inside(out_dir: Path, items: list[ArchiveInput]) -> None:
    root = out_dir.resolve()
    for item in items:
        if root in item.path.resolve().parents:
            raise OutputError(f"{item.path} is inside the output folder {out_dir}; choose an --out-dir apart from "
                              "the inputs")


def _refuse_outputs_outside(out_dir: Path, outputs: list[Path]) -> None:
    """Every output's folder is DIR or inside it: a link in DIR to a folder elsewhere would otherwise have
    outputs written, and files of the same names replaced, there."""
    root = out_dir.resolve()
    for folder in dict.fromkeys(path.parent for path in outputs):
        real = folder.resolve()
        if real != root and root not in real.parents:
            raise OutputError(f"{folder} is outside the output folder {out_dir}: a link leads it to {real}; "
                              "remove the link, or choose another --out-dir")


def process_archive(specs: list[str], options: ArchiveOptions, engine: str = "local", workers: int = 1,
                    ray_address: str | None = None, force: bool = False) -> int:
    """Exit status: 0 all done, 1 some input failed or went missing (listed), 130 interrupted (what finished
    is kept)."""
    out_dir = options.out_dir
    try:  # the whole path, a relative DIR's parents included: the tables' writer cannot name it otherwise
        refuse_non_utf8_path(out_dir.absolute())
    except InputError as exc:
        raise OutputError(f"--out-dir: {exc}") from None
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        raise OutputError(f"--out-dir {out_dir} is not a folder; give a new folder, or the --out-dir of an earlier "
                          "run")
    items = find_inputs(specs, out_dir)
    _refuse_inputs_inside(out_dir, items)
    outputs = [path for item in items for path in outputs_of(item, options).values()]
    _refuse_outputs_outside(out_dir, outputs)
    refuse_links_to_inputs("--out-dir", outputs, [item.path for item in items])
    # signals raise KeyboardInterrupt from here on, so that the manifest's lock and any new folder are
    # cleaned up on the way out (one run writes the tables at a time: under that lock)
    with signals_raise_interrupt(), _output_folder(out_dir), Manifest(out_dir) as manifest:
        manifest.check_run(run_record(options), force, [item.key for item in items])
        _fail_lost_parts(manifest, out_dir)
        todo, unreadable = [], []
        for item in items:
            try:
                current = fingerprint(item.path)
            except InputError as exc:
                unreadable.append(Finished(item.key, str(item.path), "", "failed", problem=str(exc)))
                continue
            if manifest.to_do(item.key, current):
                todo.append((item, current))
        for line in unreadable:
            manifest.record(line)
        skipped = len(items) - len(todo) - len(unreadable)
        if skipped:
            say(f"{skipped} of {len(items)} inputs are already done in {out_dir}; they are kept (--force redoes them)")
        started = time.perf_counter()
        interrupted = _run_todo(manifest, todo, options, engine, workers, ray_address)
        spent = time.perf_counter() - started if todo else None
        finished = _missing_marked(manifest.finished())
        try:
            write_tables(out_dir, finished, options.settings.buckets)
        except KeyboardInterrupt:
            interrupted = True  # the earlier tables stay; the next run writes them again
    outputs_saved()
    return _tell(finished, [item.key for item in items], out_dir, interrupted, spent)


@contextmanager
def _output_folder(out_dir: Path):
    """DIR, made where it is new. A run refused or failed removes the folders it made that are empty (the
    manifest removes itself where it is new and holds no result): nothing that holds a file is removed."""
    made = [folder for folder in (out_dir, *out_dir.parents) if not os.path.lexists(folder)]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {out_dir}: {exc.strerror}; choose another --out-dir") from None
    try:
        check_folder(out_dir / "summary.parquet")
        yield
    except BaseException:
        inside = [path for path in made[:1] for path in path.rglob("*") if path.is_dir() and not path.is_symlink()]
        for folder in [*sorted(inside, reverse=True), *made]:  # the deepest first
            try:
                folder.rmdir()
            except OSError:
                pass  # not empty: kept
        raise


def _fail_lost_parts(manifest: Manifest, out_dir: Path) -> None:
    """A done input whose faces table was removed or damaged is no longer done: it is listed as failed, and
    redone by the run that names it (this one, where it does)."""
    for line in manifest.finished().values():
        part = faces_path(out_dir, line.key)
        if line.status == "done" and not part_is_whole(part, line.rows):
            manifest.record(dataclasses.replace(line, status="failed", problem=f"{part} was removed or damaged; "
                                                f"a run that names {line.path} redoes it"))


def _missing_marked(finished: dict[str, Finished]) -> dict[str, Finished]:
    """The lines, those of inputs that no longer exist marked 'missing' for the tables and the closing line.
    The manifest keeps them as they were: an input that comes back is not redone."""
    return {key: line if Path(line.path).exists() else
            dataclasses.replace(line, status="missing", problem=f"{line.path} no longer exists"
                                + ("; its files here are kept, outside the tables" if line.status == "done" else ""))
            for key, line in finished.items()}


def _run_todo(manifest: Manifest, todo, options, engine_name, workers, ray_address) -> bool:
    """Runs the inputs to do; True if interrupted. An output that cannot be written (a full disk) stops
    the run with the manifest as it was after the last finished input."""
    if not todo:
        return False
    total_frames = sum(_frame_estimate(item) for item, _ in todo)
    engine = open_engine(options, engine_name, workers, ray_address)
    bar = tqdm(total=total_frames or None, unit="frame", dynamic_ncols=True, desc=f"0/{len(todo)} inputs")
    interrupted = False
    try:
        try:
            for done, line in enumerate(engine.run(todo, bar.update), 1):
                manifest.record(line)
                bar.set_description(f"{done}/{len(todo)} inputs")
                if line.problem:
                    bar.write(f"agegender: {line.key}: {line.problem}")
        except KeyboardInterrupt:
            for line in engine.finished_after_stop():
                manifest.record(line)
            interrupted = True
        finally:
            bar.close()
    finally:
        try:
            engine.close()
        except KeyboardInterrupt:  # while the workers were being stopped, after the last input: all is kept
            interrupted = True
    return interrupted


def _frame_estimate(item: ArchiveInput) -> int:
    """Frames the progress bar expects from an input (a video's header count; 1 for an image)."""
    if item.is_image:
        return 1
    import cv2
    capture = cv2.VideoCapture(str(item.path))
    try:
        return max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    finally:
        capture.release()


def write_tables(out_dir: Path, finished: dict[str, Finished], bucket_setting: str) -> None:
    """The folder's tables and report, from every input its manifest holds as done (earlier runs' too)."""
    done = sorted((line for line in finished.values() if line.status == "done"), key=lambda line: line.key)
    # Every run gathers the whole folder's faces afresh: simple, and seconds for hours of video; an archive
    # of thousands of hours would want the tables appended to instead.
    faces = read_faces([faces_path(out_dir, line.key) for line in done])
    frame_seconds = {line.key: line.video_seconds / line.frames for line in done if line.video_seconds}
    people = people_of(faces, frame_seconds, buckets.scheme(bucket_setting))
    people_seen = count_people(people)
    inputs = pa.table({"input": [line.key for line in finished.values()],
                       "path": [line.path for line in finished.values()],
                       "status": [line.status for line in finished.values()],
                       "problem": [line.problem for line in finished.values()],
                       "frames": [line.frames for line in finished.values()],
                       "faces": [line.faces for line in finished.values()],
                       "video_seconds": [line.video_seconds for line in finished.values()],
                       "wall_seconds": [line.seconds for line in finished.values()],
                       "people": [people_seen.get(line.key, 0) if line.status == "done" else None
                                  for line in finished.values()]}, schema=INPUTS).sort_by("input")
    for name, table in (("summary", faces), ("people", people), ("inputs", inputs)):
        write_table(table, out_dir / f"{name}.parquet")
        write_table(table, out_dir / f"{name}.csv")
    report.write_report(out_dir)


def _tell(finished: dict[str, Finished], keys: list[str], out_dir: Path, interrupted: bool,
          spent: float | None) -> int:
    """The closing line and the problems, as the tables have them: this run's inputs, and inputs of the
    folder that no longer exist. `spent`: the seconds this run processed inputs (None: it had none to do)."""
    mine = [finished[key] for key in keys if key in finished]
    done = [line for line in mine if line.status == "done"]
    failed = [line for line in mine if line.status != "done"]  # missing ones too: they could not be processed
    missing = [line for line in finished.values() if line.status == "missing"]
    named = set(keys)
    earlier = [line for line in missing if line.key not in named]
    frames = sum(line.frames for line in done)
    video = sum(line.video_seconds for line in done)
    gone = f"; {len(missing)} inputs of the folder no longer exist (listed as missing)" if missing else ""
    took = f"; this run took {spent:.0f} s" if spent is not None else ""
    print(f"{len(done)} of {len(keys)} inputs done ({frames} frames, {video:.0f} s of video){gone}{took}; tables "
          f"and report in {out_dir}")
    for line in failed + earlier:
        say(f"{line.key}: {line.problem}")
    partly = [line for line in done if line.problem]
    for line in partly:
        say(f"{line.key}: {line.problem} (what could be read is in the tables)")
    if interrupted:
        say(f"interrupted: the {len(done)} finished inputs are kept; run the same command to go on")
        return EXIT_INTERRUPTED
    if failed or partly:
        say(f"{len(failed)} of {len(keys)} inputs could not be processed and {len(partly)} only in part (listed "
            "above); the others are done")
        return 1
    return 0
