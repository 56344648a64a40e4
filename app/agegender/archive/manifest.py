"""What an archive run has finished, kept in DIR/manifest.sqlite so that the same command goes on after a
crash, a kill or Ctrl-C.

SQLite commits are atomic: a kill leaves the manifest as of its last commit. An input is marked done only
after its outputs were renamed into place, so a done input's files are whole; any other input is redone
from scratch. Each input carries a fingerprint of the file (size, modification time, SHA-256 of its first
MiB): an input that changed since is redone. The settings and the model files are recorded for the whole
folder: a run with others is refused, since one folder's tables would mix two sets of answers."""
from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from agegender.errors import InputError, OutputError
from agegender.outputs.safety import TargetLock

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


class Manifest:
    """The manifest of one output folder, held by one run at a time (a second is refused)."""

    def __init__(self, out_dir: Path) -> None:
        self.path = Path(out_dir) / MANIFEST_NAME
        self._lock = TargetLock(self.path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)  # autocommit; transactions explicit
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._lock.release()
            raise OutputError(f"{self.path} cannot be used as this folder's manifest ({exc}); choose another "
                              "--out-dir, or remove the file to start the folder afresh") from exc

    def close(self) -> None:
        self._db.close()
        self._lock.release()

    def __enter__(self) -> "Manifest":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_run(self, run: dict, force: bool, keys: list[str]) -> None:
        """Record the run's settings and models; refuse other ones than the folder's done inputs were made
        with, unless `force`. With `force` the inputs `keys` are redone; where the settings changed, the
        folder's other inputs are forgotten too (their files stay, outside the tables): one folder's tables
        hold one set of answers."""
        recorded = {name: json.loads(value) for name, value in self._db.execute("SELECT name, value FROM run")}
        holds_results = self._db.execute("SELECT 1 FROM inputs WHERE status = 'done' LIMIT 1").fetchone()
        if holds_results and recorded != run and not force:
            differences = [f"{name}: {recorded.get(name)!r} here, {run.get(name)!r} now"
                           for name in sorted(set(recorded) | set(run)) if recorded.get(name) != run.get(name)]
            raise OutputError(f"{self.path.parent} holds results made with other settings or models "
                              f"({'; '.join(differences)}); use another --out-dir, or --force to redo every "
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

    def finished(self) -> dict[str, Finished]:
        rows = self._db.execute("SELECT key, path, fingerprint, status, frames, faces, rows, seconds, video_seconds, "
                                "problem FROM inputs")
        return {row[0]: Finished(*row) for row in rows}

    def to_do(self, key: str, current_fingerprint: str) -> bool:
        """Whether an input must be processed: not done, or changed since it was (the caller also redoes a
        done input whose files are gone)."""
        row = self._db.execute("SELECT fingerprint, status FROM inputs WHERE key = ?", (key,)).fetchone()
        return row is None or row[1] != "done" or row[0] != current_fingerprint

    def record(self, line: Finished) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (line.key, line.path, line.fingerprint, line.status, line.frames, line.faces, line.rows,
                              line.seconds, line.video_seconds, line.problem,
                              time.strftime("%Y-%m-%dT%H:%M:%S%z")))
