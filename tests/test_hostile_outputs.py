"""Links and '..' planted where outputs go: a lock file, a file in an output folder, a folder in --out-dir, a
glob that climbs back out; and outputs that are devices or pipes. Each test fails without the fix it
guards and checks that the file the run could have destroyed keeps every byte; each row a user can meet
is in docs/command-line.md, "Bad input"."""
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import pytest

from agegender.commands.cli import main
from tests.conftest import ROOT, one_line_error

PRECIOUS = b"PRECIOUS\n"


def run(*args) -> int:
    return main(["process", *map(str, args)])


def link(kind: str, at: Path, to: Path) -> None:
    at.symlink_to(to) if kind == "symbolic" else os.link(to, at)


@pytest.fixture
def victim(tmp_path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_bytes(PRECIOUS)
    return path


# --- lock files ---

@pytest.mark.parametrize("kind", ["symbolic", "hard"])
def test_a_lock_file_that_is_a_link_is_refused_and_its_target_kept(kind, photos, victim, random_models, tmp_path,
                                                                    capsys):
    link(kind, tmp_path / ".r.jsonl.lock", victim)
    assert run(photos / "a.jpg", "--results", tmp_path / "r.jsonl", "--models", random_models) == 2
    assert "is not a lock file of agegender" in one_line_error(capsys)
    assert victim.read_bytes() == PRECIOUS and not (tmp_path / "r.jsonl").exists()


def test_a_manifest_lock_that_is_a_link_is_refused_and_its_target_kept(photos, victim, random_models, tmp_path,
                                                                       capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".manifest.sqlite.lock").symlink_to(victim)
    assert run(photos, "--out-dir", out, "--models", random_models) == 2
    assert "is not a lock file of agegender" in one_line_error(capsys)
    assert victim.read_bytes() == PRECIOUS


def test_a_lock_left_by_a_killed_run_is_replaced_not_written_over(photos, random_models, tmp_path):
    stale = tmp_path / ".r.jsonl.lock"
    stale.write_text("12345")
    with open(stale) as held:  # whatever file sits there keeps its bytes
        assert run(photos / "a.jpg", "--results", tmp_path / "r.jsonl", "--models", random_models) == 0
        assert held.read() == "12345"
    assert not stale.exists() and (tmp_path / "r.jsonl").exists()


# --- a folder of annotated copies: --out DIR ---

@pytest.mark.parametrize("kind", ["symbolic", "hard"])
def test_an_output_folder_holding_a_link_to_an_input_is_refused(kind, photos, random_models, tmp_path, capsys):
    out, original = tmp_path / "out", (photos / "a.jpg").read_bytes()
    out.mkdir()
    link(kind, out / "a.jpg", photos / "a.jpg")
    assert run(photos, "--out", out, "--results", tmp_path / "r.jsonl", "--models", random_models) == 2
    assert f"{out / 'a.jpg'} is a link to the input {photos / 'a.jpg'}" in one_line_error(capsys)
    assert (photos / "a.jpg").read_bytes() == original
    assert [p.name for p in out.iterdir()] == ["a.jpg"] and not (tmp_path / "r.jsonl").exists()


def test_a_link_in_an_output_folder_is_replaced_and_its_target_kept(photos, victim, random_models, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.jpg").symlink_to(victim)
    assert run(photos, "--out", out, "--models", random_models) == 0
    assert victim.read_bytes() == PRECIOUS
    assert not (out / "a.jpg").is_symlink() and cv2.imread(str(out / "a.jpg")) is not None
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "b.jpg"]


# --- an archive's folder: --out-dir DIR ---

@pytest.mark.parametrize("output", ["a.annotated.jpg", "a.jpg.jsonl"])
def test_an_out_dir_holding_a_link_to_an_input_is_refused(output, photos, random_models, tmp_path, capsys):
    out, original = tmp_path / "out", (photos / "a.jpg").read_bytes()
    (out / "in").mkdir(parents=True)
    (out / "in" / output).symlink_to(photos / "a.jpg")
    command = [photos, "--out-dir", out, "--annotate", "--models", random_models]
    assert run(*command) == 2
    assert f"{out / 'in' / output} is a link to the input {photos / 'a.jpg'}" in one_line_error(capsys)
    assert (photos / "a.jpg").read_bytes() == original
    assert run(*command) == 2  # and the next run does not take an annotation for the input
    assert (photos / "a.jpg").read_bytes() == original


def test_links_in_an_out_dir_are_replaced_and_their_targets_kept(photos, short_clip, random_models, tmp_path):
    out, victims = tmp_path / "out", tmp_path / "victims"
    (out / "in").mkdir(parents=True)
    victims.mkdir()
    shutil.copy(short_clip, photos / "c.avi")
    for index, name in enumerate(["in/a.annotated.jpg", "in/a.jpg.jsonl", "in/a.jpg.faces.parquet",
                                  "in/c.avi.annotated.mp4", "summary.csv", "report.html"]):
        (victims / str(index)).write_bytes(PRECIOUS)
        (out / name).symlink_to(victims / str(index))
    assert run(photos, "--out-dir", out, "--annotate", "--models", random_models) == 0
    assert all(victim.read_bytes() == PRECIOUS for victim in victims.iterdir())
    assert not any(p.is_symlink() for p in out.rglob("*"))
    assert cv2.imread(str(out / "in" / "a.annotated.jpg")) is not None
    assert cv2.VideoCapture(str(out / "in" / "c.avi.annotated.mp4")).read()[0]


def test_a_folder_link_in_an_out_dir_that_leads_out_of_it_is_refused(photos, random_models, tmp_path, capsys):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (elsewhere / "a.jpg.jsonl").write_bytes(PRECIOUS)
    (out / "in").symlink_to(elsewhere)
    assert run(photos, "--out-dir", out, "--models", random_models) == 2
    assert "outside the output folder" in one_line_error(capsys)
    assert [p.name for p in elsewhere.iterdir()] == ["a.jpg.jsonl"]
    assert (elsewhere / "a.jpg.jsonl").read_bytes() == PRECIOUS


def on_a_full_disk(folder: Path, *command) -> list:
    """`command`, run with a small file system at `folder` that has two pages (8 KiB) left: a tmpfs in a mount
    namespace of its own, which needs no privileges where user namespaces are allowed."""
    if subprocess.run(["unshare", "--map-root-user", "--mount", "true"], capture_output=True).returncode != 0:
        pytest.skip("no mount namespace here (unshare) to make a full disk in")
    fill = 'mount -t tmpfs -o size=64k none "$1" && (cat /dev/zero > "$1/fill"; truncate -s -8K "$1/fill") 2>/dev/null'
    return ["unshare", "--map-root-user", "--mount", "sh", "-c", f'{fill} && shift && exec "$@"', "sh", str(folder),
            *map(str, command)]


def test_a_full_disk_under_a_new_out_dir_is_called_a_full_disk(photos, random_models, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(on_a_full_disk(disk, sys.executable, "-m", "agegender", "process", photos, "--out-dir",
                                         disk / "new", "--models", random_models),
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1] == (f"agegender: error: cannot write {disk / 'new' / 'manifest.sqlite'}: the "
                                            "disk is full; free space on it, or choose another --out-dir"), done.stderr


def files_outside(root: Path, out: Path) -> dict:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and out not in p.parents}


def test_dotdot_in_a_glob_keeps_every_output_inside_the_out_dir(photos, random_models, tmp_path, monkeypatch):
    work = tmp_path / "w"
    shutil.copytree(photos, work / "arch2")
    (work / "w" / "arch2").mkdir(parents=True)  # where 'arch2/../../w/arch2/…' under out/ would lead
    (work / "w" / "arch2" / "a.annotated.jpg").write_bytes(PRECIOUS)
    monkeypatch.chdir(work)
    before = files_outside(tmp_path, work / "out")
    assert run("ar*2/../../w/arch2/*.jpg", "--out-dir", "out", "--annotate", "--models", random_models) == 0
    assert files_outside(tmp_path, work / "out") == before
    assert cv2.imread(str(work / "out" / "arch2" / "a.annotated.jpg")) is not None


def test_a_glob_whose_dotdot_leaves_where_its_wildcards_begin_is_refused(photos, random_models, tmp_path,
                                                                          monkeypatch, capsys):
    work = tmp_path / "w"
    (work / "x1").mkdir(parents=True)
    monkeypatch.chdir(work)
    before = files_outside(tmp_path, work / "out")
    assert run("x*/../../in/*.jpg", "--out-dir", "out", "--models", random_models) == 2
    assert "where the pattern's wildcards begin" in one_line_error(capsys)
    assert files_outside(tmp_path, work / "out") == before and not (work / "in").exists()


# --- devices and pipes ---

def agegender(*args, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agegender", *map(str, args)],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120, **popen)


def test_a_pipe_that_nobody_reads_is_refused_not_waited_on(photos, random_models, tmp_path):
    """Opening a FIFO to write waits for a reader: without one the run waited for ever."""
    fifo = tmp_path / "r.jsonl"
    os.mkfifo(fifo)
    done = agegender("process", photos / "a.jpg", "--results", fifo, "--models", random_models, capture_output=True,
                     text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (f"agegender: error: cannot write {fifo}: it is a pipe that nobody "
                                                    "reads; start its reader first, or choose a file"), done.stderr


def test_a_pipe_with_a_reader_receives_the_results(photos, random_models, tmp_path):
    fifo, received = tmp_path / "r.jsonl", []
    os.mkfifo(fifo)

    def read() -> None:
        with open(fifo, encoding="utf-8") as pipe:
            received.extend(pipe)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert agegender("process", photos, "--results", fifo, "--models", random_models).returncode == 0
    reader.join(timeout=60)
    assert [json.loads(line)["source"] for line in received] == ["a.jpg", "b.jpg"]


def test_results_to_dev_stdout_are_the_only_thing_on_stdout(photos, random_models):
    done = agegender("process", photos, "--results", "/dev/stdout", "--models", random_models, capture_output=True,
                     text=True)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["source"] for line in done.stdout.splitlines()] == ["a.jpg", "b.jpg"]
    assert "2 frames" in done.stderr  # the summary, out of the results' way


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_a_video_to_dev_full_is_one_line_about_the_full_device(short_clip, random_models, capsys):
    assert main(["process", str(short_clip), "--out", "/dev/full", "--models", str(random_models)]) == 2
    line = one_line_error(capsys)
    assert line == "agegender: error: writing /dev/full failed: No space left on device (is the disk full?)", line


def test_a_video_to_dev_stdout_plays(short_clip, random_models, tmp_path):
    video = tmp_path / "piped.mp4"
    with open(video, "wb") as stdout:
        assert agegender("process", short_clip, "--out", "/dev/stdout", "--models", random_models,
                         stdout=stdout).returncode == 0
    capture, frames = cv2.VideoCapture(str(video)), 0
    while capture.read()[0]:
        frames += 1
    assert frames == 12
