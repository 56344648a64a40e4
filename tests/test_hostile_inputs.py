"""Hostile runs of `agegender process` and the settings: a closed pipe, a hang-up, two runs on one name,
links as outputs, odd config files, odd names. Each test fails without the fix it guards; each row a
user can meet is in docs/command-line.md, "Bad input"."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from agegender.commands.cli import main
from agegender.config import ConfigError, Settings, load_settings
from agegender.interrupts import EXIT_INTERRUPTED
from tests.conftest import ROOT, one_line_error, start_agegender


def run(*args) -> int:
    return main(["process", *map(str, args)])


def agegender_child(*args, **popen):
    return subprocess.Popen([sys.executable, "-m", "agegender", *map(str, args)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, **popen)


def jsonl_lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def video_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def hidden_leftovers(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- data lost or hidden ---

@pytest.mark.parametrize("closed", ["stdout", "stderr"])
def test_a_closed_output_stream_keeps_every_result(closed, short_clip, random_models, tmp_path):
    """`agegender process ... | true`: the reader is gone before the summary is printed."""
    out, results = tmp_path / "sp.mp4", tmp_path / "sp.jsonl"
    streams = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, closed: subprocess.PIPE}
    child = agegender_child("process", short_clip, "--out", out, "--results", results, "--models", random_models,
                            **streams)
    getattr(child, closed).close()  # nobody will read it
    assert child.wait(timeout=120) == 0
    assert len(jsonl_lines(results)) == 12 and video_frames(out) == 12
    assert hidden_leftovers(tmp_path) == []


@pytest.mark.parametrize("closed", ["2>&-", ">&- 2>&-"])
def test_streams_closed_before_the_start_keep_every_result(closed, short_clip, random_models, tmp_path):
    """`agegender process ... 2>&-`: Python starts without sys.stderr, and the progress bar ended the run."""
    out, results = tmp_path / "c.mp4", tmp_path / "c.jsonl"
    command = [sys.executable, "-m", "agegender", "process", short_clip, "--out", out, "--results", results,
               "--models", random_models]
    done = subprocess.run(["sh", "-c", f'exec "$@" {closed}', "sh", *map(str, command)],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert done.returncode == 0
    assert len(jsonl_lines(results)) == 12 and video_frames(out) == 12  # every line JSON: nothing else landed in it
    assert hidden_leftovers(tmp_path) == []


@pytest.mark.parametrize("stream, closed", [("/dev/stdout", ">&-"), ("/dev/stderr", "2>&-")])
def test_results_sent_to_a_stream_closed_before_the_start_are_refused_not_lost(stream, closed, group_photo,
                                                                               random_models, tmp_path):
    command = [sys.executable, "-m", "agegender", "process", group_photo, "--results", stream, "--models",
               random_models]
    log = tmp_path / "log.txt"
    redirect = f'{closed} 2>"{log}"' if closed == ">&-" else f'{closed} >"{log}"'
    done = subprocess.run(["sh", "-c", f'exec "$@" {redirect}', "sh", *map(str, command)],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert done.returncode == 2
    if closed == ">&-":  # stderr is open there: the one line says why
        assert f"--results {stream} leads nowhere" in log.read_text()


@pytest.mark.parametrize("where", ["while annotating", "between the video and the results"])
def test_ctrl_c_in_a_frame_says_how_many_frames_the_outputs_hold(where, short_clip, random_models, tmp_path,
                                                                  monkeypatch, capsys):
    """The closing line counts the frames written, and a frame is in both outputs or in neither."""
    from agegender.commands import process
    from agegender.outputs.sinks import VideoWriter
    calls = []

    def ctrl_c_at_the_second_frame(real):
        def called(*args, **kwargs):
            answer = real(*args, **kwargs)
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, landing right here
            return answer
        return called
    if where == "while annotating":
        monkeypatch.setattr(process, "annotate", ctrl_c_at_the_second_frame(process.annotate))
    else:
        monkeypatch.setattr(VideoWriter, "write", ctrl_c_at_the_second_frame(VideoWriter.write))
    out, results = tmp_path / "i.mp4", tmp_path / "i.jsonl"
    assert run(short_clip, "--out", out, "--results", results, "--models", random_models) == EXIT_INTERRUPTED
    said = one_line_error(capsys)
    frames = len(jsonl_lines(results))
    assert said == f"agegender: interrupted: the {frames} frames processed so far are saved", said
    assert frames == video_frames(out) >= 1


def test_ctrl_c_before_the_first_frame_leaves_an_earlier_runs_outputs_as_they_were(short_clip, random_models,
                                                                                   tmp_path, monkeypatch, capsys):
    from agegender.commands import process
    out, results = tmp_path / "i.mp4", tmp_path / "i.jsonl"
    assert run(short_clip, "--out", out, "--results", results, "--models", random_models) == 0
    before = {path: path.read_bytes() for path in (out, results)}
    capsys.readouterr()

    def ctrl_c_at_once(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, once the outputs are open, before any frame
        yield from ()
    monkeypatch.setattr(process, "in_parallel", ctrl_c_at_once)
    assert run(short_clip, "--out", out, "--results", results, "--models", random_models) == EXIT_INTERRUPTED
    assert "before the first frame: nothing was written" in one_line_error(capsys)
    assert {path: path.read_bytes() for path in (out, results)} == before


def write_h264(path: Path, clip: Path) -> Path:
    """The clip's frames as H.264 in MP4: one keyframe, then frames that each depend on the one before."""
    import av
    capture = cv2.VideoCapture(str(clip))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        while (got := capture.read())[0]:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(got[1], format="bgr24")))
        container.mux(stream.encode(None))
    capture.release()
    return path


