"""An archive's state that a user or a crash can damage: the --out-dir itself, its manifest, its faces
tables, links and loops among the inputs, inputs that go away, a stop that leaves files half-made. Each
test fails without the fix it guards; each row a user can meet is in docs/command-line.md, "Bad input"."""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from agegender.archive.task import ArchiveWorker
from agegender.commands.cli import main
from tests.conftest import ROOT, one_line_error, write_crowd_clip

PRECIOUS = b"PRECIOUS\n"


def run(*args) -> int:
    return main(["process", *map(str, args)])


def inputs_table(out: Path) -> dict:
    return {row["input"]: row for row in pq.read_table(out / "inputs.parquet").to_pylist()}


def faces_of(out: Path, key: str) -> list:
    return [row for row in pq.read_table(out / "summary.parquet").to_pylist() if row["input"] == key]


def leftovers(out: Path) -> list:
    """Locks and temporary files: a run that ended, however it ended, leaves none."""
    return sorted(p.name for p in out.rglob(".*") if p.name.endswith(".lock") or ".part" in p.name)


@pytest.fixture
def archived(photos, random_models, tmp_path) -> Path:
    """An --out-dir into which in/a.jpg and in/b.jpg were processed."""
    out = tmp_path / "out"
    assert run(photos, "--out-dir", out, "--models", random_models) == 0
    return out


# --- the folder and its manifest ---

