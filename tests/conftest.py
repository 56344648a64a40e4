"""Shared fixtures. Qt runs offscreen; data from ../shared is used where present and skipped, with a
reason, where not; age/gender networks with random weights are exported here as test fixtures."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MEDIA = SHARED / "media"
UTKFACE = SHARED / "datasets" / "utkface"
AAF = SHARED / "datasets" / "aaf"
CROWD_VIDEO = MEDIA / "crowd-1080p.mp4"
GROUP_PHOTO = MEDIA / "group.jpg"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is not beside the project)")
    return path


# .ci/run sets this. There ../shared and the train extra are always present, so a test skipped for want of
# either fails instead: a CI machine without them must not go green with half the suite skipped.
FULL_SUITE = os.environ.get("AGEGENDER_FULL_SUITE") == "1"
TIER_SKIPS = ("../shared", "train extra")  # the words of every skip for want of the data or of torch


def _skip_of_a_required_tier(report) -> str | None:
    if not (FULL_SUITE and report.skipped and isinstance(report.longrepr, tuple)):
        return None
    reason = str(report.longrepr[2])
    return reason if any(words in reason for words in TIER_SKIPS) else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if reason := _skip_of_a_required_tier(report):
        report.outcome, report.longrepr = "failed", f"skipped, but the full suite is required here: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if reason := _skip_of_a_required_tier(report):
        report.outcome, report.longrepr = "failed", f"skipped, but the full suite is required here: {reason}"


@pytest.fixture(scope="session")
def crowd_video() -> Path:
    return need(CROWD_VIDEO)


@pytest.fixture(scope="session")
def group_photo() -> Path:
    return need(GROUP_PHOTO)


@pytest.fixture(scope="session")
def detector():
    """The detector with its default settings: the "fast" preset, as the app runs it."""
    from agegender.vision.detect import MtcnnDetector
    return MtcnnDetector()


@pytest.fixture(scope="session")
def parity_images():
    """name -> RGB image: the inputs of tests/data/mtcnn_reference.json (photos and crowd-video frames)."""
    need(MEDIA)
    from training.mtcnn_reference import parity_inputs
    return parity_inputs(MEDIA)


@pytest.fixture(scope="session")
def random_models(tmp_path_factory) -> Path:
    """TEST FIXTURE ONLY: multitask.onnx, age.onnx and gender.onnx with random weights, written by the
    real export code, so the app's model contract is tested before (and apart from) trained models;
    beside them the shipped MTCNN, as a models folder given with --models holds it."""
    torch = pytest.importorskip("torch", reason="exporting test networks needs the train extra (torch)")
    from training.export import export_network
    from training.train import build_model
    folder = tmp_path_factory.mktemp("random_models")
    torch.manual_seed(0)
    for design, name in (("multitask", "multitask.onnx"), ("age", "age.onnx"), ("gender", "gender.onnx")):
        # MobileFaceNet's trunk, 112 x 112 crops: the contract, not the recipe's trunk, is under test here
        export_network(build_model(design, "mobilefacenet"), design, folder / name, note="TEST FIXTURE: random weights")
    shutil.copytree(ROOT / "models" / "mtcnn", folder / "mtcnn")
    return folder


def write_crowd_clip(path: Path, frames: int, start: int = 0) -> Path:
    """`frames` frames of the crowd video from frame `start` (looped past its end) at 640x360, as MJPG in
    AVI: made at test time, never committed."""
    capture = cv2.VideoCapture(str(need(CROWD_VIDEO)))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    read = []
    while len(read) < frames and (got := capture.read())[0]:
        read.append(cv2.resize(got[1], (640, 360), interpolation=cv2.INTER_AREA))
    capture.release()
    assert read, f"the crowd video has no frame {start}"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (640, 360))
    for index in range(frames):
        writer.write(read[index % len(read)])
    writer.release()
    return path


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory, crowd_video) -> Path:
    """The first 12 frames of the crowd video at 640x360."""
    return write_crowd_clip(tmp_path_factory.mktemp("clips") / "crowd-12.avi", 12)


@pytest.fixture(scope="session")
def long_clip(crowd_video, tmp_path_factory) -> Path:
    """250 frames at 640x360 (the crowd video looped): long enough for a run to be killed, interrupted or
    joined by a second run in the middle."""
    return write_crowd_clip(tmp_path_factory.mktemp("long") / "crowd-250.avi", 250)


@pytest.fixture
def photos(tmp_path) -> Path:
    """A folder of two real portraits, a.jpg and b.jpg."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name, photo in zip(("a.jpg", "b.jpg"), sorted(need(MEDIA).glob("portrait-*.jpg"))):
        shutil.copy(photo, folder / name)
    return folder


@pytest.fixture
def copy_models(random_models, tmp_path):
    def _copy() -> Path:
        target = tmp_path / "models"
        shutil.copytree(random_models, target)
        return target
    return _copy


@pytest.fixture
def make_window(qtbot, random_models):
    """Opens MainWindow(s) on the random-weight models; closes them after the test."""
    from agegender.assemble import build_pipeline
    from agegender.config import Settings
    from agegender.gui.window import MainWindow
    from agegender.sources.live import FrameGrabber
    windows = []

    def _make(grabber_factory=FrameGrabber, **overrides):
        settings = Settings(**overrides)
        pipeline, _, provider = build_pipeline(settings, random_models, live=True)  # as the app's launch does
        window = MainWindow(settings, pipeline, provider, grabber_factory=grabber_factory)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window
    yield _make
    for window in windows:
        window.close()


def one_line_error(capsys) -> str:
    """The one line of the error message (a progress bar may have been drawn before it)."""
    err = capsys.readouterr().err
    messages = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("agegender:")]
    assert "Traceback" not in err and len(messages) == 1, err
    return messages[0]


def wait_results(qtbot, window, count, timeout=60000):
    start = window.results_received
    qtbot.waitUntil(lambda: window.results_received >= start + count, timeout=timeout)


def lines_written_so_far(target: Path) -> int:
    """Lines in an output still being written: it grows in a temporary file beside its target
    (`.<name>.<random>.part<suffix>`, see app/output_safety.py) until it is renamed into place."""
    for part in target.parent.glob(f".{target.stem}.*.part{target.suffix}"):
        try:
            return len(part.read_text(encoding="utf-8").splitlines())
        except FileNotFoundError:  # renamed into place meanwhile
            pass
    return len(target.read_text(encoding="utf-8").splitlines()) if target.exists() else 0


def start_agegender(args: list, results: Path, lines: int, timeout_s: float = 120, **env):
    """`python -m agegender ARGS` in a subprocess, returned once its results file (still being written)
    holds `lines` lines; fails the test if the program ends first."""
    import subprocess
    import sys
    import time
    child = subprocess.Popen([sys.executable, "-m", "agegender", *map(str, args)],
                             env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and lines_written_so_far(results) < lines:
        assert child.poll() is None, child.stderr.read().decode()[-800:]
        time.sleep(0.2)
    return child
