"""UTKFace loading, de-duplication, the split, and a smoke training run that the app can load."""
import numpy as np
import pytest

from tests.conftest import UTKFACE, need
from training.utkface import IndexReport, Sample, deduplicate, make_split, parse_name, read_split


@pytest.mark.parametrize("name, expected", [
    ("25_1_3_20170119171418357.jpg.chip.jpg", Sample("25_1_3_20170119171418357.jpg.chip.jpg", 25, 1, 3)),
    ("28_1_2_201701161846515488.jpg.chip.jpg", Sample("28_1_2_201701161846515488.jpg.chip.jpg", 28, 1, 2)),
    ("39_1_20170116174525125.jpg.chip.jpg", None),  # no race field
    ("55_0_0_20170116232725357jpg.chip.jpg", None),  # missing dot
    ("61_1_0_20170109142408075 .jpg.chip.jpg", None),  # space before .jpg
    ("0_0_0_20170109142408075.jpg.chip.jpg", None),  # age out of range
    ("30_2_0_20170109142408075.jpg.chip.jpg", None),  # gender out of range
    ("notes.txt", None),
])
def test_label_parsing(name, expected):
    assert parse_name(name) == expected


def test_deduplication_keeps_one_and_drops_conflicting_groups():
    samples = [Sample("a", 30, 0, 0), Sample("b", 30, 0, 0), Sample("c", 40, 1, 0), Sample("d", 41, 1, 0),
               Sample("e", 50, 1, 1)]
    digests = {"a": "x", "b": "x", "c": "y", "d": "y", "e": "z"}
    report = IndexReport()
    kept = deduplicate(samples, digests, report)
    assert [s.name for s in kept] == ["a", "e"]
    assert (report.duplicate_groups, report.conflicting_groups_dropped, report.duplicates_removed) == (2, 1, 3)


def test_split_is_reproducible_and_stratified():
    rng = np.random.default_rng(0)
    samples = [Sample(f"{i}", int(rng.integers(1, 90)), int(rng.integers(0, 2)), 0) for i in range(2000)]
    first, second = make_split(samples), make_split(list(reversed(samples)))
    assert first == second
    assert [len(first[k]) for k in ("train", "val", "test")] == [1600, 200, 200]
    assert not set(first["train"]) & set(first["test"])


def test_stored_split_matches_the_data():
    need(UTKFACE)
    from training.utkface import load_index
    samples, report = load_index(UTKFACE)
    assert len(report.malformed) == 4
    assert make_split(samples) == read_split()


def test_smoke_training_exports_a_model_the_app_runs(tmp_path, monkeypatch):
    need(UTKFACE)
    from agegender.vision.designs import load_design
    from training.crops import build_cache
    from training.export import export_network
    from training.train import Config, build_model, train
    import torch

    from training import recipe
    from training.trunks import TRUNKS
    size = TRUNKS[recipe.TRUNK].input_size  # crops of the recipe's trunk's input size
    split = read_split()
    names = split["train"][:256] + split["val"][:256]  # --limit takes that many of each
    build_cache(sorted(names), UTKFACE, "utkface", size, cache_dir=tmp_path / "cache")
    config = dict(design="multitask", epochs=1, batch=32, limit=256, warmup_steps=2, sources=("utkface",))
    paused = train(Config(**config, max_minutes=0), tmp_path / "run", cache_dir=tmp_path / "cache")
    assert paused["stopped"] is None and paused["global_step"] == 1  # paused by the time limit, resumable
    with monkeypatch.context() as changed:  # the code's recipe changed since the run started: no mixing
        changed.setattr(recipe, "YOUNG_REPEATS", recipe.YOUNG_REPEATS + 1)
        with pytest.raises(SystemExit, match="would mix the two"):
            train(Config(**config), tmp_path / "run", cache_dir=tmp_path / "cache")
    state = train(Config(**config), tmp_path / "run", cache_dir=tmp_path / "cache")
    from training.recipe import YOUNG_AGE, YOUNG_REPEATS
    from training.utkface import parse_name
    young = sum(parse_name(name).age < YOUNG_AGE for name in split["train"][:256])
    assert young > 0 and state["global_step"] == (256 + (YOUNG_REPEATS - 1) * young) // 32  # one epoch in all
    assert state["stopped"] == "all epochs done" and len(state["history"]) == 1
    assert set(state["history"][0]["by_source"]) == {"utkface"} and state["train_curve"]
    from training.export import recipe as recorded_recipe
    assert recorded_recipe(tmp_path / "run" / "last.pt")["recipe"] == recipe.describe()
    model = build_model("multitask")
    model.load_state_dict(torch.load(tmp_path / "run" / "best.pt", weights_only=False)["model"])
    models = tmp_path / "models"
    export_network(model, "multitask", models / "multitask.onnx")
    crops = np.load(tmp_path / "cache" / f"utkface_{size}.npy")[:8][..., ::-1]
    predictions = load_design("multitask", models).predict(np.ascontiguousarray(crops))
    assert len(predictions) == 8 and np.all(np.isfinite(predictions.expected_age))
