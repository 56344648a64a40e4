"""INT8 classifiers: made from real crops, shipped only past the accuracy gate, chosen by the precision setting."""
import json
import shutil

import numpy as np
import onnx
import pytest

from agegender.errors import ModelError
from agegender.vision.designs import choose_precision, int8_copy, load_design

CPU, CUDA = ["CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"]


@pytest.fixture(scope="module")
def quantized_models(random_models, real_crops, tmp_path_factory):
    """The random-weight networks with INT8 copies made by the project's quantiser from real aligned crops."""
    from training.quantize import quantize
    folder = tmp_path_factory.mktemp("int8_models")
    for path in random_models.iterdir():
        (shutil.copytree if path.is_dir() else shutil.copy)(path, folder / path.name)
    calibration = np.concatenate([real_crops] * 4)
    for name in ("multitask.onnx", "age.onnx", "gender.onnx"):
        quantize(folder / name, calibration, int8_copy(folder / name))
    return folder


@pytest.fixture(scope="module")
def real_crops(group_photo):
    import cv2
    from agegender.vision.align import align_faces
    from agegender.vision.detect import MtcnnDetector
    image = cv2.imread(str(group_photo))
    return align_faces(image, MtcnnDetector().detect(image).landmarks, 112)


def test_auto_takes_int8_on_the_cpu_only_where_every_network_has_a_copy(quantized_models, random_models):
    paths = [quantized_models / "age.onnx", quantized_models / "gender.onnx"]
    assert choose_precision(paths, "auto", CPU) == "int8"
    assert choose_precision(paths, "auto", ["OpenVINO CPU"]) == "int8"  # (no BF16 verdicts in this folder)
    assert choose_precision(paths, "auto", CUDA) == "fp32"
    assert choose_precision(paths, "fp32", CPU) == "fp32"
    int8_copy(paths[1]).rename(paths[1].with_suffix(".hidden"))
    try:
        assert choose_precision(paths, "auto", CPU) == "fp32"  # half a pair is not the pair
        with pytest.raises(ModelError, match="no INT8 copy gender.int8.onnx"):
            choose_precision(paths, "int8", CPU)
    finally:
        paths[1].with_suffix(".hidden").rename(int8_copy(paths[1]))
    assert choose_precision([random_models / "multitask.onnx"], "auto", CPU) == "fp32"


def test_the_int8_copy_keeps_the_description_and_answers_like_its_fp32_self(quantized_models, real_crops):
    meta = {p.key: json.loads(p.value) for p in onnx.load(str(quantized_models / "multitask.int8.onnx")).metadata_props}
    assert meta["precision"] == "int8" and meta["design"] == "multitask" and meta["template_id"]
    fp32 = load_design("multitask", quantized_models, precision="fp32").predict(real_crops)
    int8_design = load_design("multitask", quantized_models, precision="int8")
    assert int8_design.precision == "int8"
    int8 = int8_design.predict(real_crops)
    assert np.abs(int8.p_female - fp32.p_female).max() < 0.1
    assert np.abs(int8.expected_age - fp32.expected_age).max() < 3


def test_the_gate_holds_back_a_copy_that_loses_accuracy_or_is_not_faster():
    from training.quantize import gate
    fp32 = {"utkface": {"gender_accuracy": 0.950, "mae": 4.00}, "aaf": {"gender_accuracy": 0.920, "mae": 6.00}}
    close = {"utkface": {"gender_accuracy": 0.948, "mae": 4.09}, "aaf": {"gender_accuracy": 0.918, "mae": 6.05}}
    assert gate(fp32, close, fp32_ms=40, int8_ms=20) == []
    worse = {**close, "aaf": {"gender_accuracy": 0.915, "mae": 6.2}}
    reasons = gate(fp32, worse, fp32_ms=40, int8_ms=20)
    assert len(reasons) == 2 and all(r.startswith("aaf:") for r in reasons)
    assert gate(fp32, close, fp32_ms=20, int8_ms=21) == ["not faster: 21.0 against 20.0 ms for 8 crops"]


def test_the_gate_holds_back_a_copy_whose_sure_answers_break_the_calibrated_promise():
    from training.quantize import gate
    fp32 = {"aaf": {"gender_accuracy": 0.92, "sure_accuracy": 0.975, "sure_coverage": 0.80}}
    same = {"aaf": {"gender_accuracy": 0.92, "sure_accuracy": 0.973, "sure_coverage": 0.79}}
    assert gate(fp32, same, fp32_ms=40, int8_ms=20) == []
    overconfident = {"aaf": {"gender_accuracy": 0.92, "sure_accuracy": 0.960, "sure_coverage": 0.85}}
    assert gate(fp32, overconfident, 40, 20) == ["aaf: sure answers right 96.00% against 97.50%"]
    timid = {"aaf": {"gender_accuracy": 0.92, "sure_accuracy": 0.98, "sure_coverage": 0.70}}
    assert gate(fp32, timid, 40, 20) == ["aaf: sure answers cover 70.0% against 80.0%"]


