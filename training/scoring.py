"""The metrics of one design on one source's faces: what training/evaluate.py reports for the cached test
crops and training/through_app.py for the faces the app itself finds, computed the same way."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agegender.vision.buckets import ADIENCE, DECADES, DEFAULT, BucketScheme
from agegender.vision.designs import Predictions
from training import fairface
from training.metrics import (ADULT_AGE, CHILD_AGE, age_group_metrics, age_metrics, bucket_metrics, confident_answers,
                              gender_metrics, group_means)
from training.recipe import AGE_GROUPS
from training.utkface import MAX_AGE, RACES

AGE_BANDS = DEFAULT
# The groups each source is reported by: UTKFace's and FairFace's race labels; AAF (mostly East Asian faces)
# as one group.
GROUPS = {"utkface": RACES, "aaf": ("All-Age-Faces",), "fairface": fairface.RACES}


@dataclass
class SplitFaces:
    source: str
    names: list[str]
    crops: np.ndarray  # BGR, as the app's aligner makes them
    ages: np.ndarray
    genders: np.ndarray
    groups: np.ndarray  # index into GROUPS[source]
    age_ranges: np.ndarray | None = None  # (N, 2) youngest and oldest years where labels are ranges (FairFace)


def concatenated(parts: list[Predictions]) -> Predictions:
    """Several Predictions of one design as one, in order."""
    return Predictions(np.concatenate([p.age_distribution for p in parts]), np.concatenate([p.p_female for p in parts]),
                       parts[0].scheme, parts[0].gender_labels, parts[0].gender_rule)


def evaluate_design(predictions: Predictions, faces: SplitFaces, calibrated: bool = True) -> dict:
    """Every metric of one design on one source. `calibrated` is False for a peer whose P(female) has no
    threshold of ours, so its 'sure' answers mean nothing. A source whose ages are ranges gets no MAE and no
    bucket metrics, only those over its age groups."""
    if faces.age_ranges is not None:
        return _evaluate_on_age_ranges(predictions, faces, calibrated)
    gender = gender_metrics(faces.genders, predictions.p_female)
    age = age_metrics(faces.ages, predictions.age_distribution)
    correct = (predictions.is_female.astype(int) == faces.genders).astype(float)
    bands = AGE_BANDS.index(np.minimum(faces.ages, MAX_AGE))
    groups = GROUPS[faces.source]
    result = {"gender": gender, "gender_correct": correct, "mae": age["mae"], "age_errors": age["errors"],
              "default_buckets": bucket_metrics(faces.ages, predictions.age_distribution, DEFAULT),
              "adience": bucket_metrics(faces.ages, predictions.age_distribution, ADIENCE),
              "decades": bucket_metrics(faces.ages, predictions.age_distribution, DECADES),
              "by_group": {"gender_accuracy": group_means(correct, faces.groups, groups),
                           "mae": group_means(np.abs(age["errors"]), faces.groups, groups)},
              "by_age_band": {"gender_accuracy": group_means(correct, bands, AGE_BANDS.labels),
                              "mae": group_means(np.abs(age["errors"]), bands, AGE_BANDS.labels)}}
    children = faces.ages <= CHILD_AGE
    result["children"] = {"n": int(children.sum()),
                          "mae": float(np.abs(age["errors"][children]).mean()) if children.any() else None}
    result["age_groups"] = age_group_metrics(np.stack([faces.ages, faces.ages], axis=1), predictions.age_distribution,
                                             BucketScheme.parse(AGE_GROUPS))
    if calibrated:
        _add_confident(result, predictions, faces)
    return result


def _add_confident(result: dict, predictions: Predictions, faces: SplitFaces) -> None:
    result["confident"] = confident_answers(faces.genders, predictions.p_female, predictions.gender_confident,
                                            faces.ages, ADULT_AGE)
    result["confident"]["thresholds"] = [list(band) for band in predictions.gender_rule.bands]


def _evaluate_on_age_ranges(predictions: Predictions, faces: SplitFaces, calibrated: bool) -> dict:
    """Gender, age groups, and both per race group and per age group. Adults are the faces of groups from
    20-29 on (a group's middle age is at least ADULT_AGE)."""
    correct = (predictions.is_female.astype(int) == faces.genders).astype(float)
    scheme = BucketScheme.parse(AGE_GROUPS)
    groups = age_group_metrics(faces.age_ranges, predictions.age_distribution, scheme)
    truth = scheme.index(faces.age_ranges[:, 0])
    shown = scheme.nearest(np.rint(predictions.expected_age))
    right_group = (shown == truth).astype(float)
    names = GROUPS[faces.source]
    result = {"gender": gender_metrics(faces.genders, predictions.p_female), "gender_correct": correct,
              "age_groups": groups,
              "by_group": {"gender_accuracy": group_means(correct, faces.groups, names),
                           "age_group_accuracy": group_means(right_group, faces.groups, names)},
              "by_age_band": {"gender_accuracy": group_means(correct, truth, scheme.labels),
                              "age_group_accuracy": group_means(right_group, truth, scheme.labels)}}
    if calibrated:
        _add_confident(result, predictions, faces)
    return result


def summary(result: dict) -> dict:
    """The headline numbers of one design on one source's test split, as embedded in the exported models."""
    out = {"gender_accuracy": round(result["gender"]["accuracy"], 4), "gender_auc": round(result["gender"]["auc"], 4),
           "gender_ece": round(result["gender"]["ece"], 4),
           "age_group_accuracy": round(result["age_groups"]["accuracy"], 4),
           "age_group_one_off_accuracy": round(result["age_groups"]["one_off_accuracy"], 4)}
    if "mae" in result:
        out.update(mae_years=round(result["mae"], 3), bucket8_accuracy=round(result["default_buckets"]["accuracy"], 4),
                   bucket8_distance=round(result["default_buckets"]["distance_mean"], 3),
                   adience8_accuracy=round(result["adience"]["accuracy"], 4))
    if "confident" in result:
        confident = result["confident"]
        out.update(gender_thresholds=confident["thresholds"], confident_coverage_adults=round(confident["coverage_adults"], 4),
                   confident_accuracy_adults=None if confident["accuracy_adults"] is None
                   else round(confident["accuracy_adults"], 4))
    return out
