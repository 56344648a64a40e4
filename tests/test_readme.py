"""The README's set-up commands are the ones CI runs."""
from tests.conftest import ROOT


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    install = next(line for line in ci.splitlines() if line.startswith("python3 -m venv"))
    assert f"{install} && python -m pytest" in readme
    assert "python -m pytest\n" in ci


def test_the_readme_python_example_runs(group_photo, crowd_video, tmp_path):
    import re
    import subprocess
    import sys
    readme = (ROOT / "README.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", readme, re.S)
    annotated = tmp_path / "annotated.jpg"
    example = (example.replace('"photo.jpg"', repr(str(group_photo))).replace('"video.mp4"', repr(str(crowd_video)))
               .replace('"annotated.jpg"', repr(str(annotated))))
    done = subprocess.run([sys.executable, "-c", example], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 6 + 50  # the group photo's six faces, then one line per tracked frame
    assert all(re.search(r"~\d+ y (male|female|\?) P\(female\) [01]\.\d\d$", line) for line in lines[:6])
    assert lines[6].startswith("0.00 s [(") and lines[-1].startswith("1.96 s [(")  # its frames at 25 a second
    import cv2
    drawn, photo = cv2.imread(str(annotated)), cv2.imread(str(group_photo))
    changed = cv2.absdiff(drawn, photo).max(axis=2) > 60  # far beyond what saving as JPEG changes (1 pixel)
    assert drawn.shape == photo.shape and changed.sum() > 2000  # the photo with six faces' boxes and labels


def test_the_readme_first_commands_run_on_files_that_ship(tmp_path, monkeypatch):
    """The first command finds the faces of the drawn sample; the kiosk's settings file is there."""
    import json
    import re
    import shlex
    from agegender.commands.cli import main
    from agegender.config import load_settings
    readme = (ROOT / "README.md").read_text()
    command = shlex.split(next(line for line in readme.splitlines() if line.startswith("agegender process ")))
    monkeypatch.chdir(tmp_path)  # its outputs go here; its input is the checkout's
    assert main([str(ROOT / arg) if arg.startswith("assets/") else arg for arg in command[1:]]) == 0
    (line,) = (tmp_path / "faces.jsonl").read_text().splitlines()
    faces = json.loads(line)["faces"]
    answers = [face["designs"]["multitask"] for face in faces]
    assert len(faces) == 2 and all(face["score"] > 0.9 for face in faces)
    assert all(answer["age_bucket"] and answer["gender"] in ("female", "male") for answer in answers)
    assert (tmp_path / "annotated.jpg").stat().st_size > 0
    (config,) = set(re.findall(r"agegender --kiosk --config (\S+?)`", readme))
    assert load_settings(ROOT / config).kiosk