def scramble_frames(path: Path, frames: int) -> None:
    """Random bytes over the picture data of the first `frames` frames; their headers, and the file's, stay
    as they were, so that every frame can still be found and decoded, wrongly."""
    import av
    data = bytearray(path.read_bytes())
    with av.open(str(path)) as container:
        packets = [(packet.pos, packet.size) for packet in container.demux(video=0) if packet.size][:frames]
    noise = np.random.default_rng(0)
    for start, size in packets:
        at = start
        while at < start + size:  # NAL units, each after its 4-byte length
            length = int.from_bytes(data[at:at + 4], "big")
            if data[at + 4] & 0x1F in (1, 5):  # a slice of a picture: all but its header scrambled
                data[at + 20:at + 4 + length] = noise.integers(0, 256, length - 16, np.uint8).tobytes()
            at += 4 + length
    path.write_bytes(bytes(data))


def test_a_video_whose_first_frames_are_scrambled_says_how_many_are_damaged(short_clip, random_models, tmp_path,
                                                                              capsys):
    video, results = write_h264(tmp_path / "scrambled.mp4", short_clip), tmp_path / "r.jsonl"
    scramble_frames(video, 3)
    assert run(video, "--results", results, "--models", random_models) == 1
    assert len(jsonl_lines(results)) == 12  # every frame processed, as FFmpeg could decode it
    line = one_line_error(capsys)
    assert "scrambled.mp4: 3 of 12 frames are damaged and could not be decoded whole" in line, line


def test_a_video_whose_first_frame_is_lost_counts_the_frames_lost_with_it(short_clip, random_models, tmp_path,
                                                                           capsys):
    """FFmpeg gives no frame for a packet it cannot read, nor for the frames that depend on it."""
    import av
    video = write_h264(tmp_path / "headless.mp4", short_clip)
    with av.open(str(video)) as container:
        first = next(packet for packet in container.demux(video=0) if packet.size)
        start, size = first.pos, first.size
    data = bytearray(video.read_bytes())
    data[start:start + size] = np.random.default_rng(0).integers(0, 256, size, np.uint8).tobytes()
    video.write_bytes(bytes(data))
    assert run(video, "--models", random_models) == 1
    assert "headless.mp4: 12 of 12 frames are damaged" in capsys.readouterr().err


