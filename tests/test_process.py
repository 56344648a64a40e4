"""`agegender process` end to end on real footage (bad input: tests/test_bad_input.py)."""
import csv
import json
import shutil

import cv2
import pytest

from agegender.commands.cli import main


def run(*args) -> int:
    return main(["process", *map(str, args)])


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_whole_crowd_video_gives_105_lines_and_a_playable_video(crowd_video, random_models, tmp_path, capsys):
    results, out = tmp_path / "r.jsonl", tmp_path / "a.mp4"
    assert run(crowd_video, "--results", results, "--out", out, "--models", random_models) == 0
    lines = read_jsonl(results)
    assert [line["frame"] for line in lines] == list(range(105))
    assert sum(len(line["faces"]) for line in lines) > 105 * 3
    assert lines[25]["time"] == pytest.approx(1.0)
    face = next(line for line in lines if line["faces"])["faces"][0]
    assert set(face) == {"box", "score", "landmarks", "designs"}
    assert len(face["landmarks"]) == 5 and set(face["designs"]) == {"multitask"}
    video = cv2.VideoCapture(str(out))
    assert video.get(cv2.CAP_PROP_FPS) == pytest.approx(25)
    assert (video.get(cv2.CAP_PROP_FRAME_WIDTH), video.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (1920, 1080)
    frames = 0
    while video.read()[0]:
        frames += 1
    assert frames == 105
    summary = capsys.readouterr().out
    from agegender.vision.runtime import choose_providers
    runtime = choose_providers()[0]  # what backend "auto" runs here: OpenVINO CPU, or an ONNX Runtime provider
    assert "105 frames" in summary and f"execution provider: {runtime}" in summary and "detect" in summary


def test_both_designs_to_csv(short_clip, random_models, tmp_path, caplog):
    results = tmp_path / "r.csv"
    assert run(short_clip, "--design", "compare", "--results", results, "--models", random_models) == 0
    assert "is now called" not in caplog.text
    rows = list(csv.DictReader(results.open()))
    assert len(rows) >= 12
    assert {row["track"] for row in rows} == {""}  # no tracking asked for
    assert {"multitask_age", "single_age", "single_gender", "multitask_p_age_25-37", "landmark4_y",
            "single_gender_confident"} <= set(rows[0])
    assert {row["multitask_gender_confident"] for row in rows} <= {"True", "False"}
    assert {row["frame"] for row in rows} == {str(i) for i in range(12)}


def test_folder_of_images_with_an_unreadable_one(group_photo, random_models, tmp_path, capsys):
    folder = tmp_path / "photos ünïcode"
    folder.mkdir()
    shutil.copy(group_photo, folder / "a group.jpg")
    gray = cv2.cvtColor(cv2.imread(str(group_photo)), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(folder / "b gray.png"), gray)
    (folder / "c broken.jpg").write_bytes(b"\xff\xd8 this is not really a jpeg")
    out = tmp_path / "annotated"
    out.mkdir()
    results = tmp_path / "r.jsonl"
    assert run(folder, "--results", results, "--out", out, "--models", random_models) == 1
    lines = read_jsonl(results)
    assert [line["source"] for line in lines] == ["a group.jpg", "b gray.png"]
    assert all(len(line["faces"]) == 6 for line in lines)
    assert (out / "a group.jpg").exists()
    assert "c broken.jpg" in capsys.readouterr().err


def test_sigterm_mid_video_leaves_valid_files(crowd_video, random_models, tmp_path):
    import signal

    from tests.conftest import start_agegender
    results, out = tmp_path / "r.jsonl", tmp_path / "a.mp4"
    child = start_agegender(["process", crowd_video, "--results", results, "--out", out, "--models", random_models],
                            results, lines=3)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err.decode()[-500:]
    lines = read_jsonl(results)
    assert 3 <= len(lines) < 105
    video = cv2.VideoCapture(str(out))
    frames = 0
    while video.read()[0]:
        frames += 1
    assert frames >= 3  # the MP4 index was written: the video plays


def test_csv_keeps_the_track_ids_of_a_tracked_run(short_clip, random_models, tmp_path):
    jsonl, table = tmp_path / "r.jsonl", tmp_path / "r.csv"
    for results in (jsonl, table):
        assert run(short_clip, "--track", "--results", results, "--models", random_models) == 0
    from_jsonl = [face["track"] for line in read_jsonl(jsonl) for face in line["faces"]]
    assert from_jsonl and all(isinstance(track, int) for track in from_jsonl)
    assert [int(row["track"]) for row in csv.DictReader(table.open())] == from_jsonl


def test_the_former_name_both_still_runs_compare_and_says_so(short_clip, random_models, tmp_path, caplog, recwarn):
    results = tmp_path / "r.jsonl"
    assert run(short_clip, "--design", "both", "--results", results, "--models", random_models) == 0
    assert caplog.text.count("design 'both' is now called 'compare'") == 1
    assert not [w for w in recwarn if "now called" in str(w.message)]  # said once, as a line for the person
    first = json.loads(results.read_text().splitlines()[0])
    assert all(set(face["designs"]) == {"multitask", "single"} for face in first["faces"])
