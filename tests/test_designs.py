"""The model contract: both designs behind one call, everything read from the ONNX metadata."""
import json
import shutil

import cv2
import numpy as np
import onnx
import pytest

from agegender.vision.buckets import ADIENCE
from agegender.vision.designs import (AgeNetwork, GenderNetwork, MultiTaskDesign, SingleTaskPairDesign, load_design,
                                     load_network)
from agegender.errors import ModelError
from agegender.vision.align import align_faces
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def crops():
    return np.random.default_rng(0).integers(0, 256, (5, 112, 112, 3), dtype=np.uint8)


def set_metadata(path, **values):
    """Rewrites metadata entries of an exported network, as another export would have written them."""
    model = onnx.load(str(path))
    for entry in model.metadata_props:
        if entry.key in values:
            entry.value = json.dumps(values.pop(entry.key))
    for key, value in values.items():
        model.metadata_props.add(key=key, value=json.dumps(value))
    onnx.save(model, str(path))


def test_registry_picks_the_wrapper_from_the_stored_design_not_the_file_name(copy_models):
    folder = copy_models()
    (folder / "multitask.onnx").write_bytes((folder / "gender.onnx").read_bytes())
    assert isinstance(load_network(folder / "multitask.onnx"), GenderNetwork)
    assert isinstance(load_network(folder / "age.onnx"), AgeNetwork)
    set_metadata(folder / "age.onnx", design="ensemble")
    with pytest.raises(ModelError, match="declares design 'ensemble'; this app knows multitask, age, gender"):
        load_network(folder / "age.onnx")


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


def test_the_sure_thresholds_come_from_the_model_file(tmp_path, detector, group_photo):
    """The calibrated thresholds per age band each network carries decide which answers are sure: above 1
    none is, and with 0.5 up to an estimated 29 and above 1 from 30, only the younger faces are. A file of
    an older export, with one threshold, is still read (above 1: none, where the default 0.9 would make
    every one of these confident answers sure)."""
    image = cv2.imread(str(group_photo))
    crops = align_faces(image, detector.detect(image).landmarks, 112)
    sure, younger = {}, None
    for name, metadata in {"1.01": {"gender_thresholds": [[12, 1.01]]},
                           "0.5 under 30": {"gender_thresholds": [[12, 0.5], [30, 1.01]]},
                           "older file, 1.01": {"gender_thresholds": None, "gender_threshold": 1.01},
                           "older file, 0.5": {"gender_thresholds": None, "gender_threshold": 0.5}}.items():
        shutil.copy(ROOT / "models" / "multitask.onnx", tmp_path / "multitask.onnx")
        set_metadata(tmp_path / "multitask.onnx", **metadata)
        predictions = load_design("multitask", tmp_path).predict(crops)
        assert (predictions.age_years >= 18).all()  # the group photo's six adults
        sure[name] = predictions.gender_confident.tolist()
        younger = (predictions.age_years < 30).tolist()
    assert 0 < sum(younger) < 6  # the photo has faces on both sides of 30
    assert sure == {"1.01": [False] * 6, "0.5 under 30": younger, "older file, 1.01": [False] * 6,
                    "older file, 0.5": [True] * 6}


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


def test_colour_order_normalisation_and_input_size_come_from_metadata(detector, group_photo, tmp_path):
    path = tmp_path / "gender.onnx"  # the shipped network: random weights answer almost alike whatever the input
    shutil.copy(ROOT / "models" / "gender.onnx", path)
    image = cv2.imread(str(group_photo))
    faces = align_faces(image, detector.detect(image).landmarks, load_network(path).info.input_size)
    as_exported = load_network(path).run(faces)["gender_logit"]
    set_metadata(path, colour_order="BGR")  # the same pixels reach the network with the channels swapped
    swapped = load_network(path)
    np.testing.assert_allclose(swapped.run(faces[..., ::-1])["gender_logit"], as_exported, atol=1e-3)
    assert np.abs(swapped.run(faces)["gender_logit"] - as_exported).max() > 0.05
    mean = load_network(path).info.mean
    set_metadata(path, colour_order="RGB", mean=[m + 60 for m in mean])
    assert np.abs(load_network(path).run(faces)["gender_logit"] - as_exported).max() > 0.05
    set_metadata(path, input_size=96)
    with pytest.raises(ValueError, match="takes 96x96 crops"):
        load_network(path).run(faces)


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
    set_metadata(folder / "multitask.onnx", template_id="some-other-template")
    with pytest.raises(ModelError, match="template"):
        load_design("multitask", folder)


def test_wrong_network_in_a_designs_place(copy_models):
    folder = copy_models()
    (folder / "multitask.onnx").write_bytes((folder / "age.onnx").read_bytes())
    with pytest.raises(ModelError, match="'age' network"):
        MultiTaskDesign(folder / "multitask.onnx")
    with pytest.raises(ModelError):
        SingleTaskPairDesign(folder / "gender.onnx", folder / "age.onnx")