def test_an_out_dir_that_is_a_file_or_a_device_is_one_line(photos, random_models, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(PRECIOUS)
    for out in (victim, Path(os.devnull)):
        assert run(photos, "--out-dir", out, "--models", random_models) == 2
        assert f"--out-dir {out} is not a folder" in one_line_error(capsys)
    assert victim.read_bytes() == PRECIOUS


def test_an_out_dir_whose_name_is_not_utf8_is_one_line(photos, random_models, tmp_path, capsys):
    out = tmp_path / os.fsdecode(b"out\xfe")
    assert run(photos, "--out-dir", out, "--models", random_models) == 2
    assert "--out-dir: the name out\\udcfe" in one_line_error(capsys) and not os.path.lexists(out)


@pytest.mark.parametrize("kind", ["symbolic", "hard"])
def test_a_manifest_that_is_a_link_is_refused_and_its_target_kept(kind, photos, archived, random_models, tmp_path,
                                                                   capsys):
    other = archived / "manifest.sqlite"  # another archive's manifest, which a run into `out` would alter
    before = other.read_bytes()
    out = tmp_path / "second"
    out.mkdir()
    (out / "manifest.sqlite").symlink_to(other) if kind == "symbolic" else os.link(other, out / "manifest.sqlite")
    assert run(photos, "--out-dir", out, "--models", random_models) == 2
    assert "manifest.sqlite is a link, or not a regular file" in one_line_error(capsys)
    assert other.read_bytes() == before and [p.name for p in out.iterdir()] == ["manifest.sqlite"]


@contextmanager
def read_only(path: Path):
    """`path` read-only, also for root, whom mode bits do not bind: made immutable where that is allowed."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    try:
        made = subprocess.run(["chattr", "+i", path], capture_output=True).returncode == 0
    except OSError:
        made = False
    if not made:
        pytest.skip("root ignores mode bits, and chattr +i is not allowed here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", path], check=True)


def test_a_read_only_manifest_is_one_line_and_the_run_goes_on_once_writable(photos, archived, random_models,
                                                                            capsys):
    shutil.copy(photos / "a.jpg", photos / "c.jpg")  # something left to do
    manifest = archived / "manifest.sqlite"
    before = manifest.read_bytes()
    with read_only(manifest):
        assert run(photos, "--out-dir", archived, "--models", random_models) == 2
        assert f"{manifest} is read-only; make it writable" in one_line_error(capsys)
    assert manifest.read_bytes() == before and leftovers(archived) == []
    assert run(photos, "--out-dir", archived, "--models", random_models) == 0
    assert "2 of 3 inputs are already done" in capsys.readouterr().err


@pytest.mark.parametrize("schema, holds", [
    ("CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('Ada')", "a table 'people'"),
    ("CREATE TABLE inputs (key TEXT, seen INTEGER)", "a table 'inputs' of other columns"),
])
def test_a_database_of_another_program_as_manifest_is_refused_untouched(schema, holds, photos, random_models,
                                                                        tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    with sqlite3.connect(out / "manifest.sqlite") as db:
        db.executescript(schema)
    before = (out / "manifest.sqlite").read_bytes()
    for force in ([], ["--force"]):
        assert run(photos, "--out-dir", out, "--models", random_models, *force) == 2
        message = one_line_error(capsys)
        assert "manifest.sqlite is not a manifest of agegender" in message and holds in message
    assert (out / "manifest.sqlite").read_bytes() == before
    assert [p.name for p in out.iterdir()] == ["manifest.sqlite"]


def test_settings_that_differ_are_named_one_by_one(photos, archived, random_models, capsys):
    assert run(photos, "--out-dir", archived, "--models", random_models, "--min-face", "40") == 2
    message = one_line_error(capsys)
    assert "other settings or models (min_face: 20 here, 40 now); use another --out-dir, or --force" in message


def test_a_manifest_whose_settings_are_damaged_is_refused_then_forced(photos, archived, random_models, capsys):
    with sqlite3.connect(archived / "manifest.sqlite") as db:
        db.execute("UPDATE run SET value = '{damaged' WHERE name = 'settings'")
    assert run(photos, "--out-dir", archived, "--models", random_models) == 2
    message = one_line_error(capsys)
    assert "no longer says which settings and models" in message and "--force redoes every input" in message
    assert run(photos, "--out-dir", archived, "--models", random_models, "--force") == 0
    assert {key: row["status"] for key, row in inputs_table(archived).items()} == {"in/a.jpg": "done",
                                                                                   "in/b.jpg": "done"}


def test_a_manifest_line_without_counts_is_redone(photos, archived, random_models, capsys, caplog):
    faces = faces_of(archived, "in/a.jpg")
    with sqlite3.connect(archived / "manifest.sqlite") as db:
        db.execute("UPDATE inputs SET frames = NULL, faces = 'many' WHERE key = 'in/a.jpg'")
    assert run(photos, "--out-dir", archived, "--models", random_models) == 0
    assert "1 lines had lost their counts" in caplog.text and "(in/a.jpg)" in caplog.text
    assert "1 of 2 inputs are already done" in capsys.readouterr().err
    assert inputs_table(archived)["in/a.jpg"]["frames"] == 1 and faces_of(archived, "in/a.jpg") == faces


def test_a_damaged_faces_table_is_redone_like_a_removed_one(photos, archived, random_models):
    part = archived / "in" / "a.jpg.faces.parquet"
    faces = faces_of(archived, "in/a.jpg")
    part.write_bytes(part.read_bytes()[:100])  # cut short, as by a copy that stopped
    assert run(photos / "b.jpg", "--out-dir", archived, "--models", random_models) == 0  # a run without it
    assert inputs_table(archived)["in/a.jpg"]["status"] == "failed"
    assert "a.jpg.faces.parquet was removed or damaged" in inputs_table(archived)["in/a.jpg"]["problem"]
    assert run(photos, "--out-dir", archived, "--models", random_models) == 0  # a run with it redoes it
    assert inputs_table(archived)["in/a.jpg"]["status"] == "done" and faces_of(archived, "in/a.jpg") == faces


# --- what a run leaves behind ---

def test_a_refused_run_leaves_no_folder_or_manifest_it_made(photos, copy_models, tmp_path, capsys):
    models = copy_models()
    for network in models.glob("*.onnx"):
        network.write_bytes(network.read_bytes()[:1000])
    mine = tmp_path / "mine"
    mine.mkdir()
    for out in (tmp_path / "new" / "out", mine):
        assert run(photos, "--out-dir", out, "--models", models) == 2
        assert "is not a usable ONNX model" in one_line_error(capsys)
    assert not (tmp_path / "new").exists() and list(mine.iterdir()) == []


def test_sigterm_to_the_process_group_leaves_no_lock_or_part(random_models, tmp_path):
    """As a service manager or `timeout` stops a run: every process of the group gets SIGTERM."""
    clips, out = tmp_path / "clips", tmp_path / "out"
    clips.mkdir()
    write_crowd_clip(clips / "a.avi", 60)
    write_crowd_clip(clips / "b.avi", 60, start=60)
    command = [clips, "--out-dir", out, "--workers", "2", "--annotate", "--models", random_models]
    child = subprocess.Popen([sys.executable, "-m", "agegender", "process", *map(str, command)], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 120
    while not list(out.rglob(".*.part*")) and time.monotonic() < deadline:
        assert child.poll() is None, child.stderr.read().decode()[-800:]
        time.sleep(0.1)
    os.killpg(child.pid, signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err.decode()[-800:]
    assert leftovers(out) == []
    assert run(*command) == 0 and leftovers(out) == []


# --- inputs: loops, FIFOs, inputs that go away ---

@pytest.mark.parametrize("make", ["loop", "fifo"])
def test_a_loop_of_links_or_a_fifo_in_an_input_folder_is_left_out(make, photos, random_models, tmp_path):
    """In a child process: without the fix a FIFO blocks the run for ever."""
    if make == "loop":
        (photos / "x.mp4").symlink_to("y.mp4")
        (photos / "y.mp4").symlink_to("x.mp4")
    else:
        os.mkfifo(photos / "x.mp4")
    out = tmp_path / "out"
    child = subprocess.run([sys.executable, "-m", "agegender", "process", str(photos), "--out-dir", str(out),
                            "--models", str(random_models)], capture_output=True, timeout=120,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    err = child.stderr.decode()
    assert child.returncode == 0, err[-800:]
    reason = "a loop of symbolic links" if make == "loop" else "not a regular file"
    assert f"left out: {photos / 'x.mp4'}: {reason}" in err
    assert sorted(inputs_table(out)) == ["in/a.jpg", "in/b.jpg"]


def test_inputs_that_go_away_are_missing_not_failed_and_the_closing_line_says_so(photos, random_models, tmp_path,
                                                                                  monkeypatch, capsys):
    shutil.copy(photos / "a.jpg", photos / "c.jpg")
    process = ArchiveWorker.process

    def deleting_c(self, item, *args, **kwargs):  # c.jpg is deleted while a.jpg is processed
        if item.key == "in/a.jpg":
            (photos / "c.jpg").unlink()
        return process(self, item, *args, **kwargs)
    monkeypatch.setattr(ArchiveWorker, "process", deleting_c)
    out = tmp_path / "out"
    assert run(photos, "--out-dir", out, "--models", random_models) == 1
    assert inputs_table(out)["in/c.jpg"]["status"] == "missing"
    monkeypatch.undo()
    capsys.readouterr()
    assert run(photos, "--out-dir", out, "--models", random_models) == 0  # the same command again
    out_text = capsys.readouterr().out
    assert "2 of 2 inputs done" in out_text and "1 inputs of the folder no longer exist (listed as missing)" in out_text
    assert {key: row["status"] for key, row in inputs_table(out).items()} == {
        "in/a.jpg": "done", "in/b.jpg": "done", "in/c.jpg": "missing"}
    assert "in/c.jpg" in (out / "inputs.csv").read_text() and "failed" not in (out / "inputs.csv").read_text()
    (photos / "b.jpg").unlink()  # gone after it was done: its faces leave the tables, its files stay
    assert run(photos, "--out-dir", out, "--models", random_models) == 0
    assert "2 inputs of the folder no longer exist" in capsys.readouterr().out
    assert inputs_table(out)["in/b.jpg"]["status"] == "missing" and faces_of(out, "in/b.jpg") == []
    assert (out / "in" / "b.jpg.faces.parquet").exists()


def test_an_archive_reads_a_file_url_as_its_file_and_refuses_addresses(photos, random_models, tmp_path, capsys):
    url = (photos / "a.jpg").absolute().as_uri()  # file:///…/in/a.jpg
    assert run(url, "--out-dir", tmp_path / "out", "--models", random_models) == 0
    assert (tmp_path / "out" / "a.jpg.jsonl").is_file()
    capsys.readouterr()
    assert run("udp://127.0.0.1:9", "--out-dir", tmp_path / "out2", "--models", random_models) == 2
    assert "an archive takes files, folders and globs, not addresses" in one_line_error(capsys)