def test_sure_answers_leave_out_faces_the_network_puts_under_twelve_as_the_app_does():
    from types import SimpleNamespace
    from training.quantize import quality
    info = SimpleNamespace(gender_thresholds=((12.0, 0.5),), gender_temperature=1.0)  # every answer from 12 is sure
    genders = np.array([1, 1, 0, 0])
    gender_logit = np.array([3.0, -3.0, -3.0, 3.0])  # right, wrong, right, wrong
    age_logits = np.full((4, 101), -30.0)
    age_logits[np.arange(4), [30, 5, 40, 8]] = 30.0  # the wrong answers are on faces put at 5 and 8 years
    multitask = quality({"gender_logit": gender_logit, "age_logits": age_logits}, np.array([30, 5, 40, 8]),
                        genders, info)
    assert multitask["gender_accuracy"] == 0.5
    assert (multitask["sure_accuracy"], multitask["sure_coverage"]) == (1.0, 0.5)
    # a gender network alone reads the age of the network it is paired with
    paired = quality({"gender_logit": gender_logit}, np.zeros(4), genders, info, partner_age=np.array([30, 5, 40, 8]))
    assert (paired["sure_accuracy"], paired["sure_coverage"]) == (1.0, 0.5)
    assert "sure_accuracy" not in quality({"gender_logit": gender_logit}, np.zeros(4), genders, info)


def test_each_plan_keeps_more_of_the_network_in_float(random_models):
    from training.quantize import PLANS, kept_in_float
    graph = onnx.load(str(random_models / "multitask.onnx")).graph
    kinds = {node.name: node for node in graph.node}
    kept = {plan: set(kept_in_float(graph, plan)) for plan in PLANS}
    assert kept["heads"] < kept["depthwise"] < kept["ends"]
    assert {kinds[name].op_type for name in kept["heads"]} <= {"Gemm", "MatMul"}
    depthwise = kept["depthwise"] - kept["heads"]
    assert depthwise and all(kinds[n].op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in kinds[n].attribute)
                             for n in depthwise)
    convs = [node.name for node in graph.node if node.op_type == "Conv"]
    assert {convs[0], convs[-1]} <= kept["ends"]


def test_a_pair_network_whose_partner_failed_ships_no_copy_of_its_own(tmp_path):
    from training.quantize import withdraw_lone_copies
    (tmp_path / "age.int8.onnx").write_bytes(b"passed")
    verdicts = {"age.onnx": {"shipped": True, "plan": "ends"}, "gender.onnx": {"shipped": False},
                "multitask.onnx": {"shipped": True, "plan": "ends"}}
    withdraw_lone_copies(tmp_path, verdicts)
    assert not (tmp_path / "age.int8.onnx").exists() and not verdicts["age.onnx"]["shipped"]
    assert "gender.onnx has no INT8 copy" in verdicts["age.onnx"]["withdrawn"]
    assert verdicts["multitask.onnx"] == {"shipped": True, "plan": "ends"}
    both = {"age.onnx": {"shipped": True, "plan": "ends"}, "gender.onnx": {"shipped": True, "plan": "ends"}}
    withdraw_lone_copies(tmp_path, both)
    assert both["age.onnx"]["shipped"] and both["gender.onnx"]["shipped"]


def test_a_trained_network_takes_percentile_ranges_and_keeps_its_answers(real_crops, tmp_path):
    from agegender.paths import MODELS_DIR
    from training.quantize import quantize
    shipped = MODELS_DIR / "multitask.onnx"
    copy = tmp_path / "multitask.int8.onnx"
    assert quantize(shipped, np.concatenate([real_crops] * 4), copy, plan="ends") == "percentile"
    fp32 = load_design("multitask", MODELS_DIR, precision="fp32").predict(real_crops)
    shutil.copy(shipped, tmp_path / "multitask.onnx")
    int8 = load_design("multitask", tmp_path, precision="int8").predict(real_crops)
    assert np.abs(int8.p_female - fp32.p_female).max() < 0.1
    assert np.abs(int8.expected_age - fp32.expected_age).max() < 3
