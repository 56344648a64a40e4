"""The PyInstaller build (slow: several minutes). Builds the one-folder application, then runs the
built program headless: `process` on a video, and the window on the offscreen platform until SIGTERM.
Run with: python -m pytest -m slow tests/test_packaging.py"""
import configparser
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, lines_written_so_far

PACKAGING = ROOT / "packaging"


def test_desktop_entry_and_service_unit_are_well_formed():
    desktop = configparser.ConfigParser(interpolation=None)
    desktop.optionxform = str
    desktop.read(PACKAGING / "agegender.desktop")
    entry = desktop["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Exec"].startswith("agegender") and entry["Icon"] == "agegender"
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str
    unit.read(PACKAGING / "agegender-kiosk.service")
    assert unit["Service"]["Restart"] == "on-failure" and "--kiosk" in unit["Service"]["ExecStart"]
    assert unit["Install"]["WantedBy"] == "graphical-session.target"
    assert (ROOT / "assets" / "icon-256.png").exists()


@pytest.mark.slow
def test_built_application_processes_a_video_headless(short_clip, tmp_path):
    pytest.importorskip("PyInstaller", reason="PyInstaller is not installed (pip install pyinstaller)")
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "PyInstaller", str(PACKAGING / "agegender.spec"), "--noconfirm",
                            "--distpath", str(dist), "--workpath", str(tmp_path / "work")],
                           cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stderr[-2000:]
    program = dist / "agegender" / "agegender"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AGEGENDER_MODELS")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    work = tmp_path / "run"
    work.mkdir()  # run away from the checkout: everything must come from the build

    results = work / "r.jsonl"
    done = subprocess.run([str(program), "process", str(short_clip), "--results", str(results)], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(lines) == 12 and any(line["faces"] for line in lines)

    window_results = work / "window.jsonl"
    window = subprocess.Popen([str(program), "--source", str(short_clip), "--results", str(window_results)],
                              cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and lines_written_so_far(window_results) < 3:
        assert window.poll() is None, window.stderr.read().decode()[-2000:]
        time.sleep(0.5)
    window.send_signal(signal.SIGTERM)
    window.communicate(timeout=30)
    assert window.returncode == 130  # closed by SIGTERM: interrupted, outputs saved
    assert len(window_results.read_text().splitlines()) >= 3
