"""What `agegender process` does with bad input: one clear line, the program alive where it can be,
and every line written before a failure still valid. One test (or more) per row of docs/command-line.md's
table 'Bad input'."""
import csv
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from agegender.commands.cli import main
from agegender.errors import AgeGenderError
from tests.conftest import ROOT, one_line_error, wait_results


def run(*args) -> int:
    return main(["process", *map(str, args)])


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_bytes(b""), "empty (0 bytes)"),
    (lambda p: p.write_text("just some text, not media"), "not a video"),
])
def test_missing_empty_or_not_media_is_one_line_and_exit_2(make, message, random_models, tmp_path, capsys):
    path = tmp_path / "input.mp4"
    make(path)
    assert run(path, "--models", random_models) == 2
    assert message in one_line_error(capsys)


def test_corrupt_video_header(short_clip, random_models, tmp_path, capsys):
    data = bytearray(short_clip.read_bytes())
    data[:4096] = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    corrupt = tmp_path / "corrupt.avi"
    corrupt.write_bytes(bytes(data))
    assert run(corrupt, "--models", random_models) == 2
    assert "not a video" in one_line_error(capsys)


def test_a_frame_damaged_in_the_middle_is_decoded_as_well_as_it_can_be_and_the_run_goes_on(
        short_clip, random_models, tmp_path, capsys):
    data = bytearray(short_clip.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 20000] = bytes(20000)  # inside one MJPEG frame: FFmpeg conceals it and reads on
    damaged, results = tmp_path / "damaged.avi", tmp_path / "r.jsonl"
    damaged.write_bytes(bytes(data))
    assert run(damaged, "--results", results, "--models", random_models) == 0
    assert [line["frame"] for line in read_jsonl(results)] == list(range(12))
    assert "truncated" not in capsys.readouterr().err


def test_truncated_video_keeps_the_frames_before_the_cut_and_exits_1(short_clip, random_models, tmp_path, capsys):
    truncated = tmp_path / "truncated.avi"
    data = short_clip.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])  # the header still says 12 frames
    results = tmp_path / "r.jsonl"
    assert run(truncated, "--results", results, "--models", random_models) == 1
    frames = [line["frame"] for line in read_jsonl(results)]
    assert 0 < len(frames) < 12 and frames == list(range(len(frames)))
    assert f"ended at frame {len(frames)} of 12: the file is truncated or damaged" in one_line_error(capsys)


def faces_in(image, random_models, tmp_path, suffix=".png", write=None):
    path = tmp_path / f"input{suffix}"
    (write or (lambda p, im: cv2.imwrite(str(p), im)))(path, image)
    results, out = tmp_path / "r.jsonl", tmp_path / "out.png"
    assert run(path, "--results", results, "--out", out, "--models", random_models) == 0
    return read_jsonl(results)[0]["faces"], cv2.imread(str(out))


@pytest.fixture(scope="module")
def group(group_photo):
    return cv2.imread(str(group_photo))


def test_image_with_alpha_channel(group, random_models, tmp_path):
    faces, out = faces_in(cv2.cvtColor(group, cv2.COLOR_BGR2BGRA), random_models, tmp_path)
    assert len(faces) == 6 and out.shape == group.shape


def test_grayscale_image(group, random_models, tmp_path):
    faces, out = faces_in(cv2.cvtColor(group, cv2.COLOR_BGR2GRAY), random_models, tmp_path)
    assert len(faces) >= 5 and out.shape == group.shape


def test_16_bit_image(group, random_models, tmp_path):
    faces, out = faces_in(group.astype(np.uint16) * 257, random_models, tmp_path)
    assert len(faces) == 6 and out.shape == group.shape


def test_exif_rotation_is_applied(group, random_models, tmp_path):
    image_module = pytest.importorskip("PIL.Image", reason="writing EXIF needs Pillow (the train extra)")

    def write_sideways(path, image):
        # The pixels are stored turned a quarter left; EXIF orientation 6 tells viewers to turn them back.
        stored = image_module.fromarray(cv2.cvtColor(np.rot90(image), cv2.COLOR_BGR2RGB))
        exif = image_module.Exif()
        exif[0x0112] = 6
        stored.save(path, exif=exif, quality=95)

    faces, out = faces_in(group, random_models, tmp_path, ".jpg", write_sideways)
    assert len(faces) == 6 and out.shape == group.shape  # upright, as a viewer shows it


