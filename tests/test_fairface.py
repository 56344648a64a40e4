"""FairFace as a training source: labels with age ranges, the stored stratified split, the interval loss that
trains age on a range, and the per-source sampling weights."""
from collections import Counter

import numpy as np
import pytest

from tests.conftest import SHARED, need

FAIRFACE = SHARED / "datasets" / "fairface"


def test_age_groups_become_ranges():
    from training.fairface import age_range
    assert age_range("0-2") == (0, 2) and age_range("20-29") == (20, 29) and age_range("70+") == (70, 100)


def test_stored_split_matches_the_data_and_holds_every_group_of_both_genders():
    need(FAIRFACE)
    from training.fairface import AGE_GROUPS, load_labels, make_split
    from training.utkface import read_split
    samples, skipped = load_labels(FAIRFACE)
    assert len(samples) == 6539 and not skipped
    stored = read_split(prefix="fairface")
    assert make_split(samples) == stored
    assert [len(stored[p]) for p in ("train", "val", "test")] == [4577, 981, 981]
    by_name = {s.name: s for s in samples}
    cells = Counter((by_name[n].age_range, by_name[n].gender) for n in stored["val"])
    assert len(cells) == 2 * len(AGE_GROUPS) and min(cells.values()) >= 20


def test_the_interval_loss_rewards_mass_inside_the_range():
    torch = pytest.importorskip("torch", reason="the recipe is PyTorch (the train extra)")
    from training.recipe import age_loss
    inside, outside = torch.full((1, 101), -10.0), torch.full((1, 101), -10.0)
    inside[0, 20:30] = 5.0  # all mass on 20-29
    outside[0, 40:50] = 5.0
    ranges, ages = torch.tensor([[20, 29]]), torch.tensor([25])
    assert age_loss(inside, ages, age_ranges=ranges) < 1e-3
    assert age_loss(outside, ages, age_ranges=ranges) > 10
    spread = torch.full((1, 101), -10.0)
    spread[0, 20:30] = 5.0
    spread[0, 21] = 0.0  # some mass moved within the range costs nothing more: only the range is known
    assert abs(float(age_loss(spread, ages, age_ranges=ranges)) - float(age_loss(inside, ages, age_ranges=ranges))) < 1e-3
    exact = torch.tensor([[25, 25]])  # an exact age keeps the exact-age loss, which wants the mass at 25
    assert age_loss(spread, ages, age_ranges=exact) > age_loss(spread, ages, age_ranges=ranges) + 0.5


def test_each_source_is_shown_as_often_as_its_weight():
    pytest.importorskip("torch", reason="the recipe is PyTorch (the train extra)")
    from training.recipe import epoch_order
    ages = np.full(3000, 30)
    sources = np.array(["utkface"] * 1000 + ["aaf"] * 1000 + ["fairface"] * 1000)
    order = epoch_order(ages, np.random.default_rng(0), sources, {"utkface": 1, "aaf": 0.5, "fairface": 2.5})
    shown = Counter(sources[order])
    assert shown["utkface"] == 1000 and 2400 < shown["fairface"] < 2600 and 400 < shown["aaf"] < 600
    assert len(set(order[sources[order] == "utkface"])) == 1000


def test_the_shipped_models_are_scored_on_fairface_through_the_app_by_age_group_and_race():
    need(FAIRFACE)
    pytest.importorskip("sklearn", reason="the metrics are scikit-learn's (the train extra)")
    from training.through_app import evaluate
    result = evaluate(limit=12, sources=("fairface",), part="val", details=True)["sources"]["fairface"]
    assert result["part"] == "val" and result["images"] == 12 and 9 <= result["found"] <= 12
    for design in ("multitask", "single"):
        scores = result["designs"][design]
        assert "mae_years" not in scores  # FairFace's ages are ranges: no MAE
        assert 0 <= scores["age_group_accuracy"] <= scores["age_group_one_off_accuracy"] <= 1
        assert 0.5 <= scores["gender_accuracy"] <= 1
        races = scores["by_group"]["gender_accuracy"]
        assert set(races) <= {"White", "Black", "East Asian", "Southeast Asian", "Indian", "Middle Eastern",
                              "Latino_Hispanic"} and sum(r["n"] for r in races.values()) == result["found"]
