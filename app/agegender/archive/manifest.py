"""What an archive run has finished, kept in DIR/manifest.sqlite so that the same command goes on after a
crash, a kill or Ctrl-C.

SQLite commits are atomic: a kill leaves the manifest as of its last commit. An input is marked done only
after its outputs were renamed into place, so a done input's files are whole; any other input is redone
from scratch. Each input carries a fingerprint of the file (size, modification time, SHA-256 of its first
MiB): an input that changed since is redone. The settings and the model files are recorded for the whole
folder: a run with others is refused, since one folder's tables would mix two sets of answers.

The manifest is checked before it is written: a link, another program's database, or one that cannot be
written is refused with one line, and nothing is written into it; a line whose counts were lost (a
manifest edited by hand) is forgotten, so its input is redone by the next run that names it."""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from agegender.errors import InputError, OutputError
from agegender.outputs.safety import TargetLock, is_lone_file

log = logging.getLogger("agegender")

MANIFEST_NAME = "manifest.sqlite"
HEAD_BYTES = 1 << 20

_SCHEMA = """
CREATE TABLE IF NOT EXISTS run (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inputs (
    key TEXT PRIMARY KEY, path TEXT NOT NULL, fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,          -- 'done' (outputs whole) or 'failed' (listed with its reason)
    frames INTEGER, faces INTEGER, rows INTEGER, seconds REAL, video_seconds REAL,
    problem TEXT,                  -- why it failed, or what went wrong in a done one (a truncated video)
    finished_at TEXT NOT NULL)
"""
# A line Finished can be made of: SQLite keeps any value in any column, so a line edited by hand may not be.
_WHOLE_LINE = " AND ".join([*(f"typeof({name}) = 'text'" for name in ("key", "path", "fingerprint", "status")),
                            "status IN ('done', 'failed')",
                            *(f"typeof({name}) = 'integer'" for name in ("frames", "faces", "rows")),
                            *(f"typeof({name}) IN ('integer', 'real')" for name in ("seconds", "video_seconds")),
                            "typeof(problem) IN ('text', 'null')"])
SHOWN_DIFFERENCES = 6


def fingerprint(path: Path) -> str:
    """Size, modification time and the SHA-256 of the first MiB: a changed input is noticed without
    reading whole videos."""
    try:
        status = path.stat()
        with open(path, "rb") as handle:
            head = hashlib.sha256(handle.read(HEAD_BYTES)).hexdigest()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    return f"{status.st_size}:{status.st_mtime_ns}:{head}"


@dataclass
class Finished:
    """One input's line in the manifest."""
    key: str
    path: str
    fingerprint: str
    status: str
    frames: int = 0
    faces: int = 0
    rows: int = 0
    seconds: float = 0.0
    video_seconds: float = 0.0
    problem: str | None = None


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info('{table}')")]