def test_tiny_32_pixel_frame(group, random_models, tmp_path):
    faces, out = faces_in(cv2.resize(group, (32, 32)), random_models, tmp_path)
    assert faces == [] and out.shape == (32, 32, 3)


def test_16000_pixel_wide_frame(group, random_models, tmp_path):
    wide = np.full((group.shape[0], 16000, 3), 127, np.uint8)
    wide[:, 7000:7000 + group.shape[1]] = group
    faces, out = faces_in(wide, random_models, tmp_path)
    assert len(faces) == 6 and out.shape == wide.shape
    assert all(7000 <= face["box"][0] < 7000 + group.shape[1] for face in faces)


def test_fifty_faces_in_one_frame_are_all_classified(group, random_models, tmp_path):
    tiled = np.tile(group, (3, 3, 1))  # 9 copies of a photo of 6 people
    faces, _ = faces_in(tiled, random_models, tmp_path)
    assert len(faces) >= 50
    assert all("age" in face["designs"]["multitask"] for face in faces)


def test_beyond_max_faces_the_most_confident_are_kept_and_the_others_counted(group_photo, group, detector,
                                                                               random_models, tmp_path, capsys):
    every, capped = tmp_path / "every.jsonl", tmp_path / "capped.jsonl"
    assert run(group_photo, "--results", every, "--models", random_models) == 0
    assert "beyond --max-faces" not in capsys.readouterr().out
    assert run(group_photo, "--results", capped, "--max-faces", 4, "--models", random_models) == 0
    assert "1 frames, 4 faces (and 2 beyond --max-faces, not classified)" in capsys.readouterr().out
    [uncapped], [kept] = read_jsonl(every), read_jsonl(capped)
    assert len(uncapped["faces"]) == 6 and "faces_dropped" not in uncapped
    assert len(kept["faces"]) == 4 and kept["faces_dropped"] == 2
    found = detector.detect(group)
    kept_boxes = np.array([face["box"] for face in kept["faces"]])
    is_kept = np.array([np.abs(kept_boxes - box).max(axis=1).min() < 0.2 for box in found.boxes])
    assert is_kept.sum() == 4
    assert found.scores[is_kept].min() >= found.scores[~is_kept].max()  # the two least confident went


def test_damaged_model_is_reported(short_clip, copy_models, capsys):
    folder = copy_models()
    (folder / "gender.onnx").write_bytes(b"\x00" * 100)
    assert run(short_clip, "--design", "single", "--models", folder) == 2
    assert "gender.onnx" in one_line_error(capsys)


def test_model_without_our_metadata_is_refused(short_clip, copy_models, capsys):
    folder = copy_models()
    from agegender.paths import MODELS_DIR
    shutil.copy(MODELS_DIR / "mtcnn" / "onet.onnx", folder / "multitask.onnx")  # valid ONNX, not ours
    assert run(short_clip, "--models", folder) == 2
    err = one_line_error(capsys)
    assert "multitask.onnx" in err and "metadata" in err


def test_without_trained_models_it_says_how_to_get_them(short_clip, tmp_path, capsys):
    assert run(short_clip, "--models", tmp_path) == 2
    assert "training" in capsys.readouterr().err


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="CUDA is available here")
def test_cuda_requested_without_it_falls_back_to_cpu_and_says_so(short_clip, random_models, tmp_path, caplog):
    results = tmp_path / "r.jsonl"
    assert run(short_clip, "--provider", "cuda", "--results", results, "--models", random_models) == 0
    assert "CUDA was requested" in caplog.text and "running on CPU" in caplog.text
    assert len(read_jsonl(results)) == 12


def test_missing_output_folder(short_clip, random_models, tmp_path, capsys):
    assert run(short_clip, "--results", tmp_path / "nope" / "r.jsonl", "--models", random_models) == 2
    assert "does not exist" in one_line_error(capsys)


def test_read_only_output_folder(short_clip, random_models, tmp_path, capsys):
    if os.geteuid() == 0:  # mode bits do not bind root; sysfs refuses new files to everyone
        target = "/sys/r.jsonl"
    else:
        folder = tmp_path / "read-only"
        folder.mkdir(mode=0o555)
        target = folder / "r.jsonl"
    assert run(short_clip, "--results", target, "--models", random_models) == 2
    assert "cannot write" in one_line_error(capsys)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_full_disk_stops_with_a_message(short_clip, random_models, tmp_path, capsys):
    results = tmp_path / "r.jsonl"
    results.symlink_to("/dev/full")  # every write fails with ENOSPC, as on a full disk
    assert run(short_clip, "--results", results, "--models", random_models) == 2
    err = one_line_error(capsys)
    assert "r.jsonl" in err and "No space left on device" in err and "disk full" in err


