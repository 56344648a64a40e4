"""`python -m training` goes on where it stopped: a stage is done while nothing before it was redone since."""
import json
import os

import numpy as np
import pytest

import training.__main__ as runner
from training import crops
from training.degrade import RECIPE_VERSION, degraded_path


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """A crop cache, three finished training runs and the degraded validation faces, written an hour ago,
    in a folder of their own."""
    monkeypatch.setenv("AGEGENDER_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(crops, "CACHE_DIR", tmp_path / "cache")
    an_hour_ago = max(os.path.getmtime(path) for path in runner.SPLITS_DIR.glob("*.txt")) + 10
    written = runner.crop_caches()  # in tmp_path / "cache", as CACHE_DIR now is
    written += [tmp_path / "runs" / design / "history.json" for design in runner.DESIGNS]
    written.append(degraded_path(tmp_path / "cache"))
    for path in written:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".npz":
            np.savez(path, recipe_version=RECIPE_VERSION)
        else:
            path.write_text(json.dumps({"stopped": "all epochs done"}) if path.name == "history.json" else "")
        os.utime(path, (an_hour_ago, an_hour_ago))
    return tmp_path, an_hour_ago


def test_the_stages_after_training_are_done_only_if_recorded_after_it(folders):
    _, trained_at = folders
    assert runner.done_stages({}) == {"splits", "crops", "train", "degrade"}
    after = {"export": trained_at + 1, "quantize": trained_at + 2, "evaluate": trained_at + 3}
    assert runner.done_stages(after) == {"splits", "crops", "train", "degrade", "export", "quantize", "evaluate"}
    before = {**after, "export": trained_at - 100}  # exported from an earlier training: everything after is due
    assert runner.done_stages(before) == {"splits", "crops", "train", "degrade"}


def test_a_paused_training_is_not_done_nor_anything_after_it(folders):
    tmp_path, trained_at = folders
    (tmp_path / "runs" / "gender" / "history.json").write_text(json.dumps({"stopped": None}))
    assert runner.done_stages({"export": trained_at + 1}) == {"splits", "crops"}


def test_list_and_from_say_what_would_run(folders, capsys):
    tmp_path, trained_at = folders
    (tmp_path / "runs" / "stages.json").write_text(json.dumps({"export": trained_at + 1, "quantize": trained_at + 2}))
    assert runner.main(["--list"]) == 0
    listed = [(line[:6].strip(), line[8:].split()[0]) for line in capsys.readouterr().out.splitlines()]
    assert [name for _, name in listed] == [stage.name for stage in runner.STAGES]
    assert [name for status, name in listed if status == "done"] == ["splits", "crops", "train", "degrade", "export",
                                                                      "quantize"]
    assert runner.main(["--from", "export", "--list"]) == 0
    out = capsys.readouterr().out
    assert "  done  train" in out and " to do  export" in out and " to do  quantize" in out


def test_degraded_faces_of_an_earlier_recipe_are_made_again(folders):
    tmp_path, an_hour_ago = folders
    np.savez(degraded_path(tmp_path / "cache"), recipe_version=RECIPE_VERSION - 1)
    assert "degrade" not in runner.done_stages({})