def test_a_second_run_on_the_same_outputs_is_refused_naming_the_first(long_clip, random_models, tmp_path, capsys):
    out, results = tmp_path / "conc.mp4", tmp_path / "conc.jsonl"
    first = start_agegender(["process", long_clip, "--out", out, "--results", results, "--models", random_models],
                            results, lines=3)
    try:
        assert run(long_clip, "--out", out, "--results", results, "--models", random_models) == 2
        err = capsys.readouterr().err
        assert f"being written by another agegender run (process {first.pid})" in err, err
        assert first.poll() is None  # refused without touching the first run, which goes on
    finally:
        first.send_signal(signal.SIGTERM)  # it finishes what it wrote, as on any SIGTERM
        assert first.wait(timeout=300) == EXIT_INTERRUPTED
    frames = len(jsonl_lines(results))
    assert 3 <= frames == video_frames(out)  # the pair is the first run's, one frame for one line
    assert hidden_leftovers(tmp_path) == []


def test_inputs_whose_annotated_copies_would_share_a_name_are_refused_before_anything_is_written(
        group_photo, random_models, tmp_path, capsys):
    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    out.mkdir()
    image = cv2.imread(str(group_photo))
    cv2.imwrite(str(photos / "a.pgm"), cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(photos / "a.pgm.png"), image)
    assert run(photos, "--out", out, "--results", tmp_path / "r.jsonl", "--models", random_models) == 2
    assert "a.pgm and a.pgm.png would both be annotated as a.pgm.png" in capsys.readouterr().err
    assert list(out.iterdir()) == [] and not (tmp_path / "r.jsonl").exists()


def test_a_hang_up_finishes_the_outputs_as_sigterm_does(long_clip, random_models, tmp_path):
    results = tmp_path / "hup.jsonl"
    child = start_agegender(["process", long_clip, "--results", results, "--models", random_models], results, lines=3)
    child.send_signal(signal.SIGHUP)
    assert child.wait(timeout=60) == 130
    assert 3 <= len(jsonl_lines(results)) < 250  # under its own name, every line whole
    assert hidden_leftovers(tmp_path) == []


def test_outputs_given_as_links_are_written_through_them(short_clip, random_models, tmp_path):
    target_dir = tmp_path / "real"
    target_dir.mkdir()
    (target_dir / "r.jsonl").write_text("earlier\n")
    link, dangling = tmp_path / "r.jsonl", tmp_path / "v.mp4"
    link.symlink_to(target_dir / "r.jsonl")
    dangling.symlink_to(target_dir / "v.mp4")  # its target does not exist yet
    assert run(short_clip, "--results", link, "--out", dangling, "--models", random_models) == 0
    assert link.is_symlink() and dangling.is_symlink()
    assert len(jsonl_lines(target_dir / "r.jsonl")) == 12 and video_frames(target_dir / "v.mp4") == 12
    assert hidden_leftovers(tmp_path) == hidden_leftovers(target_dir) == []


def test_a_link_to_stdout_on_a_pipe_writes_into_the_pipe(short_clip, random_models, tmp_path):
    link = tmp_path / "out.jsonl"
    link.symlink_to("/dev/stdout")
    child = agegender_child("process", short_clip, "--results", link, "--models", random_models,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    printed, _ = child.communicate(timeout=120)
    assert child.returncode == 0 and link.is_symlink()
    assert sum(line.startswith("{") for line in printed.splitlines()) == 12


# --- crashes and tracebacks ---

@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "not a regular file"),
    (lambda p: os.mkfifo(p), "not a regular file"),
    (lambda p: p.write_text("a = " + "[" * 100_000), "not valid TOML"),
    (lambda p: p.write_bytes(b"# " + b"x" * (2 << 20)), "larger than 1 MB"),
    (lambda p: None, "does not exist"),
], ids=["folder", "fifo", "nested", "huge", "missing"])
def test_a_config_that_is_not_a_settings_file_is_one_line_and_exit_2(make, message, short_clip, tmp_path, capsys):
    config = tmp_path / "settings.toml"
    make(config)
    assert run(short_clip, "--config", config) == 2
    assert message in one_line_error(capsys)


def test_a_config_device_is_refused_without_reading_it(short_clip, capsys):
    assert run(short_clip, "--config", "/dev/zero") == 2  # read, it would fill the memory
    assert "not a regular file" in one_line_error(capsys)


