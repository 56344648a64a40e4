"""The evaluation per source: one design's figures on hand-made faces, metrics.json's shape, and the report."""
import json

import numpy as np
import pytest

from agegender.vision.buckets import DEFAULT
from agegender.vision.designs import GenderRule, Predictions
from training.evaluate import metrics_by_design, peer_predictions
from training.scoring import SplitFaces, evaluate_design, summary
from training.report import paired_gap, write_report


def one_hot(ages: list[int]) -> np.ndarray:
    distribution = np.zeros((len(ages), 101), np.float32)
    distribution[np.arange(len(ages)), ages] = 1
    return distribution


def faces(source: str = "utkface") -> SplitFaces:
    return SplitFaces(source, ["a", "b", "c", "d"], np.zeros((4, 112, 112, 3), np.uint8), np.array([30, 30, 5, 70]),
                     np.array([1, 0, 1, 0]), np.array([0, 1, 2, 0]) if source == "utkface" else np.zeros(4, int))


def predictions() -> Predictions:
    # ages predicted 30 (right), 40 (10 off, next bucket), 5 (right), 70 (right)
    # P(female) 0.95 right, 0.7 wrong, 0.9 right, 0.2 right; sure at 0.8 unless the estimate is under 12
    return Predictions(one_hot([30, 40, 5, 70]), np.array([0.95, 0.7, 0.9, 0.2], np.float32), DEFAULT,
                       ("male", "female"), GenderRule.uniform(0.8, min_age=12))


def test_one_design_on_one_source_by_hand():
    result = evaluate_design(predictions(), faces())
    figures = summary(result)
    assert figures["gender_accuracy"] == pytest.approx(0.75)
    assert figures["mae_years"] == pytest.approx(2.5)
    assert figures["bucket8_accuracy"] == pytest.approx(0.75)
    assert figures["bucket8_distance"] == pytest.approx(0.25)
    # adults (true age >= 18) are faces 0, 1, 3; sure: 0 and 3 (1 is under the threshold), both right
    assert figures["gender_thresholds"] == [[12.0, 0.8]]
    assert figures["confident_coverage_adults"] == pytest.approx(2 / 3, abs=1e-4)
    assert figures["confident_accuracy_adults"] == pytest.approx(1.0)
    assert result["by_group"]["gender_accuracy"]["White"] == {"n": 2, "value": 1.0}
    assert result["by_group"]["gender_accuracy"]["Black"] == {"n": 1, "value": 0.0}
    assert result["by_age_band"]["mae"]["25-37"] == {"n": 2, "value": pytest.approx(5.0)}


def test_all_age_faces_is_one_group_of_its_own():
    result = evaluate_design(predictions(), faces("aaf"))
    assert list(result["by_group"]["gender_accuracy"]) == ["All-Age-Faces"]


def test_a_peer_without_our_threshold_gets_no_sure_answer_figures():
    figures = summary(evaluate_design(predictions(), faces(), calibrated=False))
    assert "confident_coverage_adults" not in figures and "gender_accuracy" in figures


def test_metrics_json_has_one_entry_per_design_with_every_source():
    result = evaluate_design(predictions(), faces())
    results = {"sources": {"utkface": {"n": 4, "designs": {"multitask": result, "peer: p": result}},
                           "aaf": {"n": 4, "designs": {"multitask": result}}}}
    metrics = metrics_by_design(results)
    assert set(metrics) == {"multitask", "peer: p"}
    assert set(metrics["multitask"]) == {"utkface test", "aaf test"}
    assert set(metrics["peer: p"]) == {"utkface test"}


def test_peer_predictions_only_where_they_cover_every_name(tmp_path):
    path = tmp_path / "peer.json"
    path.write_text(json.dumps({"package": "p 1", "predictions": {"a": {"age": 30, "p_female": 0.9}}}))
    assert peer_predictions(path, ["a", "b"]) is None
    name, found = peer_predictions(path, ["a"])
    assert name == "peer: p 1" and found.expected_age[0] == pytest.approx(30, abs=0.01)


