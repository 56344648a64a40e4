"""What `agegender process` does with bad input: one clear line, the program alive where it can be,
and every line written before a failure still valid. One test (or more) per row of the README's
table 'Bad input'."""
import json
import os
import shutil

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from app.cli import main


def run(*args) -> int:
    return main(["process", *map(str, args)])


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def one_line_error(capsys) -> str:
    """The one line of the error message (a progress bar may have been drawn before it)."""
    err = capsys.readouterr().err
    messages = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("agegender:")]
    assert "Traceback" not in err and len(messages) == 1, err
    return messages[0]


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


def test_video_damaged_in_the_middle_keeps_every_line_valid(short_clip, random_models, tmp_path):
    data = bytearray(short_clip.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 20000] = bytes(20000)
    damaged, results = tmp_path / "damaged.avi", tmp_path / "r.jsonl"
    damaged.write_bytes(bytes(data))
    assert run(damaged, "--results", results, "--models", random_models) in (0, 1)
    assert len(read_jsonl(results)) >= 5  # every line is complete JSON


def test_truncated_video_keeps_what_was_read(short_clip, random_models, tmp_path, capsys):
    truncated = tmp_path / "truncated.avi"
    data = short_clip.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    results = tmp_path / "r.jsonl"
    code = run(truncated, "--results", results, "--models", random_models)
    err = capsys.readouterr().err
    lines = read_jsonl(results)
    if code == 2:  # the container could not be opened at all
        assert "not a video" in err
    else:
        assert code == 1 and 0 < len(lines) < 12 and "truncated" in err


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


def test_damaged_model_is_reported(short_clip, copy_models, capsys):
    folder = copy_models()
    (folder / "gender.onnx").write_bytes(b"\x00" * 100)
    assert run(short_clip, "--design", "single", "--models", folder) == 2
    assert "gender.onnx" in one_line_error(capsys)


def test_model_without_our_metadata_is_refused(short_clip, copy_models, capsys):
    folder = copy_models()
    from app.paths import MODELS_DIR
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
