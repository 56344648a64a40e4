"""Calibrate each shipped design's P(female), choose when its gender counts as sure, and whether it averages
each face with its mirror image.

    python -m training.calibrate [--models models] [--out docs/evaluation]

It judges validation faces only (never the test split): each source's clean validation crops and the same
faces as a camera delivers them (training.degrade: low resolution, blur, JPEG, noise, grayscale, pose, and
the app's detector on a small compressed picture), at strengths beyond training's.

1. Test-time mirror: kept for a design where averaging each crop's outputs with its mirror's gains at
   least MIRROR_GAIN on clean validation (0.3 points of gender accuracy or 0.1 years of MAE).
2. Temperature: the T for which sigmoid(logit / T) has the least negative log-likelihood, clean and
   degraded faces weighing alike, so that a probability means the same on a webcam as on a studio photo.
3. Thresholds, one per band of the age estimate (GenderRule): the lowest confidence, not under the
   band's floor (BAND_FLOORS), from which the band's sure answers, and those of every higher threshold, are right at
   least TARGET_ACCURACY of the time on each source, clean and degraded alike. A band where no threshold
   gets there is never sure. Under the first band (an estimated 12) gender is never sure.

The temperature, the bands and the mirror flag go into the ONNX files' metadata, which the app reads; the
curves, the coverage per degradation and the calibration error go to OUT/abstention.json.
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from agegender.vision.designs import GenderRule, expected_age, int8_copy, load_network, says_female, sigmoid, softmax
from training.crops import split_crops
from training.degrade import FAMILIES, load_degraded, split_digest
from training.metrics import ADULT_AGE, expected_calibration_error, mean_absolute_error
from training.utkface import ROOT

# what this writes into a network's metadata; gender_threshold is the single threshold of older files
CALIBRATION_KEYS = ("gender_temperature", "gender_thresholds", "test_time_mirror")
FORMER_KEYS = ("gender_threshold",)

TARGET_ACCURACY = 0.97
BAND_STARTS = (12, 20, 40, 60)  # by the age estimate: 12-19, 20-39, 40-59, 60+; under 12 never sure
# No answer is called sure that the calibrated model itself gives more than a 15% chance of being wrong.
# The 97% is a promise about sure answers taken together; on a photo style harder than validation, the
# confident answers thin out first and the pool's accuracy falls toward that of its least confident
# members, so the least confident sure answer must itself be likely right. docs/evaluation shows the
# accuracy of the answers just above the floor on degraded faces.
CONFIDENCE_FLOOR = 0.85
# Teenagers (an estimated 12-19) need 0.95: gender cues are still forming, and both sources' teenagers are
# posed portraits that the degradations do not make as hard as candid photos of teenagers are.
TEEN_FLOOR = 0.95
BAND_FLOORS = dict(zip(BAND_STARTS, (TEEN_FLOOR, CONFIDENCE_FLOOR, CONFIDENCE_FLOOR, CONFIDENCE_FLOOR)))
MIN_SURE_ANSWERS = 30  # a threshold is judged only where at least this many answers clear it
MIRROR_GAIN = {"gender_accuracy": 0.003, "mae": 0.1}
THRESHOLD_GRID = np.round(np.arange(0.5, 1.0, 0.005), 3)

GENDER_NETWORKS = {"multitask": ("multitask.onnx", "multitask.onnx"), "single": ("age.onnx", "gender.onnx")}


def validation_faces(part: str = "val") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BGR crops, true ages, genders and source names of one split of every source."""
    faces = split_crops(part)
    return faces.bgr(), faces.ages, faces.genders, faces.sources


@dataclass
class Judged:
    """What a design says about a set of faces, beside the truth."""

    gender_logit: np.ndarray
    predicted_age: np.ndarray  # expected age in years
    genders: np.ndarray  # 1 female
    ages: np.ndarray
    sources: np.ndarray
    families: np.ndarray  # "clean" or a degradation family

    def __len__(self) -> int:
        return len(self.genders)

    def part(self, keep: np.ndarray) -> "Judged":
        return Judged(*(getattr(self, name)[keep] for name in self.__dataclass_fields__))