def results_of_two_sources() -> dict:
    mt = evaluate_design(predictions(), faces())
    worse = Predictions(one_hot([40, 40, 20, 40]), np.array([0.4, 0.7, 0.4, 0.6], np.float32), DEFAULT,
                        ("male", "female"), GenderRule.uniform(0.8))
    single = evaluate_design(worse, faces())
    how = {"sources": ["utkface", "aaf"], "batch": 64, "lr": 1e-3, "init": "t.pt", "steps": 3000}
    cost = {"ms_per_batch": {"1": 1.0, "8": 4.0, "32": 10.0}, "size": {"parameters": 1_000_000, "flops": 4e8},
            "training": [how]}
    return {"sources": {source: {"n": 4, "designs": {"multitask": mt, "single": single}}
                        for source in ("utkface", "aaf")},
            "costs": {"multitask": cost, "single": {**cost, "size": {"parameters": 2_000_000, "flops": 8e8},
                                                     "training": [how, how]}}}


def test_report_shows_both_sources_the_winner_and_the_abstention_curve(tmp_path):
    curve = [{"threshold": t, "accuracy": a, "coverage_all": c, "coverage_adults": c, "faces": 10, "ece": 0.02}
             for t, a, c in ((0.5, 0.95, 1.0), (0.7, 0.97, 0.9), (0.9, 0.99, 0.5))]
    families = ("clean", "low_resolution", "detector", "degraded")
    abstention = {name: {"temperature": 1.2, "bands": [[12, 0.9], [20, None]], "floor": 0.85,
                         "test_time_mirror": {"kept": name == "single", "gender_accuracy": 0.004, "mae": 0.02},
                         "just_above_floor_degraded": {"faces": 40, "accuracy": 0.9},
                         "clean": curve[2], "degraded": curve[1], "curve_degraded": curve, "curve_clean": curve,
                         "by_source": {s: {f: curve[1] for f in families} for s in ("utkface", "aaf")}}
                  for name in ("multitask", "single")}
    (tmp_path / "abstention.json").write_text(json.dumps(abstention))
    text = write_report(results_of_two_sources(), tmp_path, runs=tmp_path / "no-runs").read_text()
    assert "### UTKFace test (4 faces)" in text and "### All-Age-Faces test (4 faces)" in text
    # multi-task right on 3 of 4 faces, the pair on none; MAE 2.5 against 16.25 years
    assert "gender accuracy 75.00% against 0.00%: multi-task ahead by 75.00" in text
    assert "MAE 2.50 against 16.25 years: multi-task ahead by 13.75" in text
    assert "0.50× the pair's parameters" in text
    assert "same trunk and recipe: each network 3,000 steps on utkface and aaf" in text
    assert "![Abstention curve](abstention.png)" in text and (tmp_path / "abstention.png").stat().st_size > 0
    assert "| Multi-task | not kept (gender +0.40 pt, MAE 0.020 y lower) | 12+: 0.900, 20+: never | 97.00% / 90.00% |" in text
    assert "| Single-task pair | UTKFace | 97.00% / 90.00% | 97.00% / 90.00% |" in text
    assert "were right 90.00% of 40 (Multi-task)" in text
    assert "No training runs were found" in text
    assert "bucket shown is the one holding the age estimate" in text
    assert "gender-to-age variant" in text


def test_report_draws_no_verdict_between_designs_trained_differently(tmp_path):
    results = results_of_two_sources()
    pair = results["costs"]["single"]
    pair["training"] = [{**pair["training"][0], "sources": ["utkface"], "steps": 1857}, None]
    text = write_report(results, tmp_path, runs=tmp_path / "no-runs").read_text()
    assert "not all trained with the same recipe" in text and "Verdict" not in text
    assert "single: utkface, 1,857 steps" not in text  # one of the pair's networks has no recipe
    assert "recipe not recorded" in text
    assert "0.50× the pair's parameters" in text  # the cost stands whatever the training


