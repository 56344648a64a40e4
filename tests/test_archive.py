"""`agegender process INPUT... --out-dir DIR`: an archive of videos and images, resumable, on worker
processes or Ray, with the folder's tables and report. Real crowd video, real photos, shipped models."""
from __future__ import annotations

import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from agegender.commands.cli import main
from tests.conftest import GROUP_PHOTO, MEDIA, ROOT, need, one_line_error, write_crowd_clip

SORT = [("input", "ascending"), ("frame", "ascending"), ("track", "ascending"), ("x1", "ascending"),
        ("design", "ascending")]


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """An archive: two clips in a folder, photos in a subfolder, a damaged video."""
    root = tmp_path_factory.mktemp("archive") / "shop"
    (root / "photos").mkdir(parents=True)
    write_crowd_clip(root / "entrance.avi", 40)
    write_crowd_clip(root / "till.avi", 30, start=60)
    for photo in sorted(need(MEDIA).glob("portrait-*.jpg"))[:2]:
        shutil.copy(photo, root / "photos" / photo.name)
    (root / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"damaged" * 500)
    return root


@pytest.fixture(scope="module")
def local_run(archive, tmp_path_factory) -> Path:
    """The archive processed once by the local engine, uninterrupted: the reference of the other runs."""
    out = tmp_path_factory.mktemp("local") / "out"
    assert main(["process", str(archive), "--out-dir", str(out)]) == 1  # the damaged video
    return out


def _agegender(*args, env=None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "agegender", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                            **kwargs)


def _faces(out: Path):
    return pq.read_table(out / "summary.parquet").sort_by(SORT)


def _of(table, key: str) -> list[dict]:
    return [row for row in table.to_pylist() if row["input"] == key]


def test_every_input_has_its_files_and_the_summary_adds_them_up(archive, local_run, capsys):
    jsonl = sorted(p.relative_to(local_run).as_posix() for p in local_run.rglob("*.jsonl"))
    assert jsonl == ["shop/entrance.avi.jsonl", "shop/photos/portrait-angelina_jolie.jpg.jsonl",
                     "shop/photos/portrait-kate_siegel.jpg.jsonl", "shop/till.avi.jsonl"]
    summary = _faces(local_run)
    inputs = {row["input"]: row for row in pq.read_table(local_run / "inputs.parquet").to_pylist()}
    assert inputs["shop/broken.mp4"]["status"] == "failed" and "damaged" in inputs["shop/broken.mp4"]["problem"]
    for name in jsonl:
        key = name.removesuffix(".jsonl")
        records = [json.loads(line) for line in (local_run / name).read_text().splitlines()]
        faces = [face for record in records for face in record["faces"]]
        mine = _of(summary, key)
        assert inputs[key]["status"] == "done" and inputs[key]["frames"] == len(records)
        assert inputs[key]["faces"] == len(faces) == len(mine) > 0
        by_frame = {}
        for record in records:
            for face in record["faces"]:
                by_frame.setdefault(record["frame"], []).append(
                    (face["track"] if "track" in face else None, face["box"], face["designs"]["multitask"]["age"]))
        from_table = {}
        for row in mine:
            from_table.setdefault(row["frame"], []).append((row["track"], [row["x1"], row["y1"], row["x2"], row["y2"]],
                                                            row["age"]))
        assert {f: sorted(v, key=str) for f, v in from_table.items()} == {f: sorted(v, key=str)
                                                                          for f, v in by_frame.items()}
    # videos are tracked in an archive run, so that people are tracks; images are not
    assert all(row["track"] is not None for row in summary.to_pylist() if row["input"].endswith(".avi"))
    assert all(row["track"] is None for row in summary.to_pylist() if row["input"].endswith(".jpg"))
    people = pq.read_table(local_run / "people.parquet").to_pylist()
    assert all(p["dwell_seconds"] >= 1.0 for p in people if p["track"] is not None)
    for key, row in inputs.items():
        if row["status"] == "done":
            assert row["people"] == sum(p["input"] == key for p in people)
    assert summary.num_rows == len((local_run / "summary.csv").read_text().splitlines()) - 1