def test_names_with_spaces_and_non_ascii(short_clip, random_models, tmp_path):
    folder = tmp_path / "vidéos d’été 人"
    folder.mkdir()
    video = folder / "foule à Paris – 1.avi"
    shutil.copy(short_clip, video)
    results, out = folder / "résultats ü.jsonl", folder / "annoté ü.mp4"
    assert run(video, "--results", results, "--out", out, "--models", random_models) == 0
    assert len(read_jsonl(results)) == 12
    assert cv2.VideoCapture(str(out)).read()[0]


def test_malformed_config_file_names_the_problem(tmp_path, capsys):
    bad = tmp_path / "kiosk.toml"
    bad.write_text('design = "compare\n')
    assert main(["--config", str(bad)]) == 2  # before any window opens
    assert "not valid TOML" in one_line_error(capsys)
    bad.write_text('kiosk = "yes"\n')
    assert main(["--config", str(bad)]) == 2
    assert "'kiosk' must be bool" in one_line_error(capsys)


# --- outputs never touch inputs; validate first, then write whole ---

def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def leftovers(folder) -> list:
    """Temporary files of outputs that were never renamed into place."""
    return sorted(p.name for p in Path(folder).rglob(".*.part*"))


@pytest.fixture
def inputs(short_clip, group_photo, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(short_clip, folder / "clip.avi")
    shutil.copy(group_photo, folder / "group.jpg")
    return folder


@pytest.mark.parametrize("input_name, option, output", [
    ("clip.avi", "--out", "clip.avi"),                 # the source video itself
    ("clip.avi", "--out", "sub/../clip.avi"),          # by way of '..'
    ("clip.avi", "--out", "hard-link.avi"),            # a hard link to it
    ("group.jpg", "--out", "group.jpg"),               # the photo itself
    ("group.jpg", "--results", "link.jsonl"),          # a symbolic link to it
    (".", "--out", "."),                               # a folder output that is the input folder
])
def test_an_output_that_is_the_input_is_refused_and_the_input_keeps_its_bytes(
        inputs, input_name, option, output, random_models, capsys):
    (inputs / "sub").mkdir()
    os.link(inputs / "clip.avi", inputs / "hard-link.avi")
    (inputs / "link.jsonl").symlink_to(inputs / "group.jpg")
    before = {p.name: digest(p) for p in inputs.iterdir() if p.is_file()}
    source = inputs / input_name if input_name != "." else inputs
    assert run(source, option, inputs / output, "--models", random_models) == 2
    line = one_line_error(capsys)
    assert f"{option} {inputs / output}" in line and "is the input" in line
    assert {p.name: digest(p) for p in inputs.iterdir() if p.is_file()} == before
    assert leftovers(inputs) == []


@pytest.mark.parametrize("bad_option", [("--out", "annotated.txt"), ("--out", "missing/a.mp4"), ("--max-faces", "0")])
def test_a_rejected_run_leaves_the_earlier_results_untouched(short_clip, random_models, tmp_path, bad_option, capsys):
    results = tmp_path / "r.jsonl"
    earlier = '{"frame": 0, "time": 0.0, "faces": []}\n'
    results.write_text(earlier)
    assert run(short_clip, "--results", results, *[str(tmp_path / v) if v.endswith(("txt", "mp4")) else v
                                                   for v in bad_option], "--models", random_models) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert results.read_text() == earlier and leftovers(tmp_path) == []


def test_results_appear_whole_when_the_run_ends(short_clip, random_models, tmp_path):
    results = tmp_path / "r.jsonl"
    results.write_text("an earlier file\n")
    os.chmod(results, 0o644)
    assert run(short_clip, "--results", results, "--models", random_models) == 0
    assert len(read_jsonl(results)) == 12 and leftovers(tmp_path) == []
    assert oct(results.stat().st_mode & 0o777) == oct(0o666 & ~current_umask())


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- stills are stills ---

def test_images_share_no_tracking_state(group_photo, random_models, tmp_path, caplog):
    portraits = sorted(group_photo.parent.glob("portrait-*.jpg"))
    if not portraits:
        pytest.skip("the shared portraits are absent")
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in [group_photo, *portraits]:
        shutil.copy(path, folder / path.name)
    alone, tracked = tmp_path / "alone.jsonl", tmp_path / "tracked.jsonl"
    assert run(folder, "--results", alone, "--models", random_models) == 0
    assert run(folder, "--results", tracked, "--track", "--detect-every", "5", "--models", random_models) == 0
    assert "images are processed one by one" in caplog.text
    assert read_jsonl(tracked) == read_jsonl(alone)  # each photo labelled as if it were the only one
    assert all(line["faces"] for line in read_jsonl(tracked))


# --- hostile images ---

def write_size_bomb(path, width=60000, height=60000):
    """A PNG of a few kB whose header declares width x height pixels (10 GB decoded at 60000x60000)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = zlib.compress((b"\x00" + bytes(3 * width)) * 8, 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def test_a_size_bomb_alone_is_refused_before_decoding(random_models, tmp_path, capsys):
    bomb = tmp_path / "bomb.png"
    write_size_bomb(bomb)
    assert bomb.stat().st_size < 100_000
    assert run(bomb, "--results", tmp_path / "r.jsonl", "--models", random_models) == 2
    line = one_line_error(capsys)
    assert "bomb.png declares more than" in line and "limit of 100 megapixels (setting max_image_megapixels)" in line
    assert not (tmp_path / "r.jsonl").exists() and leftovers(tmp_path) == []


def test_a_folder_with_a_size_bomb_and_a_pgm_finishes_with_the_others(group, random_models, tmp_path, capsys):
    folder, out = tmp_path / "photos", tmp_path / "annotated"
    folder.mkdir()
    out.mkdir()
    cv2.imwrite(str(folder / "a group.jpg"), group)
    write_size_bomb(folder / "b bomb.png")
    cv2.imwrite(str(folder / "c gray.pgm"), cv2.cvtColor(group, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "d group.png"), group)
    results = tmp_path / "r.jsonl"
    assert run(folder, "--results", results, "--out", out, "--models", random_models) == 1
    assert [line["source"] for line in read_jsonl(results)] == ["a group.jpg", "c gray.pgm", "d group.png"]
    assert sorted(p.name for p in out.iterdir()) == ["a group.jpg", "c gray.pgm.png", "d group.png"]
    err = capsys.readouterr().err
    assert "Traceback" not in err and "b bomb.png" in err and "1 of 4 images could not be read and were skipped" in err


def test_a_lower_megapixel_limit_is_a_setting(group, random_models, tmp_path, capsys):
    photo = tmp_path / "group.png"
    cv2.imwrite(str(photo), group)  # 1200x630: 0.76 megapixels
    assert run(photo, "--max-image-megapixels", "0.5", "--models", random_models) == 2
    assert "more than the limit of 0.5 megapixels" in one_line_error(capsys)


@pytest.mark.parametrize("name, said", [("pages.tif", "pages.tif holds 2 pages; only the first page is read"),
                                        ("moving.gif", "moving.gif holds 2 frames; only the first frame is read")])
def test_a_multi_page_tiff_or_an_animation_says_only_its_first_page_is_read(name, said, group, random_models,
                                                                            tmp_path, caplog):
    from PIL import Image
    pages = [Image.fromarray(cv2.cvtColor(group, cv2.COLOR_BGR2RGB)), Image.new("RGB", group.shape[1::-1])]
    path = tmp_path / name
    pages[0].save(path, save_all=True, append_images=pages[1:])
    results = tmp_path / "r.jsonl"
    assert run(path, "--results", results, "--models", random_models) == 0
    assert said in caplog.text
    assert len(read_jsonl(results)[0]["faces"]) == 6


def test_a_size_bomb_in_the_window_is_said_once_on_screen(qtbot, make_window, tmp_path, capfd):
    bomb = tmp_path / "bomb.png"
    write_size_bomb(bomb)
    window = make_window(reconnect_interval_s=0.2, watchdog_s=1.0)
    window.open_source(str(bomb))
    qtbot.waitUntil(lambda: "bomb.png declares more than" in window.video.message, timeout=10000)
    grabber = window.grabber
    qtbot.wait(2500)  # past the reconnect interval and the watchdog: neither may retry it
    assert window.grabber is grabber and grabber.state == "failed" and window.isVisible()
    assert "Traceback" not in capfd.readouterr().err


# --- credentials, options, signals, CSV, log noise ---

@pytest.mark.parametrize("password", ["secret", "p@ssw0rd", "pa/ss", "p ss word", "p:ss", "p#s?s", "@@", "%40x"])
def test_passwords_are_masked_whatever_they_hold(password):
    from agegender.sources.capture import mask_credentials
    masked = mask_credentials(f"rtsp://user:{password}@cam.local:554/live/main")
    assert masked == "rtsp://user:***@cam.local:554/live/main"
    if ":" not in password:  # a token alone, without a user name
        assert mask_credentials(f"http://{password}@cam.local/x") == "http://***@cam.local/x"
    assert mask_credentials("rtsp://cam.local/live") == "rtsp://cam.local/live"


@pytest.mark.parametrize("value", ["0", "-1"])
def test_max_faces_below_one_is_refused(short_clip, random_models, value, capsys):
    assert run(short_clip, "--max-faces", value, "--models", random_models) == 2
    assert "'max_faces'" in one_line_error(capsys)


@pytest.mark.parametrize("args, message", [
    (["--height", "-5"], "--height"),
    (["--json", "missing/s.json"], "does not exist"),
    (["--json", "VIDEO"], "is the input"),
    (["--minutes", "0"], "--minutes"),
])
def test_soak_options_are_checked_before_the_run(short_clip, tmp_path, args, message, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = [str(short_clip) if a == "VIDEO" else a for a in args]
    assert main(["soak", str(short_clip), "--minutes", "0.05", "--interval", "1", *args]) == 2
    assert message in one_line_error(capsys)


def test_soak_refuses_an_image(group_photo, capsys):
    assert main(["soak", str(group_photo), "--minutes", "0.05"]) == 2
    assert "not a video file" in one_line_error(capsys)


def test_a_folder_named_like_a_number_is_a_folder(group_photo, random_models, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("2024").mkdir()
    shutil.copy(group_photo, Path("2024") / "group.jpg")
    results = tmp_path / "r.jsonl"
    assert run("2024", "--results", results, "--models", random_models) == 0
    assert read_jsonl(results)[0]["source"] == "group.jpg"


def test_window_results_follow_the_suffix_rules_of_process(qtbot, make_window, short_clip, tmp_path):
    window = make_window()
    with pytest.raises(AgeGenderError, match="must end in .jsonl or .csv"):
        window.write_from_start(results=tmp_path / "r.txt")
    window.start_export(tmp_path / "r.csv")
    window.open_source(str(short_clip))
    wait_results(qtbot, window, 3)
    window.close()
    rows = list(csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8")))
    assert rows and {"frame", "multitask_age", "multitask_gender"} <= set(rows[0])


def test_window_outputs_over_the_source_are_refused(make_window, short_clip, tmp_path):
    clip = tmp_path / "clip.avi"
    shutil.copy(short_clip, clip)
    before = digest(clip)
    window = make_window(source=str(clip))
    for option, path in (("--record", clip), ("--results", tmp_path / "x" / ".." / "clip.avi")):
        with pytest.raises(AgeGenderError, match="is the input"):
            window.write_from_start(**{"video" if option == "--record" else "results": path})
    assert digest(clip) == before


@pytest.mark.parametrize("delay_s", [0.3, 0.6, 1.2])
def test_ctrl_c_during_start_up_is_one_line_and_exit_130(crowd_video, random_models, tmp_path, delay_s):
    """Whenever it lands (imports, model loading, the first frames): one line, 130, nothing torn. (The
    crowd video's 105 full-HD frames take several seconds: the run is still going when the signal lands.)"""
    results = tmp_path / "r.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-m", "agegender", "process", str(crowd_video), "--results", str(results),
                              "--models", str(random_models)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(delay_s)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    said = [line for line in err.replace("\r", "\n").splitlines() if "interrupted" in line]
    assert "Traceback" not in err and len(said) == 1 and said[0].startswith("agegender: "), err
    assert leftovers(tmp_path) == []
    if "during start-up" in said[0]:
        assert not results.exists()
    elif results.exists():  # (a Ctrl-C just before the results file is opened leaves none)
        assert len(read_jsonl(results)) < 105  # what was processed, every line whole


def test_names_that_look_like_formulas_are_escaped_in_csv(group, random_models, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    names = ['=HYPERLINK("x")a.png', "+1.png", "-2.png", "@SUM(A1).png", "plain.png"]
    for name in names:
        cv2.imwrite(str(folder / name), cv2.resize(group, (600, 315)))
    results = tmp_path / "r.csv"
    assert run(folder, "--results", results, "--models", random_models) == 0
    sources = {row["source"] for row in csv.DictReader(results.open(encoding="utf-8"))}
    assert sources == {"'" + n for n in names[:4]} | {"plain.png"}


def test_a_failing_stream_is_one_line_without_opencv_noise(tmp_path):
    from tests.mjpeg_server import free_port
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "agegender", "process", f"http://u:pw@127.0.0.1:{free_port()}/s.mjpg"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()], done.stderr  # one line
    assert done.stderr.startswith("agegender: error: cannot open the stream http://u:***@127.0.0.1")


# --- recordings that survive a kill, play everywhere, and keep the source's times ---

def decoded_frames(path) -> list:
    """The frames' times (seconds) that PyAV decodes from a video, as far as it can be read."""
    import av
    times = []
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                times.append(float(frame.pts * frame.time_base))
    except av.FFmpegError:  # a cut file: what came before the cut is what counts
        pass
    return times


@pytest.mark.parametrize("earlier", [False, True], ids=["new name", "over an earlier file"])
def test_a_recording_killed_mid_run_still_plays(long_clip, random_models, tmp_path, earlier):
    from tests.conftest import lines_written_so_far, start_agegender
    out, results = tmp_path / "out.mp4", tmp_path / "r.jsonl"
    if earlier:
        out.write_bytes(b"an earlier video")
    child = start_agegender(["process", long_clip, "--out", out, "--results", results, "--models", random_models],
                            results, lines=10, timeout_s=300)
    child.kill()  # SIGKILL: nothing is finalised, nothing renamed
    child.communicate(timeout=30)
    written = lines_written_so_far(results)
    assert 10 <= written < 250
    if earlier:
        assert out.read_bytes() == b"an earlier video"  # kept as it was; the recording is beside it
        parts = list(tmp_path.glob(".out.*.part.mp4"))
        assert len(parts) == 1
        recording = parts[0]
    else:
        assert [name for name in leftovers(tmp_path) if ".out." in name] == []  # written under its own name
        recording = out
    times = decoded_frames(recording)
    # the results line of a frame is written before its video frame, and the muxer holds back the last
    assert written - 2 <= len(times) <= written
    assert times == pytest.approx([index / 25 for index in range(len(times))], abs=1e-3)
    capture = cv2.VideoCapture(str(recording))
    assert capture.read()[0]  # OpenCV (another FFmpeg) plays it too


@pytest.mark.parametrize("earlier", [False, True], ids=["new name", "over an earlier file"])
def test_an_annotated_video_is_h264_in_fragmented_mp4_with_every_frame(short_clip, random_models, tmp_path, earlier):
    import av
    out = tmp_path / "out.mp4"
    if earlier:
        out.write_bytes(b"an earlier video")
    assert run(short_clip, "--out", out, "--models", random_models) == 0
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert "mp4" in container.format.name and stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p" and (stream.width, stream.height) == (640, 360)
    assert len(decoded_frames(out)) == 12
    data = out.read_bytes()
    assert data.count(b"moof") >= 1 and data[4:8] == b"ftyp"  # fragments, each playable without the end
    assert leftovers(tmp_path) == []


def test_a_variable_frame_rate_video_keeps_its_own_times(short_clip, random_models, tmp_path):
    import av
    from fractions import Fraction
    pts_ms = [0, 40, 120, 130, 300, 310, 320, 500, 720, 760, 1000, 1400]  # irregular, as phones record
    source = tmp_path / "vfr.mp4"
    capture = cv2.VideoCapture(str(short_clip))
    with av.open(str(source), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        for pts in pts_ms:
            frame = av.VideoFrame.from_ndarray(capture.read()[1], format="bgr24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    assert decoded_frames(source) == pytest.approx([p / 1000 for p in pts_ms])  # the file is really VFR
    results, out = tmp_path / "r.jsonl", tmp_path / "out.mp4"
    assert run(source, "--results", results, "--out", out, "--models", random_models) == 0
    assert [line["time"] for line in read_jsonl(results)] == [p / 1000 for p in pts_ms]
    assert decoded_frames(out) == pytest.approx([p / 1000 for p in pts_ms], abs=1e-4)  # not 1/fps apart