@functools.cache
def _manifest_tables() -> dict[str, list[str]]:
    db = sqlite3.connect(":memory:")
    db.executescript(_SCHEMA)
    return {name: _columns(db, name) for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _foreign(db: sqlite3.Connection) -> str | None:
    """What a database holds that a manifest does not (None for a manifest, or a new, empty file)."""
    for kind, name in db.execute("SELECT type, name FROM sqlite_master WHERE name NOT GLOB 'sqlite_*'"):
        if kind != "table" or name not in _manifest_tables():
            return f"a {kind} '{name}'"
        if _columns(db, name) != _manifest_tables()[name]:
            return f"a table '{name}' of other columns"
    return None


def _unusable(path: Path, exc: sqlite3.Error) -> OutputError:
    if exc.sqlite_errorcode == sqlite3.SQLITE_FULL:  # removing the manifest would not help
        return OutputError(f"cannot write {path}: the disk is full; free space on it, or choose another --out-dir")
    if (exc.sqlite_errorname or "").startswith("SQLITE_READONLY"):
        return OutputError(f"{path} is read-only; make it writable to go on where the folder's runs stopped, or "
                           "choose another --out-dir")
    return OutputError(f"{path} cannot be used as this folder's manifest ({exc}); choose another --out-dir, or "
                       "move the file away to start the folder afresh")


def _sqlite_errors_refused(method):
    """An error of SQLite on the manifest (read-only, damaged, locked by another program) as one line."""
    @functools.wraps(method)
    def refusing(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _unusable(self.path, exc) from exc
    return refusing


def _flat(record: dict) -> dict:
    """A run record with one entry per setting and per model file ('min_face', 'models/age.onnx')."""
    flat = {}
    for name, value in record.items():
        if isinstance(value, dict):
            flat.update({key if name == "settings" else f"{name}/{key}": inner for key, inner in value.items()})
        else:
            flat[name] = value
    return flat


def _differences(recorded: dict, run: dict) -> str:
    here, now = _flat(recorded), _flat(run)
    shown = [f"{name}: {here.get(name)!r} here, {now.get(name)!r} now"
             for name in sorted(here.keys() | now.keys()) if here.get(name) != now.get(name)]
    more = len(shown) - SHOWN_DIFFERENCES
    return "; ".join(shown[:SHOWN_DIFFERENCES]) + (f"; and {more} more" if more > 0 else "")


class Manifest:
    """The manifest of one output folder, held by one run at a time (a second is refused)."""

    def __init__(self, out_dir: Path) -> None:
        self.path = Path(out_dir) / MANIFEST_NAME
        self._lock = TargetLock(self.path)
        self._db = None
        self._created = False
        try:
            self._open()
        except BaseException:
            self.close(failed=True)
            raise

    @_sqlite_errors_refused
    def _open(self) -> None:
        try:
            status = os.lstat(self.path)
        except FileNotFoundError:
            status = None
            self._created = True
        if status is not None and not is_lone_file(status):  # SQLite would write through a link
            raise OutputError(f"{self.path} is a link, or not a regular file: writing it would alter another "
                              "file; put a copy of the manifest there, or choose another --out-dir")
        self._db = sqlite3.connect(self.path, isolation_level=None)  # autocommit; transactions explicit
        foreign = _foreign(self._db)
        if foreign is not None:
            raise OutputError(f"{self.path} is not a manifest of agegender (it holds {foreign}); move it out of "
                              f"{self.path.parent} to start the folder afresh, or choose another --out-dir")
        self._db.executescript(_SCHEMA)
        damaged = [key for (key,) in self._db.execute(f"SELECT key FROM inputs WHERE NOT ({_WHOLE_LINE})")]
        if damaged:
            log.warning("%s: %d lines had lost their counts and are forgotten; their inputs are redone by the run "
                        "that names them (%s)", self.path, len(damaged),
                        ", ".join(map(str, damaged[:3])) + (", ..." if len(damaged) > 3 else ""))
            self._db.execute(f"DELETE FROM inputs WHERE NOT ({_WHOLE_LINE})")

    def close(self, failed: bool = False) -> None:
        """`failed`: the run was refused or failed; a manifest it created is removed if it holds no result."""
        try:
            discard = failed and self._created and not self._holds_results()
        except sqlite3.Error:
            discard = False
        if self._db is not None:
            self._db.close()
        if discard:
            self.path.unlink(missing_ok=True)
        self._lock.release()

    def _holds_results(self) -> bool:
        return self._db is not None and bool(
            self._db.execute("SELECT 1 FROM inputs WHERE status = 'done' LIMIT 1").fetchone())

    def __enter__(self) -> "Manifest":
        return self

    def __exit__(self, kind, exc, traceback) -> None:
        self.close(failed=kind is not None)

    @_sqlite_errors_refused
    def check_run(self, run: dict, force: bool, keys: list[str]) -> None:
        """Record the run's settings and models; refuse other ones than the folder's done inputs were made
        with, unless `force`. With `force` the inputs `keys` are redone; where the settings changed, the
        folder's other inputs are forgotten too (their files stay, outside the tables): one folder's tables
        hold one set of answers."""
        recorded = self._recorded(run)
        if self._holds_results() and recorded != run and not force:
            if recorded is None:
                raise OutputError(f"{self.path} no longer says which settings and models the results in "
                                  f"{self.path.parent} were made with (it was damaged); --force redoes every input "
                                  "named there with these, or choose another --out-dir")
            raise OutputError(f"{self.path.parent} holds results made with other settings or models "
                              f"({_differences(recorded, run)}); use another --out-dir, or --force to redo every "
                              "input there with these")
        with self._db:
            self._db.execute("BEGIN")
            if force and recorded != run:
                self._db.execute("DELETE FROM inputs")
            elif force:
                self._db.executemany("DELETE FROM inputs WHERE key = ?", [(key,) for key in keys])
            self._db.execute("DELETE FROM run")
            self._db.executemany("INSERT INTO run VALUES (?, ?)",
                                 [(name, json.dumps(value, sort_keys=True)) for name, value in run.items()])

    def _recorded(self, run: dict) -> dict | None:
        """The record of the run that made the folder's results; None where it cannot be read as one of the
        shape of `run` (edited by hand, or of another program)."""
        try:
            recorded = {name: json.loads(value) for name, value in self._db.execute("SELECT name, value FROM run")}
        except (TypeError, ValueError):  # not text, or not JSON
            return None
        if recorded.keys() != run.keys() or any(type(recorded[name]) is not type(run[name]) for name in run):
            return None
        return recorded

    @_sqlite_errors_refused
    def finished(self) -> dict[str, Finished]:
        rows = self._db.execute("SELECT key, path, fingerprint, status, frames, faces, rows, seconds, video_seconds, "
                                "problem FROM inputs")
        return {row[0]: Finished(*row) for row in rows}

    @_sqlite_errors_refused
    def to_do(self, key: str, current_fingerprint: str) -> bool:
        """Whether an input must be processed: not done, or changed since it was."""
        row = self._db.execute("SELECT fingerprint, status FROM inputs WHERE key = ?", (key,)).fetchone()
        return row is None or row[1] != "done" or row[0] != current_fingerprint

    @_sqlite_errors_refused
    def record(self, line: Finished) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (line.key, line.path, line.fingerprint, line.status, line.frames, line.faces, line.rows,
                              line.seconds, line.video_seconds, line.problem,
                              time.strftime("%Y-%m-%dT%H:%M:%S%z")))
