"""The archive's tables, with pyarrow: what an analyst loads into pandas, polars or DuckDB.

- faces (`<input>.faces.parquet` per input; `summary.parquet` and `summary.csv` for the folder): one row per
  face per frame per design;
- people (`people.parquet`/`.csv`): one row per person: a track on a video, a face on an image;
- inputs (`inputs.parquet`/`.csv`): one row per input, with its status, counts and people seen.

A person on a video is a track that lasted at least PERSON_MIN_SECONDS; its age is the median of its
answers, its bucket the one holding that age, its gender the answer most of its frames gave."""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from agegender.errors import OutputError
from agegender.outputs.safety import AtomicFile
from agegender.outputs.sinks import spreadsheet_safe
from agegender.vision.buckets import BucketScheme

PERSON_MIN_SECONDS = 1.0

FACES = pa.schema([("input", pa.string()), ("frame", pa.int64()), ("time", pa.float64()), ("track", pa.int64()),
                   ("x1", pa.float64()), ("y1", pa.float64()), ("x2", pa.float64()), ("y2", pa.float64()),
                   ("design", pa.string()), ("age", pa.float64()), ("age_bucket", pa.string()),
                   ("gender", pa.string()), ("p_female", pa.float64()), ("gender_confident", pa.bool_())])

PEOPLE = pa.schema([("input", pa.string()), ("design", pa.string()), ("track", pa.int64()),
                    ("first_time", pa.float64()), ("last_time", pa.float64()), ("dwell_seconds", pa.float64()),
                    ("age", pa.float64()), ("age_bucket", pa.string()), ("gender", pa.string())])

INPUTS = pa.schema([("input", pa.string()), ("path", pa.string()), ("status", pa.string()),
                    ("problem", pa.string()), ("frames", pa.int64()), ("faces", pa.int64()),
                    ("video_seconds", pa.float64()), ("wall_seconds", pa.float64()), ("people", pa.int64())])


class FaceRows:
    """The faces of one input, gathered frame by frame from the results schema (FrameResult.to_dict), so
    the table holds the very values of the results file."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.columns: dict[str, list] = {name: [] for name in FACES.names}

    def add(self, record: dict) -> None:
        for face in record["faces"]:
            for design, answer in face["designs"].items():
                values = {"input": self.key, "frame": record["frame"], "time": record["time"],
                          "track": face.get("track"), "design": design,
                          **dict(zip(("x1", "y1", "x2", "y2"), face["box"])),
                          **{name: answer[name] for name in ("age", "age_bucket", "gender", "p_female",
                                                             "gender_confident")}}
                for name, value in values.items():
                    self.columns[name].append(value)

    def __len__(self) -> int:
        return len(self.columns["input"])

    def table(self) -> pa.Table:
        return pa.table(self.columns, schema=FACES)


def write_table(table: pa.Table, target: Path) -> None:
    """Parquet or CSV by the target's suffix, written whole or not at all, in the output folder: a link
    at its name is replaced, not written through. In CSV, text a spreadsheet would run as a formula (a
    file named '=cmd...') is made inert."""
    file = AtomicFile(target, follow_links=False)
    try:
        _write(table, file.path, target.suffix)
    except OSError as exc:
        file.discard()
        raise OutputError(f"writing {target} failed: {exc.strerror or exc} (is the disk full?)") from exc
    except BaseException:  # Ctrl-C: the earlier table stays, and no part of the new one
        file.discard()
        raise
    file.commit()


def _write(table: pa.Table, path: Path, suffix: str) -> None:
    if suffix == ".csv":
        safe = {name: pa.array([spreadsheet_safe(v) for v in column.to_pylist()], pa.string())
                if pa.types.is_string(column.type) else column
                for name, column in zip(table.column_names, table.columns)}
        pacsv.write_csv(pa.table(safe), path)
    else:
        pq.write_table(table, path)


def read_faces(paths: list[Path]) -> pa.Table:
    return pa.concat_tables([pq.read_table(p, schema=FACES) for p in paths]) if paths else FACES.empty_table()


def part_is_whole(path: Path, rows: int) -> bool:
    """Whether an input's faces table reads as the summary reads it, with the rows its manifest line
    counts: one removed, cut short, damaged or replaced is not."""
    try:
        return read_faces([path]).num_rows == rows
    except (OSError, pa.ArrowException):  # ArrowInvalid: not Parquet, or damaged
        return False


def people_of(faces: pa.Table, frame_seconds: dict[str, float], scheme: BucketScheme) -> pa.Table:
    """The people of a faces table. `frame_seconds`: each video input's frame interval, which a track's
    dwell time includes (a track seen on one frame was there for one frame's time)."""
    columns: dict[str, list] = {name: [] for name in PEOPLE.names}
    rows = faces.to_pydict()
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, track in enumerate(rows["track"]):
        # a face on an image (no track) is a person of its own
        groups[(rows["input"][i], rows["design"][i], track if track is not None else -1 - i)].append(i)
    for (key, design, track), members in groups.items():
        times = [rows["time"][i] for i in members]
        tracked = track >= 0
        # to the millisecond, as the times are: 1.36 + 0.04 is 1.4000000000000001 in floating point
        dwell = round(max(times) - min(times) + frame_seconds.get(key, 0.0), 3) if tracked else None
        if tracked and dwell < PERSON_MIN_SECONDS:
            continue
        age = float(np.median([rows["age"][i] for i in members]))
        gender = Counter(rows["gender"][i] for i in members).most_common(1)[0][0]
        for name, value in (("input", key), ("design", design), ("track", track if tracked else None),
                            ("first_time", min(times)), ("last_time", max(times)), ("dwell_seconds", dwell),
                            ("age", round(age, 2)), ("age_bucket", scheme.labels[int(scheme.index(np.array([int(age)]))[0])]),
                            ("gender", gender)):
            columns[name].append(value)
    return pa.table(columns, schema=PEOPLE)


def count_people(people: pa.Table) -> dict[str, int]:
    """People per input, for the first design in the table (every design sees the same tracks)."""
    if people.num_rows == 0:
        return {}
    first = people.column("design")[0]
    mine = people.filter(pc.equal(people.column("design"), first))
    return Counter(mine.column("input").to_pylist())
