"""Which precision runs: BF16 only on OpenVINO, only natively, and for "auto" only where the network's
gated verdict is current; FP32 otherwise, said once where BF16 was asked for and cannot be had."""
import hashlib
import json
import shutil

import cv2
import pytest

from agegender.commands.bench.detection import gate
from agegender.paths import MODELS_DIR
from agegender.vision import precision
from agegender.vision.designs import choose_precision, int8_copy, load_design
from agegender.vision.detect import MTCNN_STAGES, MtcnnDetector
from agegender.vision.precision import BF16_VERDICTS, bf16_native, float_precision
from agegender.vision.runtime import CPU, OPENVINO

openvino = pytest.importorskip("openvino", reason="OpenVINO is not installed here (pip install openvino)")
native = pytest.mark.skipif(not bf16_native(), reason="this CPU does not compute in BF16 natively")


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_verdicts(folder, passed: dict, ms_for_8: dict | None = None) -> None:
    verdicts = {name: {"passed": ok, "model_sha256": sha256(folder / name)} for name, ok in passed.items()}
    for name, ms in (ms_for_8 or {}).items():
        verdicts[name]["ms_for_8"] = ms
        verdicts[name]["int8_sha256"] = sha256(int8_copy(folder / name))
    (folder / BF16_VERDICTS).write_text(json.dumps(verdicts))


@pytest.fixture
def models(random_models, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(random_models, folder)
    return folder


def test_bf16_asked_for_on_onnx_runtime_falls_back_to_fp32_with_one_line(models, caplog):
    assert float_precision("bf16", [CPU], models, ["multitask.onnx"]) == "fp32"
    assert "running FP32" in caplog.text
    assert load_design("multitask", models, providers=[CPU], precision="bf16").precision == "fp32"


@native
def test_auto_takes_bf16_only_where_a_current_verdict_passed(models):
    assert float_precision("auto", [OPENVINO], models, ["multitask.onnx"]) == "fp32"  # no verdicts at all
    write_verdicts(models, {"multitask.onnx": True, "age.onnx": True, "gender.onnx": False})
    assert load_design("multitask", models, providers=[OPENVINO]).precision == "bf16"
    assert load_design("single", models, providers=[OPENVINO]).precision == "fp32"  # the pair runs alike
    assert float_precision("auto", [CPU], models, ["multitask.onnx"]) == "fp32"  # ONNX Runtime: never
    (models / "multitask.onnx").write_bytes((models / "age.onnx").read_bytes())  # "retrained": verdict stale
    assert float_precision("auto", [OPENVINO], models, ["multitask.onnx"]) == "fp32"


def test_auto_runs_the_int8_copies_where_the_verdicts_timed_them_faster_than_bf16(models, monkeypatch):
    monkeypatch.setattr(precision, "bf16_native", lambda: True)  # the choice, on any CPU
    paths = [models / "age.onnx", models / "gender.onnx"]
    for path in paths:  # the choice reads whether a copy ships and which copy was timed, not how it was made
        shutil.copy(path, int8_copy(path))
    passed = {"age.onnx": True, "gender.onnx": True}
    write_verdicts(models, passed, {name: {"fp32": 24.0, "bf16": 14.0, "int8": 9.0} for name in passed})
    assert choose_precision(paths, "auto", [OPENVINO]) == "int8"
    assert choose_precision(paths, "bf16", [OPENVINO]) == "bf16"  # as asked
    write_verdicts(models, passed, {"age.onnx": {"bf16": 14.0, "int8": 9.0}, "gender.onnx": {"bf16": 9.0, "int8": 16.0}})
    assert choose_precision(paths, "auto", [OPENVINO]) == "bf16"  # the pair's time together
    write_verdicts(models, passed, {name: {"bf16": 14.0, "int8": 9.0} for name in passed})
    int8_copy(paths[0]).write_bytes((models / "multitask.onnx").read_bytes())  # quantised again: timing stale
    assert choose_precision(paths, "auto", [OPENVINO]) == "bf16"
    write_verdicts(models, passed)  # verdicts that never timed the copies: BF16 first, as before
    assert choose_precision(paths, "auto", [OPENVINO]) == "bf16"


@native
def test_the_detector_in_bf16_finds_the_faces_fp32_finds(crowd_video):
    capture = cv2.VideoCapture(str(crowd_video))
    frames = [cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2RGB) for _ in range(30)][::10]
    capture.release()
    fp32 = MtcnnDetector(providers=[OPENVINO], precision="fp32")
    bf16 = MtcnnDetector(providers=[OPENVINO], precision="bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    checked = gate([bf16.detect_rgb(f) for f in frames], [fp32.detect_rgb(f) for f in frames])
    assert checked["passed"] and checked["faces"] >= 15, checked


def test_the_shipped_bf16_verdicts_are_of_the_shipped_networks():
    verdicts_path = MODELS_DIR / BF16_VERDICTS
    if not verdicts_path.is_file():
        pytest.skip("no BF16 verdicts ship (python -m training.bf16 writes them)")
    verdicts = json.loads(verdicts_path.read_text())
    expected = {"multitask.onnx", "age.onnx", "gender.onnx", *(f"mtcnn/{stage}.onnx" for stage in MTCNN_STAGES)}
    assert set(verdicts) == expected
    for name, verdict in verdicts.items():
        assert verdict["model_sha256"] == sha256(MODELS_DIR / name), name
        if "int8_sha256" in verdict:  # the INT8 copy timed beside it is the one shipped
            assert verdict["int8_sha256"] == sha256(int8_copy(MODELS_DIR / name)), name
        assert verdict["passed"] == (not verdict["reasons"])