def logits_of(age_network, gender_network, crops_bgr: np.ndarray) -> tuple[np.ndarray, ...]:
    """Gender logits and age logits of a design for crops and for their mirror images, batched, each
    network run without its own mirror setting."""
    gender, age, gender_flipped, age_flipped = [], [], [], []
    for start in range(0, len(crops_bgr), 128):
        batch = crops_bgr[start:start + 128]
        for image, genders, ages in ((batch, gender, age), (np.ascontiguousarray(batch[:, :, ::-1]),
                                                             gender_flipped, age_flipped)):
            out = gender_network.run(image, mirror=False)
            genders.append(out["gender_logit"])
            ages.append(out["age_logits"] if age_network is gender_network else
                        age_network.run(image, mirror=False)["age_logits"])
    return tuple(np.concatenate(parts) for parts in (gender, age, gender_flipped, age_flipped))


def judge(age_network, gender_network, faces, degraded) -> tuple[Judged, Judged]:
    """The design's answers on the clean validation faces and on their degraded copies: as they are, and
    averaged with the mirror image's (as Network.run(mirror=True) averages them)."""
    if degraded.split_digest != split_digest(faces.names):
        raise SystemExit("the degraded validation faces were made from another validation split (or a part of "
                         "it): run python -m training.degrade again")
    crops = np.concatenate([faces.bgr(), degraded.crops[..., ::-1]])  # the cache is RGB, the networks take BGR
    rows = np.r_[np.arange(len(faces)), degraded.row]
    families = np.r_[np.full(len(faces), "clean"), degraded.family]
    gender, age, gender_flipped, age_flipped = logits_of(age_network, gender_network, crops)
    truth = (faces.genders[rows], faces.ages[rows], faces.sources[rows], families)
    plain = Judged(gender, expected_age(softmax(age)), *truth)
    mirrored = Judged((gender + gender_flipped) / 2, expected_age(softmax((age + age_flipped) / 2)), *truth)
    return plain, mirrored


def mirror_gain(plain: Judged, mirrored: Judged, age_classes: int) -> dict:
    """What averaging with the mirror image gains on clean validation: gender accuracy points and MAE years."""
    clean = plain.families == "clean"

    def scores(j: Judged) -> tuple[float, float]:
        right = says_female(sigmoid(j.gender_logit[clean])) == (j.genders[clean] == 1)
        return float(right.mean()), mean_absolute_error(j.predicted_age[clean], j.ages[clean], age_classes)

    (acc0, mae0), (acc1, mae1) = scores(plain), scores(mirrored)
    gain = {"gender_accuracy": acc1 - acc0, "mae": mae0 - mae1, "without": {"gender_accuracy": acc0, "mae": mae0},
            "with": {"gender_accuracy": acc1, "mae": mae1}}
    # kept where one figure gains what is asked and the other loses nothing
    gain["kept"] = bool(any(gain[key] >= needed for key, needed in MIRROR_GAIN.items())
                        and all(gain[key] >= 0 for key in MIRROR_GAIN))
    return gain


