"""Gender calibration: the temperature fit, the thresholds per age band and their floor, the test-time
mirror, and the metadata the app reads back."""
import shutil

import cv2
import numpy as np
import pytest

from agegender.vision.designs import GenderRule, load_design, load_network, sigmoid
from tests.conftest import ROOT, UTKFACE, need
from training.calibrate import (BAND_FLOORS, BAND_STARTS, CONFIDENCE_FLOOR, TEEN_FLOOR, Judged, band_of,
                                choose_bands, fit_temperature, lowest_threshold, mirror_gain,
                                write_gender_calibration)
from training.degrade import CROP_DEGRADATIONS, degraded_faces_detector, detector_crop


def test_the_fit_recovers_the_temperature_that_made_the_labels():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 3, 20000)
    genders = (rng.random(20000) < sigmoid(true_logits)).astype(int)
    overconfident = true_logits * 2.5  # what the network says: too sure by a factor of 2.5
    assert abs(fit_temperature(overconfident, genders) - 2.5) < 0.15


def test_weights_let_a_small_set_count_as_much_as_a_large_one():
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 3, 12000)
    genders = (rng.random(12000) < sigmoid(logits)).astype(int)
    # 2,000 faces made with T = 1 and 10,000 with T = 3 (a harder photo style): weighted alike, T lies between
    made = np.r_[logits[:2000], logits[2000:] * 3]
    weights = np.r_[np.full(2000, 1 / 2000), np.full(10000, 1 / 10000)]
    unweighted, weighted = fit_temperature(made, genders), fit_temperature(made, genders, weights)
    assert 1.0 < weighted < unweighted < 3.2


def test_the_threshold_is_the_lowest_from_which_sure_answers_stay_right_enough():
    rng = np.random.default_rng(1)
    p_female = rng.random(5000)
    genders = (rng.random(5000) < p_female).astype(int)  # right as often as the model says
    confidence, right = np.maximum(p_female, 1 - p_female), (p_female > 0.5) == (genders == 1)
    threshold = lowest_threshold(confidence, right, floor=0.5)
    assert 0.93 <= threshold <= 0.99
    assert all(right[confidence >= t].mean() >= 0.97 for t in np.arange(threshold, 0.99, 0.005)
               if (confidence >= t).sum() >= 30)
    assert right[confidence >= threshold - 0.005].mean() < 0.97  # and it is the lowest


def test_a_well_separated_band_still_keeps_the_floor_and_a_hopeless_one_is_never_sure():
    rng = np.random.default_rng(3)
    confidence = rng.uniform(0.5, 1.0, 3000)
    always_right = np.ones(3000, bool)
    assert lowest_threshold(confidence, always_right) == CONFIDENCE_FLOOR
    coin = rng.random(3000) < 0.5
    assert lowest_threshold(confidence, coin) is None
    assert lowest_threshold(confidence[:10], always_right[:10]) is None  # too few answers to judge


def judged_faces(rng, n, age, source, family, right_share, confidence=(0.5, 1.0)):
    """n faces of one age, source and family whose answers are right `right_share` of the time."""
    p = rng.uniform(*confidence, n)
    genders = np.ones(n, int)
    wrong = rng.random(n) >= right_share
    logit = np.log(p / (1 - p)) * np.where(wrong, -1, 1)  # P(female) = p, said of women: right unless flipped
    return Judged(logit, np.full(n, float(age)), genders, np.full(n, age), np.full(n, source), np.full(n, family))


def join(parts):
    return Judged(*(np.concatenate([getattr(p, f) for p in parts]) for f in Judged.__dataclass_fields__))


def test_each_band_takes_the_strictest_groups_threshold_a_hopeless_group_makes_it_never_and_thin_groups_abstain():
    rng = np.random.default_rng(4)
    faces = join([
        judged_faces(rng, 3000, 30, "a", "clean", 1.0),  # never wrong: the floor
        judged_faces(rng, 3000, 15, "a", "clean", 1.0),  # a teenager's band: its own, higher floor
        judged_faces(rng, 3000, 15, "b", "noise", 0.5, confidence=(0.5, 0.94)),  # none above that floor: abstains
        judged_faces(rng, 3000, 45, "a", "clean", 1.0),
        judged_faces(rng, 3000, 45, "b", "blur", 0.6),  # wrong too often at any confidence
        judged_faces(rng, 3000, 70, "a", "clean", 1.0),
        judged_faces(rng, 10, 70, "b", "clean", 0.0),  # too few to judge: left to the others
    ])
    bands, evidence = choose_bands(faces, temperature=1.0)
    assert bands == ((12.0, TEEN_FLOOR), (20.0, CONFIDENCE_FLOOR), (40.0, None), (60.0, CONFIDENCE_FLOOR))
    assert "b clean" not in evidence["from 60"] and "b degraded" not in evidence["from 12"]


def test_the_mirror_is_kept_only_where_it_gains_enough_and_loses_nothing():
    rng = np.random.default_rng(5)
    base = judged_faces(rng, 1000, 30, "a", "clean", 0.9)
    better_age = Judged(base.gender_logit, base.predicted_age + 0.0, *[getattr(base, f) for f in
                                                                        ("genders", "ages", "sources", "families")])
    off = Judged(base.gender_logit, base.predicted_age + 0.5, base.genders, base.ages, base.sources, base.families)
    assert mirror_gain(off, better_age, 101)["kept"]  # 0.5 years better, gender the same
    worse_gender = Judged(-base.gender_logit, base.predicted_age, base.genders, base.ages, base.sources,
                          base.families)
    assert not mirror_gain(off, worse_gender, 101)["kept"]  # the age gain would cost gender accuracy