def test_report_plots_learning_curves_of_the_runs_present(tmp_path):
    history = {"global_step": 40, "minutes": 3.0, "stopped": None, "train_curve": [[20, 5.0], [40, 4.5]],
               "history": [{"epoch": 1, "by_source": {"utkface": {"mae": 6.0, "gender_acc": 0.9},
                                                      "aaf": {"mae": 7.0, "gender_acc": 0.85}}}]}
    (tmp_path / "runs" / "multitask").mkdir(parents=True)
    (tmp_path / "runs" / "multitask" / "history.json").write_text(json.dumps(history))
    text = write_report(results_of_two_sources(), tmp_path, runs=tmp_path / "runs").read_text()
    assert "| multitask | 40 | 3 | 1 | training | history.json |" in text
    assert "No run in the runs folder read for: age, gender" in text
    assert (tmp_path / "learning_curves.png").stat().st_size > 0


def test_the_gap_between_designs_is_judged_on_paired_differences():
    # the same faces: the pair is wrong exactly where the multi-task network is, plus on one more face
    multitask = np.array([1, 1, 1, 1, 0] * 20)
    pair = np.array([1, 1, 1, 0, 0] * 20)
    gap, se = paired_gap(multitask, pair)
    assert gap == pytest.approx(0.2)
    assert se == pytest.approx(np.std([0, 0, 0, 1, 0] * 20, ddof=1) / np.sqrt(100))


def test_through_the_app_the_shipped_models_find_and_label_real_test_faces():
    from tests.conftest import AAF, UTKFACE, need
    from training import through_app
    need(UTKFACE), need(AAF)
    results = through_app.evaluate(limit=30)
    assert results["settings"]["detector"] == "fast" and set(results["settings"]["precision"]) == {"multitask", "single"}
    for source, part in results["sources"].items():
        assert part["images"] == 30 and part["found"] >= 28, source  # nearly every test photo has its face found
        for design, numbers in part["designs"].items():
            assert numbers["gender_accuracy"] >= 0.75 and numbers["mae_years"] < 10, (source, design, numbers)


def test_report_shows_the_figures_through_the_app(tmp_path):
    results = results_of_two_sources()
    numbers = {"gender_accuracy": 0.9359, "mae_years": 4.45, "bucket8_accuracy": 0.66,
               "confident_coverage_adults": 1.0, "confident_accuracy_adults": 0.9741}
    results["through_app"] = {"settings": {"detector": "fast", "min_face": 20, "precision": {"multitask": "int8"},
                                           "provider": "CPUExecutionProvider"},
                              "sources": {"utkface": {"images": 2076, "found": 2070, "designs": {"multitask": numbers}}}}
    text = write_report(results, tmp_path, runs=tmp_path / "no-runs").read_text()
    assert "## Through the app" in text and "Multi-task INT8" in text
    assert "| UTKFace | Multi-task | 2,070 of 2,076 | 93.59% | 4.45 | 66.00% | 100.00% / 97.41% |" in text


def test_a_candidate_is_better_or_worse_only_beyond_two_paired_standard_errors():
    from training.candidate import compare, compare_source
    always_right, once_wrong = np.ones(100), np.array([1] * 99 + [0])
    assert compare(once_wrong, always_right, higher_is_better=True)["verdict"] == "level"
    assert compare(always_right, np.array([1, 0] * 50), higher_is_better=True)["verdict"] == "worse"
    errors_before, errors_after = np.array([3.0, 5.0] * 50), np.array([2.0, 4.5] * 50)
    row = compare(errors_before, errors_after, higher_is_better=False)
    assert row["verdict"] == "better" and row["gap"] == pytest.approx(-0.75)

    before = evaluate_design(predictions(), faces())
    off_by_ten = Predictions(one_hot([30, 30, 15, 70]), predictions().p_female, DEFAULT, ("male", "female"),
                             GenderRule.uniform(0.8, min_age=12))
    after = evaluate_design(off_by_ten, faces())
    result = compare_source(before, after, faces().ages)
    assert result["paired"]["MAE"]["before"] == pytest.approx(2.5) and result["paired"]["MAE"]["after"] == pytest.approx(2.5)
    assert "MAE 3-9" not in result["paired"]  # one face there: no standard error to judge it by
    assert result["paired"]["MAE 20-39"]["before"] == pytest.approx(5.0)
    assert result["paired"]["MAE 20-39"]["after"] == pytest.approx(0.0)
    assert result["others"]["8-bucket accuracy"] == [0.75, 0.75]