def test_an_unreadable_config_file_is_one_line(tmp_path, monkeypatch):
    config = tmp_path / "settings.toml"
    config.write_text('buckets = "decades"\n')
    real_open = open

    def denied(path, *args, **kwargs):
        if Path(path) == config:
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr("builtins.open", denied)  # (root, who runs CI, can read any mode)
    with pytest.raises(ConfigError, match="cannot read config file .*Permission denied"):
        load_settings(config)


def test_an_unreadable_input_folder_is_one_line(group_photo, random_models, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    real_iterdir = Path.iterdir

    def denied(self):
        if self == folder:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)
    monkeypatch.setattr(Path, "iterdir", denied)
    assert run(folder, "--models", random_models) == 2
    assert "cannot read the folder" in one_line_error(capsys)


@pytest.mark.parametrize("bad", [np.zeros((0, 0, 3), np.uint8), "", "."])
def test_the_api_gives_value_error_for_an_empty_image_or_a_folder(bad, random_models):
    from agegender import FaceAnalyzer
    with pytest.raises(ValueError, match="an image must be"):
        FaceAnalyzer(models=random_models).analyze(bad)


# --- settings honoured or refused ---

@pytest.mark.parametrize("text, message", [
    ("min_face = 1e308", "'min_face' must be int"),
    ("thresholds = [1.5, -0.2, 2]", "thresholds"),
    ('buckets = "50-59,60+"', "leaves out 0-49"),
])
def test_process_refuses_a_bad_config_value(text, message, short_clip, random_models, tmp_path, capsys):
    config = tmp_path / "settings.toml"
    config.write_text(text + "\n")
    assert run(short_clip, "--config", config, "--models", random_models) == 2
    assert message in one_line_error(capsys)


def test_process_applies_the_config_and_says_which_keys_it_ignores(short_clip, random_models, tmp_path, caplog):
    config, results = tmp_path / "settings.toml", tmp_path / "r.jsonl"
    config.write_text('min_face = 300\nbuckets = "decades"\nkiosk = true\nlabel_scale = 2.0\n')
    assert run(short_clip, "--config", config, "--results", results, "--models", random_models) == 0
    frames = jsonl_lines(results)
    assert sum(len(f["faces"]) for f in frames) == 0  # no face in the 640x360 clip is 300 pixels wide
    assert "kiosk, label_scale are not used here" in caplog.text
    assert run(short_clip, "--config", config, "--min-face", "20", "--results", results,
               "--models", random_models) == 0  # an option given overrides the file
    faces = [face for frame in jsonl_lines(results) for face in frame["faces"]]
    assert faces and all(answer["age_bucket"] in {"0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+"}
                         for face in faces for answer in face["designs"].values())


@pytest.mark.parametrize("buckets", ["50-59,60+", "0-9,40-49,50+", "0-9,10-19", "adience"])
def test_buckets_that_leave_ages_out_are_refused(buckets):
    with pytest.raises(ConfigError, match="buckets"):
        Settings(buckets=buckets)


@pytest.mark.parametrize("keys", ["Strg+Q", "Ctrl+Nonsense+Q", "", "Ctrl+Q, Ctrl+W", "ctrl+q"])
def test_a_kiosk_exit_chord_that_qt_would_not_read_back_is_refused(keys):
    with pytest.raises(ConfigError, match="kiosk_exit_keys"):
        Settings(kiosk_exit_keys=keys)


def test_the_default_and_other_real_exit_chords_are_accepted():
    from agegender.config import DEFAULT_KIOSK_EXIT_KEYS, is_key_chord
    assert is_key_chord(DEFAULT_KIOSK_EXIT_KEYS)  # taken without asking Qt, so checked here
    assert Settings(kiosk_exit_keys="Ctrl+Alt+X").kiosk_exit_keys == "Ctrl+Alt+X"


@pytest.mark.parametrize("scale", [float("nan"), -1.0, 0.0, 1e6, float("inf")])
def test_an_absurd_label_scale_is_refused(scale):
    with pytest.raises(ConfigError, match="label_scale"):
        Settings(label_scale=scale)


