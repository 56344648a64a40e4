"""Gender calibration: the temperature fit, the threshold choice, and the metadata the app reads back."""
import shutil

import numpy as np

from agegender.vision.designs import load_design, load_network, sigmoid
from tests.conftest import ROOT
from training.calibrate import abstention_curve, choose_threshold, fit_temperature, write_gender_calibration


def test_the_fit_recovers_the_temperature_that_made_the_labels():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 3, 20000)
    genders = (rng.random(20000) < sigmoid(true_logits)).astype(int)
    overconfident = true_logits * 2.5  # what the network says: too sure by a factor of 2.5
    assert abs(fit_temperature(overconfident, genders) - 2.5) < 0.15


def test_the_threshold_is_the_lowest_from_which_sure_answers_stay_right_enough():
    rng = np.random.default_rng(1)
    p_female = rng.random(5000)
    # right with the probability the model gives: only confident answers reach 97%
    genders = (rng.random(5000) < p_female).astype(int)
    ages = np.full(5000, 30)
    curve = abstention_curve(p_female, genders, ages, ages, min_age=12)
    chosen = choose_threshold(curve)
    assert 0.93 <= chosen["threshold"] <= 0.99
    assert all(point["accuracy"] >= 0.97 for point in curve if point["threshold"] >= chosen["threshold"])
    assert chosen["coverage_adults"] < 0.2


def test_children_are_never_counted_as_sure():
    p_female = np.array([0.99, 0.99])
    curve = abstention_curve(p_female, np.array([1, 1]), np.array([30.0, 6.0]), np.array([30, 6]), min_age=12)
    assert curve[0]["coverage_all"] == 0.5


def test_shipped_networks_carry_their_calibration_and_the_app_applies_it(tmp_path):
    for name in ("multitask.onnx", "gender.onnx"):
        info = load_network(ROOT / "models" / name).info
        assert 0.5 <= info.gender_threshold < 1 and 0.25 <= info.gender_temperature <= 8
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models", models)
    crops = np.random.default_rng(0).integers(0, 256, (4, 112, 112, 3), dtype=np.uint8)
    logit = load_network(models / "multitask.onnx").run(crops)["gender_logit"]
    info = load_network(models / "multitask.onnx").info
    write_gender_calibration(models / "multitask.onnx", info.gender_temperature, info.gender_threshold)
    assert (models / "multitask.int8.onnx").exists()  # the same calibration again: its INT8 copy stays valid
    write_gender_calibration(models / "multitask.onnx", temperature=3.0, threshold=0.8)
    assert not (models / "multitask.int8.onnx").exists()  # gated under the old calibration: removed
    design = load_design("multitask", models)
    assert design.precision == "fp32" and design.gender_rule.threshold == 0.8
    np.testing.assert_allclose(design.predict(crops).p_female, sigmoid(logit / 3.0), rtol=1e-5)