def test_the_report_renders_the_tables_numbers(local_run):
    page = (local_run / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page.split("<svg")[0]
    inputs = pq.read_table(local_run / "inputs.parquet").to_pylist()
    people = pq.read_table(local_run / "people.parquet")
    for row in inputs:
        shown = re.search(rf"<tr class='(\w+)' data-input='{re.escape(row['input'])}' data-people='(\d*)'", page)
        assert shown and shown.group(1) == row["status"] and shown.group(2) == str(row["people"] or "")
    totals = dict(re.findall(r"<td data-total='(\w+)'>([\d.]+)</td>", page))
    assert int(totals["people"]) == people.num_rows == sum(r["people"] or 0 for r in inputs)
    assert int(totals["failed"]) == 1 and int(totals["done"]) == 4
    assert page.count("<svg") >= 2 * 3  # the whole run and each input with people
    # rebuilt from the tables alone
    (local_run / "report.html").unlink()
    assert main(["report", str(local_run)]) == 0
    rebuilt = (local_run / "report.html").read_text(encoding="utf-8")
    assert re.sub(r"Made [\d: -]+", "", rebuilt) == re.sub(r"Made [\d: -]+", "", page)


def test_the_reports_time_chart_never_adds_up_separate_inputs(local_run):
    """Each clip is a recording of its own, timed from its own start: the whole run's chart shows the
    busiest clip at each time, in stretches of whole seconds on these short clips."""
    page = (local_run / "report.html").read_text(encoding="utf-8")
    people = [p for p in pq.read_table(local_run / "people.parquet").to_pylist() if p["track"] is not None]
    clips = sorted({p["input"] for p in people})
    at_once = [max(sum(q["first_time"] <= p["first_time"] <= q["last_time"] for q in people if q["input"] == clip)
                   for p in people if p["input"] == clip) for clip in clips]
    assert len(clips) == 2 and sum(at_once) > max(at_once)
    headlines = re.findall(r"most at once( in one input)?: (\d+)", page)
    assert headlines == [(" in one input", str(max(at_once))), *(("", str(n)) for n in at_once)]
    stretches = re.findall(r"<title>(\d+)-(\d+) s: \d+ present", page)
    assert stretches and all(int(end) == int(start) + 1 for start, end in stretches)  # not '0-0 s'
    assert re.search(r"th \{[^}]*white-space: nowrap", page)  # 'video s' on one line


def test_the_tables_hold_times_to_the_millisecond(local_run):
    people = pq.read_table(local_run / "people.parquet").to_pylist()
    assert all(p["dwell_seconds"] == round(p["dwell_seconds"], 3) for p in people if p["track"] is not None)
    for table in ("people.csv", "inputs.csv"):
        assert not re.search(r"\.\d{4,}", (local_run / table).read_text())  # such as 1.4000000000000001


def test_the_closing_lines_count_the_inputs_alike(archive, tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO, logger="agegender")
    assert main(["process", str(archive / "till.avi"), str(archive / "broken.mp4"), "--out-dir", str(tmp_path)]) == 1
    said = capsys.readouterr()
    counts = re.findall(r"(\d+ of \d+) inputs (\w+)", said.out + said.err + caplog.text)
    assert sorted(counts) == [("1 of 2", "could"), ("1 of 2", "done")]


def test_a_second_run_skips_what_is_done_and_redoes_what_changed(archive, local_run, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(local_run, out)
    results = out / "shop" / "entrance.avi.jsonl"
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.jsonl")}
    assert main(["process", str(archive), "--out-dir", str(out)]) == 1  # the damaged video, tried again
    assert "4 of 5 inputs are already done" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.jsonl")} == before
    changed = tmp_path / "shop"
    shutil.copytree(archive, changed)
    write_crowd_clip(changed / "entrance.avi", 20, start=80)  # the same name, other content
    assert main(["process", str(changed), "--out-dir", str(out)]) == 1
    assert len(results.read_text().splitlines()) == 20
    assert results.stat().st_mtime_ns != before[results]
    assert _of(_faces(out), "shop/entrance.avi")[-1]["frame"] == 19


def test_the_manifest_refuses_other_settings_unless_forced(local_run, archive, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(local_run, out)
    photos = archive / "photos"
    assert main(["process", str(photos), "--out-dir", str(out), "--min-face", "40"]) == 2
    message = one_line_error(capsys)
    assert "other settings" in message and "min_face" in message and "--force" in message
    assert main(["process", str(photos), "--out-dir", str(out), "--min-face", "40", "--force"]) == 0
    with sqlite3.connect(out / "manifest.sqlite") as db:
        assert [row[0] for row in db.execute("SELECT key FROM inputs ORDER BY key")] == [
            "photos/portrait-angelina_jolie.jpg", "photos/portrait-kate_siegel.jpg"]


def test_kill_at_a_random_moment_then_the_same_command_equals_an_uninterrupted_run(archive, local_run, tmp_path):
    out = tmp_path / "out"
    command = ["process", archive, "--out-dir", out, "--annotate"]
    child = _agegender(*command)
    moment = random.Random().uniform(2.0, 9.0)  # model loading, then somewhere in the inputs
    time.sleep(moment)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    rerun = _agegender(*command)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 1, err.decode()[-800:]  # the damaged video only
    assert _faces(out).equals(_faces(local_run)), f"killed after {moment:.1f} s"
    assert not list(out.rglob(".*.part*")), "no temporary file of the killed run is left"
    assert sorted(p.name for p in out.rglob("*.annotated.*")) == [
        "entrance.avi.annotated.mp4", "portrait-angelina_jolie.annotated.jpg", "portrait-kate_siegel.annotated.jpg",
        "till.avi.annotated.mp4"]


def test_ctrl_c_stops_the_workers_and_keeps_what_finished(archive, local_run, tmp_path):
    out = tmp_path / "out"
    child = _agegender("process", archive, "--out-dir", out, "--workers", "2")
    deadline = time.monotonic() + 120
    while not (out / "shop" / "photos" / "portrait-angelina_jolie.jpg.jsonl").exists() and time.monotonic() < deadline:
        assert child.poll() is None, child.stderr.read().decode()[-800:]
        time.sleep(0.1)
    child.send_signal(signal.SIGINT)
    stopped = time.monotonic()
    _, err = child.communicate(timeout=30)
    assert time.monotonic() - stopped < 10 and child.returncode == 130, err.decode()[-800:]
    assert "run the same command to go on" in err.decode()
    done = {row["input"] for row in pq.read_table(out / "inputs.parquet").to_pylist() if row["status"] == "done"}
    assert "shop/photos/portrait-angelina_jolie.jpg" in done
    assert main(["process", str(archive), "--out-dir", str(out), "--workers", "2"]) == 1
    assert _faces(out).equals(_faces(local_run))


def test_a_full_disk_stops_the_run_with_the_manifest_intact(archive, tmp_path):
    """The file-size limit stands in for a full disk: the annotated video cannot be written."""
    import resource
    out = tmp_path / "out"

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

    inputs = [archive / "photos" / "portrait-kate_siegel.jpg", archive / "till.avi"]  # annotated: 0.26, 0.58 MB
    child = _agegender("process", *inputs, "--out-dir", out, "--annotate", preexec_fn=small_files)
    _, err = child.communicate(timeout=300)
    lines = [line for line in err.decode().replace("\r", "\n").splitlines() if line.startswith("agegender: error")]
    assert child.returncode == 2 and "Traceback" not in err.decode() and len(lines) == 1, err.decode()[-800:]
    assert "till.avi" in lines[0]
    with sqlite3.connect(out / "manifest.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert list(db.execute("SELECT key, status FROM inputs")) == [("portrait-kate_siegel.jpg", "done")]
    assert not list(out.rglob(".*.part*"))
    assert main(["process", *map(str, inputs), "--out-dir", str(out), "--annotate"]) == 0
    assert (out / "till.avi.annotated.mp4").stat().st_size > 400_000


@pytest.fixture(scope="module")
def ray_cluster():
    """A Ray cluster of this machine, on loopback, with a token of its own (Ray asks for one by default):
    its address, and the environment that reaches it."""
    pytest.importorskip("ray", reason="the Ray engine needs the cluster extra")
    import secrets
    ray_cli = Path(sys.executable).with_name("ray")
    port = 46379
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    started = subprocess.run([ray_cli, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                              "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats"],
                             capture_output=True, timeout=120, env={**os.environ, **auth})
    try:
        assert started.returncode == 0, started.stderr.decode()[-800:]
        yield f"127.0.0.1:{port}", auth
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, timeout=120)


def test_the_ray_engine_gives_the_local_engines_rows(archive, local_run, ray_cluster, tmp_path):
    address, auth = ray_cluster
    out = tmp_path / "out"
    child = _agegender("process", archive, "--out-dir", out, "--engine", "ray", "--ray-address", address,
                       "--workers", "3", env=auth)  # 2/3 CPU each
    _, err = child.communicate(timeout=300)
    assert child.returncode == 1, err.decode()[-800:]
    assert _faces(out).equals(_faces(local_run))


def test_sigterm_stops_a_ray_run_as_ctrl_c_does(archive, ray_cluster, tmp_path):
    address, auth = ray_cluster
    child = _agegender("process", archive / "entrance.avi", "--out-dir", tmp_path / "out", "--engine", "ray",
                       "--ray-address", address, env=auth)
    said = []
    try:
        while b"agegender: Ray:" not in (line := child.stderr.readline()):  # connected: the actors start
            said.append(line)
            assert line, b"".join(said).decode()[-800:]
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 130, err.decode()[-800:]
    assert "agegender: interrupted" in err.decode() and "SIGTERM received" not in err.decode()  # Ray's stack dump


def test_a_ray_address_where_nothing_listens_is_one_line(tmp_path):
    """Ray alone retries such an address for many minutes, printing its own log lines, deaf to signals."""
    pytest.importorskip("ray", reason="the Ray engine needs the cluster extra")
    out = tmp_path / "out"
    child = _agegender("process", need(GROUP_PHOTO), "--out-dir", out, "--engine", "ray", "--ray-address",
                       "127.0.0.1:1")
    try:
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    lines = err.decode().splitlines()
    assert child.returncode == 2 and len(lines) == 1, err.decode()[-800:]
    assert "127.0.0.1:1" in lines[0] and "ray start --head" in lines[0]
    assert not out.exists()


def test_sigterm_ends_a_run_still_connecting_to_ray(tmp_path):
    """A server at the address that takes the connection and never answers, as Ray's head would: ray.init
    waits on it, in calls that do not return to Python."""
    pytest.importorskip("ray", reason="the Ray engine needs the cluster extra")
    server = socket.create_server(("", 0))  # all addresses: Ray connects to this machine's own for 127.0.0.1
    server.settimeout(60)
    out = tmp_path / "out"
    child = _agegender("process", need(GROUP_PHOTO), "--out-dir", out, "--engine", "ray", "--ray-address",
                       f"127.0.0.1:{server.getsockname()[1]}")
    held = []
    try:
        while True:  # until Ray's own connection opens with HTTP/2's preface: ray.init is waiting on us
            held.append(server.accept()[0])
            held[-1].settimeout(60)
            if held[-1].recv(3) == b"PRI":
                break
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=30)
    finally:
        child.kill()
        for connection in [*held, server]:
            connection.close()
    assert child.returncode == 130 and "agegender: interrupted" in err.decode(), err.decode()[-800:]
    assert not out.exists()


def test_without_ray_the_ray_engine_gives_the_install_line(archive, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    assert main(["process", str(archive / "photos"), "--out-dir", str(tmp_path / "out"), "--engine", "ray"]) == 2
    assert 'pip install -e ".[cluster]"' in one_line_error(capsys)


@pytest.mark.parametrize("args, expected", [
    (["a.mp4", "b.mp4"], "--out-dir"),
    (["a.mp4", "--workers", "2"], "go with --out-dir"),
    (["a.mp4", "--out-dir", "o", "--results", "r.jsonl"], "--out and --results are for one input"),
    (["nowhere/*.mp4", "--out-dir", "o"], "matches no videos or images"),
    (["a.mp4", "--out-dir", "o", "--engine", "ray", "--ray-address", ""], "--ray-address '' is not HOST:PORT"),
])
def test_archive_options_are_checked_first(args, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "b.mp4").write_bytes(b"x")
    assert main(["process", *args]) == 2
    assert expected in one_line_error(capsys)


def test_inputs_inside_the_output_folder_are_refused(archive, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(archive / "photos", out / "photos")
    assert main(["process", str(out / "photos"), "--out-dir", str(out)]) == 2
    assert "inside the output folder" in one_line_error(capsys)


def test_a_glob_over_the_folder_that_holds_the_output_folder_leaves_the_outputs_out(archive, tmp_path, capsys):
    photos = tmp_path / "photos"
    shutil.copytree(archive / "photos", photos)
    command = ["process", str(photos / "**"), "--out-dir", str(photos / "out"), "--annotate"]
    assert main(command) == 0
    assert len(list((photos / "out").glob("*.annotated.jpg"))) == 2
    capsys.readouterr()
    assert main(command) == 0  # the annotated copies are not taken as inputs
    assert "2 of 2 inputs are already done" in capsys.readouterr().err


def test_a_done_input_whose_files_were_removed_is_redone(archive, local_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(local_run, out)
    (out / "shop" / "till.avi.faces.parquet").unlink()
    assert main(["process", str(archive), "--out-dir", str(out)]) == 1  # the damaged video
    assert _faces(out).equals(_faces(local_run))


def test_ray_addresses_take_host_port_or_rays_own_auto():
    from agegender.archive.engines import ray_host_port
    from agegender.errors import AgeGenderError
    assert ray_host_port("10.0.0.5:6379") == ("10.0.0.5", 6379)
    assert ray_host_port("ray://[::1]:10001") == ("::1", 10001)
    assert ray_host_port("auto") is None  # the cluster `ray start` left running here: Ray finds it
    for wrong in ("", "head", "head:0", "head:port"):
        with pytest.raises(AgeGenderError, match="is not HOST:PORT"):
            ray_host_port(wrong)