def test_a_bucket_number_too_large_for_an_age_is_called_so(short_clip, capsys):
    assert run(short_clip, "--buckets", "0-9,10-99999999999999999999,100000000000000000000+") == 2
    line = one_line_error(capsys)
    assert "99999999999999999999 is too large for an age (at most 9999)" in line and "ascend" not in line, line


def test_a_config_file_with_a_byte_order_mark_is_read(group_photo, random_models, tmp_path):
    config, results = tmp_path / "settings.toml", tmp_path / "r.jsonl"
    config.write_bytes(b"\xef\xbb\xbfmin_face = 300\n")  # as Notepad saves UTF-8
    assert run(group_photo, "--config", config, "--results", results, "--models", random_models) == 0
    assert jsonl_lines(results)[0]["faces"] == []  # applied: no face in the photo is 300 pixels wide


# --- what an input names ---

def test_a_file_url_is_read_as_the_file_it_names(short_clip, random_models, tmp_path, capsys):
    folder = tmp_path / "my clips"
    folder.mkdir()
    clip, results = folder / "crowd é.avi", tmp_path / "r.jsonl"
    clip.write_bytes(short_clip.read_bytes())
    assert run(clip.as_uri(), "--results", results, "--models", random_models) == 0  # file:///…/my%20clips/…
    assert len(jsonl_lines(results)) == 12
    assert run(clip.as_uri(), "--out", clip, "--models", random_models) == 2  # outputs are checked against it
    assert "is the input" in one_line_error(capsys)
    assert clip.read_bytes() == short_clip.read_bytes()


def test_an_address_of_another_kind_is_named_as_such(capsys):
    assert run("udp://127.0.0.1:9") == 2
    line = one_line_error(capsys)
    assert "udp:// addresses cannot be opened; give an rtsp://, rtmp://, http:// or https:// URL" in line, line


def test_a_system_file_that_reports_no_size_is_not_called_empty(capsys):
    assert run("/proc/self/status") == 2
    line = one_line_error(capsys)
    assert "/proc/self/status is not a video or image file" in line and "empty" not in line, line


def test_a_folder_of_one_image_goes_into_an_output_folder(group_photo, random_models, tmp_path):
    photos = tmp_path / "photos"
    (photos / "annotated").mkdir(parents=True)
    (photos / "group.jpg").write_bytes(group_photo.read_bytes())
    assert run(photos, "--out", photos / "annotated", "--models", random_models) == 0
    assert cv2.imread(str(photos / "annotated" / "group.jpg")).shape == cv2.imread(str(group_photo)).shape


def test_a_camera_that_is_not_there_is_our_line_alone(tmp_path, monkeypatch, capfd):
    """Where cv2 was imported before agegender (as here, and in an API caller's script), OPENCV_LOG_LEVEL
    came too late to silence OpenCV's own '[ WARN:0@…] cap_v4l…' lines."""
    index = next(i for i in range(10, 100) if not Path(f"/dev/video{i}").exists())
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENCV_LOG_LEVEL", raising=False)
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_WARNING)  # OpenCV's own default
    try:
        assert run(index) == 2
    finally:
        cv2.utils.logging.setLogLevel(level)
    err = capfd.readouterr().err
    assert err.splitlines() == [f"agegender: error: no camera at index {index} (unplugged, busy in another program, "
                                "or no permission); open a video file or a stream URL instead"], err


# --- what a folder holds, and names ---