def test_a_retraining_ships_where_it_gains_and_no_headline_figure_is_worse():
    from training.candidate import ships

    def source(**verdicts):
        return {"paired": {name.replace("_", " "): {"verdict": v} for name, v in verdicts.items()}}
    young_better = source(**{"gender_accuracy": "level", "MAE": "level", "MAE 0-2": "better", "MAE 10-19": "better",
                              "MAE 60+": "worse"})
    assert ships({"utkface": young_better, "aaf": source(gender_accuracy="level", MAE="level")})["ships"]
    verdict = ships({"utkface": young_better, "aaf": source(gender_accuracy="level", MAE="worse")})
    assert not verdict["ships"] and verdict["blocking"] == ["aaf MAE"]
    assert not ships({"utkface": source(gender_accuracy="level", MAE="level")})["ships"]  # nothing gained
    old_better = source(**{"gender_accuracy": "level", "MAE": "level", "MAE 60+": "better", "MAE 10-19": "worse",
                           "MAE 40-59": "worse"})
    traded = ships({"utkface": old_better, "aaf": source(gender_accuracy="level", MAE="level")})
    assert not traded["ships"] and traded["better"] == ["utkface MAE 60+"]  # one band bought with two others
    headline_better = source(**{"gender_accuracy": "better", "MAE": "level", "MAE 60+": "worse"})
    assert ships({"aaf": headline_better})["ships"]


def test_the_report_gives_the_childrens_mae_of_each_design(tmp_path):
    text = write_report(results_of_two_sources(), tmp_path, runs=tmp_path / "no-runs").read_text()
    # the one child (5 years) is estimated 5 by the multi-task network and 20 by the other
    assert "- Children (true age 12 or under), UTKFace, 1 face: MAE 0.00 (Multi-task), 15.00 (Single-task pair)." in text



def test_networks_of_the_same_steps_but_other_targets_are_not_taken_for_trained_alike(tmp_path):
    results = results_of_two_sources()
    targets = {"age_sigma": [1.0, 0.05], "l1_weight": 0.1, "repeats": {"under 20": 2}}
    results["costs"]["multitask"]["training"] = [{**results["costs"]["multitask"]["training"][0], "recipe": targets}]
    pair = results["costs"]["single"]
    pair["training"] = [{**how, "recipe": {**targets, "repeats": {"under 20": 2, "60 and over": 2}}}
                        for how in pair["training"]]
    text = write_report(results, tmp_path, runs=tmp_path / "no-runs").read_text()
    assert "not all trained with the same recipe" in text and "Verdict" not in text
    assert "multitask: utkface+aaf, 3,000 steps (age target σ 1 + 0.05·age, under 20 ×2)" in text
    assert "60 and over ×2" in text


def test_networks_of_one_budget_that_stopped_early_at_other_steps_are_trained_alike(tmp_path):
    results = results_of_two_sources()
    budget = {"budget": 6000, "patience": 6}
    results["costs"]["multitask"]["training"] = [{**results["costs"]["multitask"]["training"][0], **budget,
                                                  "steps": 6000}]
    pair = results["costs"]["single"]
    pair["training"] = [{**how, **budget, "steps": steps} for how, steps in zip(pair["training"], (6000, 5291))]
    text = write_report(results, tmp_path, runs=tmp_path / "no-runs").read_text()
    assert "a budget of 6,000 steps, with early stopping after 6 epochs without a lower validation loss" in text
    assert "Steps taken: Multi-task 6,000; Single-task pair 6,000 and 5,291" in text and "Verdict" in text
    pair["training"][1]["budget"] = 3000  # another budget is another recipe
    text = write_report(results, tmp_path, runs=tmp_path / "no-runs").read_text()
    assert "not all trained with the same recipe" in text
