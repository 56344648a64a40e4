"""Calibrate each shipped network's P(female) and choose the confidence at which its gender counts as sure.

    python -m training.calibrate [--models models] [--out docs/evaluation]

On the validation crops of every source (never the test split): a temperature T is fitted so that
sigmoid(logit / T) is calibrated (least negative log-likelihood), then the threshold is the lowest
confidence max(p, 1 - p) at which the answers the app gives as sure (confidence at or above it, and an
estimated age of at least GenderRule.min_age) are right at least TARGET_ACCURACY of the time, on each
source by itself. Both are
written into the ONNX file's metadata (gender_temperature, gender_threshold), which the app reads; the
coverage/accuracy curve goes to OUT/abstention.json.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import onnx

from agegender.vision.designs import GenderRule, expected_age, int8_copy, load_network, says_female, sigmoid, softmax
from training.crops import split_crops
from training.metrics import ADULT_AGE
from training.utkface import ROOT

CALIBRATION_KEYS = ("gender_temperature", "gender_threshold")  # what this writes into a network's metadata

TARGET_ACCURACY = 0.97

GENDER_NETWORKS = {"multitask": ("multitask.onnx", "multitask.onnx"), "single": ("age.onnx", "gender.onnx")}


def validation_faces(part: str = "val") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BGR crops, true ages, genders and source names of one split of every source."""
    faces = split_crops(part)
    return faces.bgr(), faces.ages, faces.genders, faces.sources


def fit_temperature(logits: np.ndarray, genders: np.ndarray) -> float:
    """The T in [0.25, 8] (a fine log grid) that minimises the negative log-likelihood of sigmoid(logit / T)."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 400))
    p = np.clip(sigmoid(logits[None] / grid[:, None]), 1e-7, 1 - 1e-7)
    nll = -(genders * np.log(p) + (1 - genders) * np.log(1 - p)).mean(axis=1)
    return float(grid[nll.argmin()])


def abstention_curve(p_female: np.ndarray, genders: np.ndarray, predicted_age: np.ndarray, true_age: np.ndarray,
                     min_age: float) -> list[dict]:
    """For each candidate threshold: accuracy of the answers given as sure, and the share of adult faces covered."""
    right = says_female(p_female) == (genders == 1)
    adult = true_age >= ADULT_AGE
    curve = []
    for threshold in np.round(np.arange(0.5, 1.0, 0.005), 3):
        sure = GenderRule(float(threshold), min_age).is_sure(p_female, predicted_age)
        curve.append({"threshold": float(threshold), "accuracy": float(right[sure].mean()) if sure.any() else 1.0,
                      "coverage_all": float(sure.mean()), "coverage_adults": float(sure[adult].mean())})
    return curve


def choose_threshold(curve: list[dict], target: float = TARGET_ACCURACY) -> dict:
    """The lowest threshold whose sure answers, and those of every higher threshold, reach the target."""
    for i, point in enumerate(curve):
        if all(p["accuracy"] >= target for p in curve[i:]):
            return point
    return curve[-1]


def write_gender_calibration(path: Path, temperature: float, threshold: float) -> None:
    model = onnx.load(str(path))
    meta = {p.key: p for p in model.metadata_props}
    unchanged = all(key in meta and json.loads(meta[key].value) == value
                    for key, value in zip(CALIBRATION_KEYS, (temperature, threshold)))
    if unchanged:
        return
    for key, value in zip(CALIBRATION_KEYS, (temperature, threshold)):
        if key in meta:
            meta[key].value = json.dumps(value)
        else:
            model.metadata_props.add(key=key, value=json.dumps(value))
    partial = path.with_suffix(".partial")
    onnx.save(model, str(partial))
    os.replace(partial, path)
    stale = int8_copy(path)
    if stale.exists():  # it was gated under the calibration just replaced: training.quantize makes it anew
        stale.unlink()
        print(f"removed {stale.name} (made before this calibration; run python -m training.quantize)")


def calibrate(models: Path, faces=None, write: bool = True) -> dict:
    crops, ages, genders, sources = faces or validation_faces()
    report = {}
    for design, (age_file, gender_file) in GENDER_NETWORKS.items():
        gender_network = load_network(models / gender_file)
        age_network = gender_network if age_file == gender_file else load_network(models / age_file)
        logits, predicted_age = [], []
        for start in range(0, len(crops), 128):
            batch = crops[start:start + 128]
            logits.append(gender_network.run(batch)["gender_logit"])
            predicted_age.append(expected_age(softmax(age_network.run(batch)["age_logits"])))
        logits, predicted_age = np.concatenate(logits), np.concatenate(predicted_age)
        temperature = fit_temperature(logits, genders)
        p_female = sigmoid(logits / temperature)
        curve = abstention_curve(p_female, genders, predicted_age, ages, GenderRule.min_age)
        curves = {str(source): abstention_curve(p_female[sources == source], genders[sources == source],
                                                predicted_age[sources == source], ages[sources == source],
                                                GenderRule.min_age) for source in np.unique(sources)}
        # Every source must reach the target on its own: pooled, the larger source would hide the other.
        threshold = max(choose_threshold(c)["threshold"] for c in curves.values())
        at = {name: next(p for p in c if p["threshold"] == threshold) for name, c in curves.items()}
        report[design] = {"temperature": temperature, "threshold": threshold,
                          "at_threshold": next(p for p in curve if p["threshold"] == threshold),
                          "by_source": at, "curve": curve, "curves_by_source": curves,
                          "validation_faces": int(len(crops))}
        if write:
            write_gender_calibration(models / gender_file, temperature, threshold)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "evaluation")
    args = parser.parse_args(argv)
    report = calibrate(args.models)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "abstention.json").write_text(json.dumps(report, indent=1))
    for design, r in report.items():
        at = r["at_threshold"]
        print(f"{design}: T = {r['temperature']:.3f}, threshold {r['threshold']:.3f}: sure answers "
              f"{at['accuracy']:.1%} right, covering {at['coverage_adults']:.1%} of adults "
              f"({at['coverage_all']:.1%} of all validation faces)")


if __name__ == "__main__":
    main()
