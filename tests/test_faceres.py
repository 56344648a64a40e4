"""The FaceRes trunk in PyTorch gives what its TF.js graph gives, run apart from it (translated node by node
to ONNX), on real faces; its own gender and age layers carry over into the project's heads."""
import cv2
import numpy as np
import pytest

from tests.conftest import MEDIA, SHARED, need

torch = pytest.importorskip("torch", reason="the trunk is a PyTorch module (the train extra)")
ort = pytest.importorskip("onnxruntime")
from training.faceres import CAFFE_MEAN_BGR, FACERES_GRAPH  # noqa: E402
from training.recipe import to_tensor  # noqa: E402


@pytest.fixture(scope="module")
def graph():
    need(SHARED / "pretrained" / "hse-faceres-deep")
    from training.tfjs_weights import read_graph
    return read_graph(FACERES_GRAPH)


@pytest.fixture(scope="module")
def faces(detector):
    """BGR 224 x 224 aligned crops: a woman's portrait, a man's, and faces of the group photo."""
    from agegender.vision.align import align_face
    crops = []
    for name, count in (("portrait-angelina_jolie.jpg", 1), ("portrait-paul_rudd.jpg", 1), ("group.jpg", 4)):
        image = cv2.imread(str(need(MEDIA / name)))
        found = detector.detect(image)
        for i in np.argsort(-found.scores)[:count]:
            crops.append(align_face(image, found.landmarks[i], 224))
    return np.stack(crops)


def run_graph(graph, crops_bgr):
    from training.tfjs_onnx import to_onnx
    session = ort.InferenceSession(to_onnx(graph, crops_bgr.shape[1]).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"input_1": crops_bgr.astype(np.float32) - np.float32(CAFFE_MEAN_BGR)})
    return dict(zip([o.name for o in session.get_outputs()], outputs))


@pytest.mark.parametrize("size", [224, 160])
def test_the_module_gives_the_graphs_features(graph, faces, size):
    from training.faceres import FaceResTrunk, load_faceres
    crops = faces if size == 224 else np.stack([cv2.resize(face, (size, size)) for face in faces])
    expected = run_graph(graph, crops)["global_pooling/Mean"]
    trunk = FaceResTrunk().eval()
    load_faceres(trunk, graph)
    with torch.no_grad():
        got = trunk(to_tensor(np.ascontiguousarray(crops[..., ::-1]))).numpy()  # the recipe's RGB input
    assert got.shape == (len(faces), 1024) and np.abs(expected).max() > 1
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_an_untouched_module_differs_from_the_graph(graph, faces):
    """The comparison above can fail: random weights are far from the graph's features."""
    from training.faceres import FaceResTrunk
    with torch.no_grad():
        got = FaceResTrunk().eval()(to_tensor(np.ascontiguousarray(faces[..., ::-1]))).numpy()
    assert np.abs(got - run_graph(graph, faces)["global_pooling/Mean"]).max() > 0.1


def test_the_graphs_own_answers_start_the_project_heads(graph, faces):
    from training.recipe import expected_age
    from training.trunks import TRUNKS, build_network
    network = build_network("multitask", "faceres").eval()
    TRUNKS["faceres"].load(network, FACERES_GRAPH)
    with torch.no_grad():
        age_logits, gender_logit = network(to_tensor(np.ascontiguousarray(faces[..., ::-1])))
    reference = run_graph(graph, faces)
    p_male = reference["gender_pred/Sigmoid"].ravel()
    np.testing.assert_allclose(1 - torch.sigmoid(gender_logit).numpy(), p_male, atol=1e-4)
    assert p_male[0] < 0.1 and p_male[1] > 0.9  # the woman's portrait, the man's
    graph_age = reference["age_pred/Softmax"] @ np.arange(1, 101)  # bin i is age i + 1
    np.testing.assert_allclose(expected_age(age_logits).numpy(), graph_age, atol=0.05)
