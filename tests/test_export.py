"""PyTorch and ONNX Runtime agree on the same crops, through the real export path."""
import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the train extra (torch)")

from agegender.vision.align import align_faces  # noqa: E402
from agegender.vision.designs import load_network  # noqa: E402
from training.export import export_network  # noqa: E402
from training.recipe import to_tensor  # noqa: E402
from training.train import build_model  # noqa: E402


@pytest.fixture(scope="module")
def group_landmarks(detector, group_photo):
    image = cv2.imread(str(group_photo))
    return image, detector.detect(image).landmarks


@pytest.fixture(scope="module")
def real_crops(group_landmarks):
    return align_faces(*group_landmarks, 112)


@pytest.mark.parametrize("trunk", ["mobilefacenet", "faceres"])
@pytest.mark.parametrize("design", ["multitask", "age", "gender"])
def test_pytorch_and_onnx_runtime_agree(design, trunk, group_landmarks, tmp_path):
    from training.trunks import TRUNKS
    torch.manual_seed(1)
    model = build_model(design, trunk).eval()
    path = export_network(model, design, tmp_path / f"{design}.onnx")
    network = load_network(path)
    assert network.info.input_size == TRUNKS[trunk].input_size  # the file says what crops it takes
    real_crops = align_faces(*group_landmarks, network.info.input_size)
    onnx_out = network.run(real_crops)
    with torch.no_grad():
        torch_out = model(to_tensor(real_crops[..., ::-1]))  # crops are BGR; the recipe is RGB
    torch_out = torch_out if isinstance(torch_out, tuple) else (torch_out,)
    for name, expected in zip(network.expected_outputs, torch_out):
        np.testing.assert_allclose(onnx_out[name], expected.numpy(), rtol=1e-3, atol=1e-4)


def test_mtcnn_export_matches_the_shipped_files(tmp_path):
    import importlib.util
    if importlib.util.find_spec("facenet_pytorch") is None:
        pytest.skip("facenet-pytorch (pip install --no-deps facenet-pytorch) provides the MTCNN weights")
    from training.export_mtcnn import export_all
    import onnxruntime as ort
    export_all(tmp_path)
    x = np.random.default_rng(0).uniform(0, 255, (3, 48, 48, 3)).astype(np.float32)
    from agegender.paths import MTCNN_DIR
    ours = ort.InferenceSession(str(tmp_path / "onet.onnx")).run(None, {"pixels": x})
    shipped = ort.InferenceSession(str(MTCNN_DIR / "onet.onnx")).run(None, {"pixels": x})
    for a, b in zip(ours, shipped):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_shipping_the_same_weights_again_keeps_the_int8_copy_and_other_weights_remove_it(real_crops, tmp_path):
    import json
    import onnx
    from agegender.vision.designs import int8_copy
    from training.export import ship
    from training.quantize import quantize
    torch.manual_seed(1)
    model = build_model("multitask", "mobilefacenet").eval()  # 112 x 112, as real_crops
    path = tmp_path / "multitask.onnx"
    ship(model, "multitask", path)
    calibrated = onnx.load(str(path))  # as training.calibrate leaves it
    calibrated.metadata_props.add(key="gender_temperature", value="1.1")
    calibrated.metadata_props.add(key="gender_thresholds", value="[[12, 0.95], [20, 0.86]]")
    calibrated.metadata_props.add(key="test_time_mirror", value="true")
    onnx.save(calibrated, str(path))
    quantize(path, np.concatenate([real_crops] * 4), int8_copy(path))
    ship(model, "multitask", path, {"utkface": {"mae": 4.4}})  # only the test metrics are new
    for shipped in (path, int8_copy(path)):  # the calibration of these weights holds in both files
        meta = {p.key: json.loads(p.value) for p in onnx.load(str(shipped)).metadata_props}
        assert (meta["gender_temperature"], meta["gender_thresholds"], meta["test_time_mirror"]) == \
            (1.1, [[12, 0.95], [20, 0.86]], True)
        assert meta["test_metrics"] == {"utkface": {"mae": 4.4}}
    assert meta["precision"] == "int8"
    torch.manual_seed(2)
    ship(build_model("multitask", "mobilefacenet").eval(), "multitask", path)
    assert not int8_copy(path).exists()
    assert not {p.key for p in onnx.load(str(path)).metadata_props} & {"gender_temperature", "gender_thresholds",
                                                                       "test_time_mirror"}


def test_a_pair_network_that_loses_its_int8_copy_takes_its_partners_with_it(tmp_path):
    from agegender.vision.designs import int8_copy
    from training.quantize import withdraw_lone_copies
    for name in ("age.onnx", "gender.onnx"):
        int8_copy(tmp_path / name).write_bytes(b"stand-in for a quantised copy")
    withdraw_lone_copies(tmp_path)
    assert int8_copy(tmp_path / "gender.onnx").exists()  # both present: both stay
    int8_copy(tmp_path / "age.onnx").unlink()  # as ship() does when the age network's weights change
    withdraw_lone_copies(tmp_path)
    assert not int8_copy(tmp_path / "gender.onnx").exists()


def test_metrics_go_into_the_shipped_files_as_they_are(tmp_path):
    import json
    import shutil
    import onnx
    from agegender.vision.designs import int8_copy
    from training.export import embed_metrics
    from tests.conftest import ROOT
    for name in ("multitask.onnx", "multitask.int8.onnx"):
        shutil.copy(ROOT / "models" / name, tmp_path / name)
    before = {p.key: p.value for p in onnx.load(str(tmp_path / "multitask.onnx")).metadata_props}
    embed_metrics(tmp_path / "multitask.onnx", {"utkface test": {"mae_years": 3.9}})
    for shipped in (tmp_path / "multitask.onnx", int8_copy(tmp_path / "multitask.onnx")):
        meta = {p.key: p.value for p in onnx.load(str(shipped)).metadata_props}
        assert json.loads(meta["test_metrics"]) == {"utkface test": {"mae_years": 3.9}}
        assert {k: v for k, v in meta.items() if k not in ("test_metrics", "precision")} == \
            {k: v for k, v in before.items() if k != "test_metrics"}  # calibration and the rest untouched
    assert json.loads(meta["precision"]) == "int8"