def test_the_rule_looks_up_each_faces_band_by_its_rounded_age_estimate():
    rule = GenderRule(((12.0, 0.95), (20.0, 0.85), (40.0, 0.9), (60.0, None)))
    ages = np.array([5.0, 11.6, 12.4, 19.4, 19.6, 45.0, 70.0])
    np.testing.assert_array_equal(rule.needed_confidence(ages), [np.inf, 0.95, 0.95, 0.95, 0.85, 0.9, np.inf])
    sure = rule.is_sure(np.full(7, 0.99), ages)
    np.testing.assert_array_equal(sure, [False, True, True, True, True, True, False])
    np.testing.assert_array_equal(band_of(ages), [-1, 0, 0, 0, 1, 2, 3])
    assert GenderRule.uniform(0.8).bands == ((12.0, 0.8),)


def test_shipped_networks_carry_their_calibration_and_the_app_applies_it(tmp_path):
    for name in ("multitask.onnx", "gender.onnx"):
        info = load_network(ROOT / "models" / name).info
        assert info.gender_thresholds and 0.25 <= info.gender_temperature <= 8
        assert [start for start, _ in info.gender_thresholds] == list(BAND_STARTS)
        assert all(t is None or BAND_FLOORS[start] <= t < 1 for start, t in info.gender_thresholds)
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models", models)
    crops = np.random.default_rng(0).integers(0, 256, (4, 112, 112, 3), dtype=np.uint8)
    network = load_network(models / "multitask.onnx")
    logit = network.run(crops)["gender_logit"]
    info = network.info
    same = {"gender_temperature": info.gender_temperature,
            "gender_thresholds": [list(band) for band in info.gender_thresholds],
            "test_time_mirror": info.test_time_mirror}
    write_gender_calibration(models / "multitask.onnx", same)
    assert (models / "multitask.int8.onnx").exists()  # the same calibration again: its INT8 copy stays valid
    write_gender_calibration(models / "multitask.onnx", {**same, "gender_temperature": 3.0,
                                                         "gender_thresholds": [[12, 0.9], [20, 0.86]]})
    assert not (models / "multitask.int8.onnx").exists()  # gated under the old calibration: removed
    design = load_design("multitask", models)
    assert design.precision == "fp32" and design.gender_rule.bands == ((12.0, 0.9), (20.0, 0.86))
    np.testing.assert_allclose(design.predict(crops).p_female, sigmoid(logit / 3.0), rtol=1e-5)


def test_the_mirror_averages_each_crop_with_its_mirror_image_in_one_call(group_photo, detector):
    from agegender.vision.align import align_faces
    image = cv2.imread(str(group_photo))
    crops = align_faces(image, detector.detect(image).landmarks, 112)
    network = load_network(ROOT / "models" / "multitask.onnx")
    plain, flipped = network.run(crops, mirror=False), network.run(np.ascontiguousarray(crops[:, :, ::-1]), mirror=False)
    mirrored = network.run(crops, mirror=True)
    for name in ("age_logits", "gender_logit"):
        np.testing.assert_allclose(mirrored[name], (plain[name] + flipped[name]) / 2, atol=1e-4)
        assert not np.allclose(plain[name], flipped[name], atol=1e-3)  # a face and its mirror differ to the network
    # and a mirrored face gets the same answer as the face
    again = network.run(np.ascontiguousarray(crops[:, :, ::-1]), mirror=True)
    np.testing.assert_allclose(again["gender_logit"], mirrored["gender_logit"], atol=1e-4)


def test_degradations_are_seeded_and_change_the_crop():
    crop = cv2.resize(cv2.imread(str(need(ROOT.parent / "shared" / "media" / "group.jpg")))[:300, :300], (112, 112))
    for name, degrade in CROP_DEGRADATIONS.items():
        first, second = degrade(crop, np.random.default_rng(5)), degrade(crop, np.random.default_rng(5))
        assert first.shape == crop.shape and first.dtype == np.uint8, name
        np.testing.assert_array_equal(first, second, err_msg=name)
        assert np.abs(first.astype(int) - crop).mean() > 1, name


def test_the_detector_family_crops_the_face_from_a_small_compressed_picture():
    photo = sorted(need(UTKFACE).glob("*.jpg"))[0]
    crop = detector_crop(cv2.imread(str(photo)), degraded_faces_detector(), np.random.default_rng(0))
    assert crop is not None and crop.shape == (112, 112, 3)
    # a 24-40 px face scaled up to 112: far less fine detail than the photo's own crop
    assert cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var() < 200


def test_degraded_faces_from_an_earlier_recipe_are_refused_and_made_again(tmp_path):
    from training.degrade import DegradedFaces, degraded_path, load_degraded, save
    faces = DegradedFaces(np.zeros((2, 112, 112, 3), np.uint8), np.array(["jpeg", "blur"]), np.array([0, 0]), 0, "d")
    save(faces, degraded_path(tmp_path))
    assert load_degraded(tmp_path).split_digest == "d"
    np.savez(degraded_path(tmp_path), crops=faces.crops, family=faces.family, row=faces.row, missed_by_detector=0,
             split_digest="d")  # as written before recipes were versioned
    with pytest.raises(SystemExit, match="earlier recipe"):
        load_degraded(tmp_path)