def test_gif_avif_and_dangling_links_in_a_folder_are_read_or_listed(group_photo, random_models, tmp_path, caplog,
                                                                     capsys):
    photos, results = tmp_path / "photos", tmp_path / "r.jsonl"
    photos.mkdir()
    image = cv2.imread(str(group_photo))
    for suffix in (".gif", ".avif"):
        assert cv2.imwrite(str(photos / f"g{suffix}"), image)
    (photos / "notes.txt").write_text("not an image")
    (photos / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    assert run(photos, "--results", results, "--models", random_models) == 1  # the dangling link is a failure
    frames = {frame["source"]: frame for frame in jsonl_lines(results)}
    assert set(frames) == {"g.gif", "g.avif"} and all(frame["faces"] for frame in frames.values())
    err = capsys.readouterr().err
    assert "gone.jpg" in err and "symbolic link whose target is gone" in err
    assert "notes.txt: not an image file" in caplog.text


def test_an_avif_photo_is_annotated_as_an_image(group_photo, random_models, tmp_path):
    photo = tmp_path / "g.avif"
    assert cv2.imwrite(str(photo), cv2.imread(str(group_photo)))
    assert run(photo, "--out", tmp_path / "a.png", "--models", random_models) == 0
    assert cv2.imread(str(tmp_path / "a.png")) is not None


def test_control_characters_in_names_are_escaped(group_photo, random_models, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    evil = folder / "\x1b]0;owned\x07\x1b[2J\nline.jpg"
    evil.write_bytes(group_photo.read_bytes())
    (folder / "\x1b[31mbroken.jpg").write_bytes(b"not a jpeg")
    child = agegender_child("process", folder, "--models", random_models, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 1
    assert b"\x1b" not in err and b"\x07" not in err
    assert b"\\x1b[31mbroken.jpg" in err


def test_an_image_or_folder_named_in_bytes_that_are_not_utf8_is_one_line_and_exit_2(group_photo, random_models,
                                                                                  tmp_path, capsys):
    photos, results = tmp_path / "photos", tmp_path / "r.jsonl"
    photos.mkdir()
    (photos / os.fsdecode(b"bad\xffname.jpg")).write_bytes(group_photo.read_bytes())
    (photos / "good.jpg").write_bytes(group_photo.read_bytes())
    assert run(photos / os.fsdecode(b"bad\xffname.jpg"), "--results", results, "--models", random_models) == 2
    line = one_line_error(capsys)
    assert line.endswith("the name bad\\udcffname.jpg in " + str(photos / "bad\\udcffname.jpg")
                         + " is not valid UTF-8, which results files cannot hold; rename it"), line
    assert run(photos, "--results", results, "--models", random_models) == 2  # as an --out-dir run refuses it
    assert "the name bad\\udcffname.jpg in " in one_line_error(capsys)
    assert not results.exists()


@pytest.mark.parametrize("where, option, output, name", [
    (b"bad\xffclip.avi", "--results", "r.jsonl", b"bad\\udcffclip.avi"),
    (b"d\xff/clip.avi", "--out-dir", "out", b"d\\udcff"),  # the file's own name would do; the manifest holds the path
])
def test_a_video_whose_path_is_not_utf8_is_refused_not_crashed(where, option, output, name, short_clip,
                                                                random_models, tmp_path):
    """OpenCV crashes (SIGSEGV) opening a video by such a path: a child process, so as not to take pytest down."""
    video = tmp_path / os.fsdecode(where)
    video.parent.mkdir(exist_ok=True)
    video.write_bytes(short_clip.read_bytes())
    child = agegender_child("process", video, option, tmp_path / output, "--models", random_models,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 2, err
    assert err.startswith(b"agegender: error: the name " + name + b" in ") and err.count(b"\n") == 1, err
    assert err.endswith(b"is not valid UTF-8, which results files cannot hold; rename it\n")


def test_an_output_that_is_only_a_suffix_is_told_so(short_clip, random_models, tmp_path, capsys):
    assert run(short_clip, "--out", tmp_path / ".mp4", "--models", random_models) == 2
    assert "has no name before its suffix" in one_line_error(capsys)


def test_annotated_images_that_cannot_be_written_are_not_called_skipped(group_photo, random_models, tmp_path,
                                                                         monkeypatch, capsys):
    from agegender.errors import OutputError
    photos, out, results = tmp_path / "photos", tmp_path / "out", tmp_path / "r.jsonl"
    photos.mkdir()
    out.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (photos / name).write_bytes(group_photo.read_bytes())

    def disk_full(target, data, **_):
        raise OutputError(f"writing {target} failed: No space left on device (is the disk full?)")
    monkeypatch.setattr("agegender.commands.process.write_bytes_atomically", disk_full)
    assert run(photos, "--out", out, "--results", results, "--models", random_models) == 1
    err = capsys.readouterr().err
    assert "2 annotated images could not be written" in err and "skipped" not in err
    assert len(jsonl_lines(results)) == 2


def test_a_signal_after_the_outputs_are_saved_does_not_say_nothing_was_written():
    child = subprocess.run([sys.executable, "-c", "from agegender import interrupts; interrupts.outputs_saved(); "
                            "interrupts._stop_now(2, None)"], env={**os.environ, "PYTHONPATH": str(ROOT)},
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == 130
    assert child.stderr == "agegender: interrupted after the outputs were saved; they are complete\n"


def write_size_change(path: Path, parts: list) -> None:
    """One MPEG-TS video whose picture size changes: `parts` is [(BGR image, frames)], each part its own
    H.264 segment, their times following each other (as a recording of an adaptive stream has them)."""
    import av
    from fractions import Fraction
    data, first = b"", 0
    for image, frames in parts:
        segment = path.with_suffix(".part.ts")
        with av.open(str(segment), "w", format="mpegts") as container:
            stream = container.add_stream("libx264", rate=25, options={"bf": "0"})
            stream.width, stream.height, stream.pix_fmt = image.shape[1], image.shape[0], "yuv420p"
            stream.codec_context.time_base = Fraction(1, 25)
            for i in range(frames):
                frame = av.VideoFrame.from_ndarray(image, format="bgr24")
                frame.pts, frame.time_base = first + i, Fraction(1, 25)
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        data += segment.read_bytes()
        segment.unlink()
        first += frames
    path.write_bytes(data)


def test_a_video_whose_size_changes_gives_each_frame_in_its_own_coordinates(group_photo, random_models, tmp_path,
                                                                             caplog):
    group = cv2.imread(str(group_photo))
    video, results = tmp_path / "change.ts", tmp_path / "r.jsonl"
    write_size_change(video, [(cv2.resize(group, (1280, 720)), 10), (cv2.resize(group, (640, 360)), 10)])
    assert run(video, "--results", results, "--models", random_models) == 0
    assert "changes its picture size (1280x720 from 0.0 s, then 640x360 from 0.4 s)" in caplog.text
    frames = jsonl_lines(results)
    assert len(frames) == 20
    before, after = (np.array(sorted(face["box"] for face in frames[i]["faces"])) for i in (5, 15))
    assert len(before) == len(after) >= 4
    np.testing.assert_allclose(after, before / 2, atol=4)  # the same faces, at half the size


def test_a_photo_whose_face_search_would_not_fit_in_memory_is_refused_before_decoding(
        group_photo, random_models, tmp_path, monkeypatch, capsys):
    import psutil
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.tile(cv2.imread(str(group_photo)), (4, 4, 1)))  # 12 megapixels, ~0.8 GB to search
    real = psutil.virtual_memory()
    monkeypatch.setattr(psutil, "virtual_memory", lambda: real._replace(available=500_000_000))  # 0.5 GB free
    assert run(big, "--models", random_models) == 2
    line = one_line_error(capsys)
    assert "big.png (4800x2520, 12 megapixels) needs about 0.8 GB" in line and "0.5 GB are free" in line


def test_results_through_dev_stdout_appended_to_a_file_keep_what_the_file_held(short_clip, random_models, tmp_path):
    """`agegender process … --results out.jsonl >> all.jsonl` with out.jsonl a link to /dev/stdout: the
    results are appended; the file's earlier lines are not replaced by a new file."""
    link, collected = tmp_path / "out.jsonl", tmp_path / "all.jsonl"
    link.symlink_to("/dev/stdout")
    collected.write_text('{"earlier": true}\n')
    with open(collected, "a") as stdout:
        child = agegender_child("process", short_clip, "--results", link, "--models", random_models,
                                stdout=stdout, stderr=subprocess.DEVNULL)
        assert child.wait(timeout=120) == 0
    lines = collected.read_text().splitlines()
    assert lines[0] == '{"earlier": true}' and sum(line.startswith('{"frame"') for line in lines) == 12


def test_process_neither_uses_nor_judges_the_windows_keys(short_clip, random_models, tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text('kiosk_exit_keys = "Strg+Q"\nlabel_scale = 20.0\nmin_face = 40\n')  # wrong for a window
    assert run(short_clip, "--config", config, "--models", random_models) == 0
