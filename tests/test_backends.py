"""The two inference runtimes read the same files and give the same answers; the choice between them
is made once, said, and refused clearly where it cannot be had."""
import cv2
import numpy as np
import pytest

from agegender.config import ConfigError, Settings
from agegender.errors import ModelError
from agegender.paths import MODELS_DIR
from agegender.vision import runtime
from agegender.vision.align import align_faces
from agegender.vision.designs import load_network
from agegender.vision.detect import MtcnnDetector

openvino = pytest.importorskip("openvino", reason="OpenVINO is not installed here (pip install openvino)")


@pytest.fixture(scope="module")
def crowd_frames(crowd_video):
    capture = cv2.VideoCapture(str(crowd_video))
    frames = []
    for index in range(60):
        ok, image = capture.read()
        if ok and index % 20 == 0:
            frames.append(cv2.resize(image, (1280, 720), interpolation=cv2.INTER_AREA))
    capture.release()
    return frames


def test_the_detector_finds_the_same_faces_on_both_runtimes(crowd_frames):
    """P-Net, R-Net and O-Net, on real crowd frames."""
    on_ort = MtcnnDetector(providers=[runtime.CPU])
    on_openvino = MtcnnDetector(providers=[runtime.OPENVINO])
    assert on_openvino.provider == runtime.OPENVINO
    for image in crowd_frames:
        a, b = on_ort.detect(image), on_openvino.detect(image)
        assert len(a) >= 3 and len(a) == len(b)
        np.testing.assert_allclose(a.boxes, b.boxes, atol=0.05)
        np.testing.assert_allclose(a.landmarks, b.landmarks, atol=0.05)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)


@pytest.mark.parametrize("name", ["multitask.onnx", "age.onnx", "gender.onnx"])
def test_the_shipped_classifiers_give_the_same_outputs_on_both_runtimes(name, crowd_frames):
    faces = MtcnnDetector(providers=[runtime.CPU]).detect(crowd_frames[0])
    on_ort = load_network(MODELS_DIR / name, [runtime.CPU])
    on_openvino = load_network(MODELS_DIR / name, [runtime.OPENVINO])
    assert on_openvino.info == on_ort.info  # the metadata read back through OpenVINO's ONNX reader
    crops = align_faces(crowd_frames[0], faces.landmarks, on_ort.info.input_size)
    a, b = on_ort.run(crops), on_openvino.run(crops)
    for output in a:
        np.testing.assert_allclose(a[output], b[output], atol=2e-4, rtol=1e-4)


def test_auto_prefers_openvino_on_the_cpu_and_onnxruntime_when_asked():
    assert runtime.choose_providers("auto", "auto") == [runtime.OPENVINO]
    assert runtime.choose_providers("cpu", "onnxruntime") == [runtime.CPU]
    assert runtime.choose_providers("cpu", "openvino") == [runtime.OPENVINO]


def test_without_openvino_auto_falls_back_and_an_explicit_request_says_how_to_install(monkeypatch):
    monkeypatch.setattr(runtime, "openvino_available", lambda: False)
    assert runtime.choose_providers("auto", "auto") == [runtime.CPU]
    with pytest.raises(ModelError, match=r"OpenVINO is not installed: pip install"):
        runtime.choose_providers("auto", "openvino")


def test_openvino_on_cuda_is_refused():
    with pytest.raises(ModelError, match="runs on the CPU"):
        runtime.choose_providers("cuda", "openvino")


def test_an_unknown_backend_is_a_settings_error():
    with pytest.raises(ConfigError, match="'backend' must be one of auto, openvino, onnxruntime"):
        Settings(backend="tensorrt")


def test_process_says_the_runtime_it_ran_on(short_clip, random_models, tmp_path, capsys):
    from agegender.commands.cli import main
    assert main(["process", str(short_clip), "--backend", "openvino", "--models", str(random_models)]) == 0
    assert "execution provider: OpenVINO CPU, fp32 detector, fp32 classifiers" in capsys.readouterr().out
    assert main(["process", str(short_clip), "--backend", "onnxruntime", "--models", str(random_models)]) == 0
    assert "execution provider: CPUExecutionProvider" in capsys.readouterr().out


def test_a_damaged_model_is_a_clear_error_on_openvino(tmp_path):
    broken = tmp_path / "multitask.onnx"
    broken.write_bytes((MODELS_DIR / "multitask.onnx").read_bytes()[:5000])
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        load_network(broken, [runtime.OPENVINO])
