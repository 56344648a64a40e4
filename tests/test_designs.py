"""The model contract: both designs behind one call, everything read from the ONNX metadata."""
import json

import numpy as np
import onnx
import pytest

from agegender.vision.buckets import ADIENCE
from agegender.vision.designs import (NETWORKS, AgeNetwork, MultiTaskDesign, MultiTaskNetwork, SingleTaskPairDesign,
                         load_design, load_network)
from agegender.errors import ModelError


@pytest.fixture(scope="module")
def crops():
    return np.random.default_rng(0).integers(0, 256, (5, 112, 112, 3), dtype=np.uint8)


def test_registry_picks_the_wrapper_from_the_stored_design(random_models):
    assert isinstance(load_network(random_models / "multitask.onnx"), MultiTaskNetwork)
    assert isinstance(load_network(random_models / "age.onnx"), AgeNetwork)
    assert set(NETWORKS) == {"multitask", "age", "gender"}


@pytest.mark.parametrize("name", ["multitask", "single"])
def test_both_designs_answer_the_same_call(name, random_models, crops):
    design = load_design(name, random_models)
    predictions = design.predict(crops)
    assert len(predictions) == 5
    np.testing.assert_allclose(predictions.age_distribution.sum(axis=1), 1, atol=1e-5)
    assert ((predictions.p_female >= 0) & (predictions.p_female <= 1)).all()
    assert predictions.bucket_probs.shape == (5, 8)
    assert all(label in design.scheme.labels for label in predictions.bucket_labels)
    face = predictions.face(0)
    assert set(face) == {"age", "age_bucket", "age_bucket_probs", "gender", "p_female", "gender_confident"}
    assert face["gender"] == ("female" if face["p_female"] > 0.5 else "male")
    assert face["gender_confident"] == (max(face["p_female"], 1 - face["p_female"]) >= 0.9 and face["age"] >= 12)


def test_one_batched_call_equals_one_call_per_face(random_models, crops):
    design = load_design("multitask", random_models)
    batched = design.predict(crops)
    single = [design.predict(crops[i:i + 1]) for i in range(len(crops))]
    np.testing.assert_allclose(batched.p_female, [s.p_female[0] for s in single], atol=1e-5)
    np.testing.assert_allclose(batched.expected_age, [s.expected_age[0] for s in single], atol=1e-3)


def test_empty_batch_needs_no_call(random_models):
    predictions = load_design("single", random_models).predict(np.zeros((0, 112, 112, 3), np.uint8))
    assert len(predictions) == 0 and predictions.bucket_probs.shape == (0, 8)


def test_bucket_scheme_is_configurable(random_models, crops):
    design = load_design("multitask", random_models, scheme=ADIENCE)
    assert design.predict(crops).bucket_probs.shape == (5, 8)
    assert design.scheme.labels[1] == "4-6"


def test_input_size_and_normalisation_come_from_metadata(random_models):
    network = load_network(random_models / "gender.onnx")
    assert network.info.input_size == 112
    assert network.info.colour_order == "RGB"
    assert network.info.template_id == "arcface-5pt-v1"
    assert "random weights" in json.loads(
        onnx.load(str(random_models / "gender.onnx")).metadata_props[-1].value)


def test_missing_models_say_how_to_get_them(tmp_path):
    with pytest.raises(ModelError, match="training"):
        load_design("multitask", tmp_path)


def test_damaged_model_file(copy_models):
    folder = copy_models()
    data = (folder / "multitask.onnx").read_bytes()
    (folder / "multitask.onnx").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError, match="multitask.onnx"):
        load_design("multitask", folder)


def test_model_without_our_metadata(copy_models):
    folder = copy_models()
    model = onnx.load(str(folder / "age.onnx"))
    del model.metadata_props[:]
    onnx.save(model, str(folder / "age.onnx"))
    with pytest.raises(ModelError, match="metadata"):
        load_design("single", folder)


def test_model_aligned_with_another_template_is_refused(copy_models):
    folder = copy_models()
    model = onnx.load(str(folder / "multitask.onnx"))
    for entry in model.metadata_props:
        if entry.key == "template_id":
            entry.value = json.dumps("some-other-template")
    onnx.save(model, str(folder / "multitask.onnx"))
    with pytest.raises(ModelError, match="template"):
        load_design("multitask", folder)


def test_wrong_network_in_a_designs_place(copy_models):
    folder = copy_models()
    (folder / "multitask.onnx").write_bytes((folder / "age.onnx").read_bytes())
    with pytest.raises(ModelError, match="'age' network"):
        MultiTaskDesign(folder / "multitask.onnx")
    with pytest.raises(ModelError):
        SingleTaskPairDesign(folder / "gender.onnx", folder / "age.onnx")