def fit_temperature(logits: np.ndarray, genders: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The T in [0.25, 8] (a fine log grid) that minimises the (weighted) negative log-likelihood of
    sigmoid(logit / T)."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 400))
    p = np.clip(sigmoid(logits[None] / grid[:, None]), 1e-7, 1 - 1e-7)
    nll = -(genders * np.log(p) + (1 - genders) * np.log(1 - p))
    weights = np.ones(len(logits)) if weights is None else weights
    return float(grid[(nll @ weights).argmin()])


def lowest_threshold(confidence: np.ndarray, right: np.ndarray, target: float = TARGET_ACCURACY,
                     floor: float = CONFIDENCE_FLOOR, min_answers: int = MIN_SURE_ANSWERS) -> float | None:
    """The lowest threshold (on THRESHOLD_GRID, not under floor) from which the answers clearing it, and
    those clearing every higher threshold judged, are right at least `target` of the time; a threshold is
    judged where at least min_answers clear it. None where none gets there, or too few answers to judge."""
    candidates = [t for t in THRESHOLD_GRID if t >= floor - 1e-9 and (confidence >= t).sum() >= min_answers]
    if not candidates:
        return None
    reaches = [bool(right[confidence >= t].mean() >= target) for t in candidates]
    for i, t in enumerate(candidates):
        if all(reaches[i:]):
            return float(t)
    return None


def band_of(predicted_age: np.ndarray, starts=BAND_STARTS) -> np.ndarray:
    """Each face's band index by its age estimate (as the app rounds it); -1 under the first band."""
    return np.searchsorted(np.asarray(starts, float), np.rint(predicted_age), side="right") - 1


def choose_bands(judged: Judged, temperature: float) -> tuple[tuple[tuple[float, float | None], ...], dict]:
    """The GenderRule bands: per band, the highest of the thresholds each source needs, clean and degraded."""
    p_female = sigmoid(judged.gender_logit / temperature)
    confidence = np.maximum(p_female, 1 - p_female)
    right = says_female(p_female) == (judged.genders == 1)
    band = band_of(judged.predicted_age)
    degraded = judged.families != "clean"
    bands, evidence = [], {}
    for b, start in enumerate(BAND_STARTS):
        needed, judged_groups = [], {}
        for source in np.unique(judged.sources):
            for group, in_group in (("clean", ~degraded), ("degraded", degraded)):
                keep = (band == b) & (judged.sources == source) & in_group
                if (confidence[keep] >= BAND_FLOORS[start]).sum() < MIN_SURE_ANSWERS:
                    continue  # too few answers of this band above its floor here to judge: the others decide
                threshold = lowest_threshold(confidence[keep], right[keep], floor=BAND_FLOORS[start])
                judged_groups[f"{source} {group}"] = {"faces": int(keep.sum()), "threshold": threshold}
                needed.append(threshold)
        threshold = None if not needed or None in needed else max(needed)
        bands.append((float(start), threshold))
        evidence[f"from {start}"] = judged_groups
    return tuple(bands), evidence


def coverage(judged: Judged, rule: GenderRule, temperature: float) -> dict:
    """Sure answers' accuracy and the share of adults (and of all faces) they cover."""
    p_female = sigmoid(judged.gender_logit / temperature)
    sure = rule.is_sure(p_female, judged.predicted_age)
    right = says_female(p_female) == (judged.genders == 1)
    adult = judged.ages >= ADULT_AGE
    return {"faces": int(len(judged)), "accuracy": float(right[sure].mean()) if sure.any() else None,
            "coverage_adults": float(sure[adult].mean()) if adult.any() else None,
            "coverage_all": float(sure.mean()) if len(judged) else None,
            "ece": expected_calibration_error(judged.genders, p_female)[0]}


def abstention_curve(judged: Judged, temperature: float) -> list[dict]:
    """Accuracy and coverage of sure answers as one threshold for every age band (from 12) moves."""
    return [{"threshold": float(t), **coverage(judged, GenderRule.uniform(float(t)), temperature)}
            for t in THRESHOLD_GRID[::2]]


def write_gender_calibration(path: Path, values: dict) -> None:
    """Puts `values` (CALIBRATION_KEYS) into the file's metadata, dropping the keys they replace. Where
    anything changed, the file's INT8 copy (gated under the old values) is removed."""
    model = onnx.load(str(path))
    meta = {p.key: p for p in model.metadata_props}
    unchanged = all(key in meta and json.loads(meta[key].value) == value for key, value in values.items()) and \
        not any(key in meta for key in FORMER_KEYS)
    if unchanged:
        return
    kept = [p for p in model.metadata_props if p.key not in FORMER_KEYS and p.key not in values]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in values.items():
        model.metadata_props.add(key=key, value=json.dumps(value))
    partial = path.with_suffix(".partial")
    onnx.save(model, str(partial))
    os.replace(partial, path)
    stale = int8_copy(path)
    if stale.exists():  # it was gated under the calibration just replaced: training.quantize makes it anew
        stale.unlink()
        print(f"removed {stale.name} (made before this calibration; run python -m training.quantize)")


def as_json_bands(bands) -> list[list]:
    return [[start, threshold] for start, threshold in bands]


def calibrate(models: Path, faces=None, degraded=None, write: bool = True) -> dict:
    faces = faces if faces is not None else split_crops("val")
    degraded = degraded if degraded is not None else load_degraded()
    report = {}
    for design, (age_file, gender_file) in GENDER_NETWORKS.items():
        gender_network = load_network(models / gender_file)
        age_network = gender_network if age_file == gender_file else load_network(models / age_file)
        plain, mirrored = judge(age_network, gender_network, faces, degraded)
        mirror = mirror_gain(plain, mirrored, age_network.info.age_classes)
        judged = mirrored if mirror["kept"] else plain
        clean = judged.families == "clean"
        # clean and degraded faces weigh alike in the fit, whatever their counts
        weights = np.where(clean, 1 / clean.sum(), 1 / max((~clean).sum(), 1))
        temperature = fit_temperature(judged.gender_logit, judged.genders, weights)
        bands, evidence = choose_bands(judged, temperature)
        rule = GenderRule(bands)
        sources = [str(s) for s in np.unique(judged.sources)]
        by = {source: {family: coverage(judged.part((judged.sources == source) & (judged.families == family)),
                                        rule, temperature)
                       for family in ("clean",) + FAMILIES}
              for source in sources}
        for source in sources:
            by[source]["degraded"] = coverage(judged.part((judged.sources == source) & ~clean), rule, temperature)
        band = band_of(judged.predicted_age)
        by_band = {f"from {start}": coverage(judged.part(band == b), rule, temperature)
                   for b, start in enumerate(BAND_STARTS)}
        p_female = sigmoid(judged.gender_logit / temperature)
        confidence = np.maximum(p_female, 1 - p_female)
        right = says_female(p_female) == (judged.genders == 1)
        sure = rule.is_sure(p_female, judged.predicted_age)
        margin = ~clean & sure & (confidence < CONFIDENCE_FLOOR + 0.05)  # sure answers just above the floor
        report[design] = {
            "temperature": temperature, "bands": as_json_bands(bands), "test_time_mirror": mirror,
            "floor": CONFIDENCE_FLOOR, "teen_floor": TEEN_FLOOR, "target": TARGET_ACCURACY, "band_evidence": evidence,
            "just_above_floor_degraded": {"faces": int(margin.sum()),
                                          "accuracy": float(right[margin].mean()) if margin.any() else None},
            "clean": coverage(judged.part(clean), rule, temperature),
            "degraded": coverage(judged.part(~clean), rule, temperature),
            "by_source": by, "by_band": by_band,
            "curve_degraded": abstention_curve(judged.part(~clean), temperature),
            "curve_clean": abstention_curve(judged.part(clean), temperature),
            "validation_faces": int(len(faces)), "degraded_faces": int(len(degraded.row)),
            "missed_by_detector": degraded.missed_by_detector}
        if write:
            gender_values = {"gender_temperature": temperature, "gender_thresholds": as_json_bands(bands),
                             "test_time_mirror": mirror["kept"]}
            write_gender_calibration(models / gender_file, gender_values)
            if age_file != gender_file:
                write_gender_calibration(models / age_file, {"test_time_mirror": mirror["kept"]})
    return report


def summary_lines(report: dict) -> list[str]:
    lines = []
    for design, r in report.items():
        bands = ", ".join(f"{start:g}+: {'never' if t is None else f'{t:.3f}'}" for start, t in r["bands"])
        lines.append(f"{design}: mirror {'kept' if r['test_time_mirror']['kept'] else 'not kept'} "
                     f"(gender {r['test_time_mirror']['gender_accuracy']:+.2%}, MAE {-r['test_time_mirror']['mae']:+.3f} y); "
                     f"T = {r['temperature']:.3f}; thresholds {bands}")
        for source, by in r["by_source"].items():
            for group in ("clean", "degraded"):
                c = by[group]
                accuracy = "no sure answers" if c["accuracy"] is None else f"{c['accuracy']:.1%} right"
                covered = "–" if c["coverage_adults"] is None else f"{c['coverage_adults']:.1%}"
                lines.append(f"  {source} {group}: sure answers {accuracy}, covering {covered} of adults; "
                             f"ECE {c['ece']:.3f}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "evaluation")
    parser.add_argument("--dry-run", action="store_true", help="report only; leave the model files as they are")
    args = parser.parse_args(argv)
    report = calibrate(args.models, write=not args.dry_run)
    if not args.dry_run:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "abstention.json").write_text(json.dumps(report, indent=1))
    print("\n".join(summary_lines(report)))


if __name__ == "__main__":
    main()
