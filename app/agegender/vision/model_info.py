"""What an exported age/gender network says about itself, read from its ONNX metadata and checked."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agegender.vision.align import TEMPLATE_ID
from agegender.errors import ModelError

SCHEMA_VERSION = 1
INT8_SUFFIX = ".int8.onnx"  # multitask.onnx -> multitask.int8.onnx: its INT8 copy, shipped where it passed
REQUIRED_KEYS = ("schema_version", "design", "input_size", "mean", "std", "colour_order", "template_id",
                 "age_classes", "gender_labels", "age_buckets", "outputs")


def int8_copy(path: Path) -> Path:
    return Path(path).with_name(Path(path).stem + INT8_SUFFIX)


@dataclass(frozen=True)
class ModelInfo:
    design: str  # "multitask", "age" or "gender"
    input_size: int
    mean: tuple[float, float, float]  # per channel, in 0..255 units, in the model's colour order
    std: tuple[float, float, float]
    colour_order: str  # "RGB" or "BGR"
    template_id: str
    age_classes: int  # ages 0 .. age_classes - 1, the last meaning "that age and over"
    gender_labels: tuple[str, str]  # label of logit < 0, label of logit > 0
    age_buckets: str  # the default bucket scheme for display
    outputs: tuple[str, ...]
    variant: str = ""
    training_commit: str = "unknown"
    test_metrics: dict | None = None
    gender_temperature: float = 1.0  # P(female) = sigmoid(logit / T), calibrated on validation faces
    # the confidence a gender answer needs to count as sure, per band of the age estimate: ((from age,
    # threshold or None), ...) (see designs.GenderRule); a file of an older export has one threshold,
    # gender_threshold, which holds from 12 years on
    gender_thresholds: tuple[tuple[float, float | None], ...] | None = None
    test_time_mirror: bool = False  # average each crop's outputs with its horizontal mirror's

    @classmethod
    def from_metadata(cls, meta: dict[str, Any], path: Path | str) -> "ModelInfo":
        missing = [key for key in REQUIRED_KEYS if key not in meta]
        if missing:
            raise ModelError(f"{path} lacks AgeGender Live metadata ({', '.join(missing)}): it was not exported by "
                             "training/export.py. Use the models shipped in models/ or export them (see docs/models.md).")
        if meta["schema_version"] != SCHEMA_VERSION:
            raise ModelError(f"{path} has metadata schema {meta['schema_version']}, this app reads schema "
                             f"{SCHEMA_VERSION}: export the model again with this version's training/export.py")
        if meta["template_id"] != TEMPLATE_ID:
            raise ModelError(f"{path} was trained on faces aligned with template {meta['template_id']!r}, this app "
                             f"aligns with {TEMPLATE_ID!r}: its predictions would be wrong. Re-train or re-export it.")
        if meta["colour_order"] not in ("RGB", "BGR"):
            raise ModelError(f"{path}: unknown colour order {meta['colour_order']!r}")
        return cls(design=meta["design"], input_size=int(meta["input_size"]), mean=tuple(meta["mean"]),
                   std=tuple(meta["std"]), colour_order=meta["colour_order"], template_id=meta["template_id"],
                   age_classes=int(meta["age_classes"]), gender_labels=tuple(meta["gender_labels"]),
                   age_buckets=meta["age_buckets"], outputs=tuple(meta["outputs"]),
                   variant=meta.get("variant", ""), training_commit=meta.get("training_commit", "unknown"),
                   test_metrics=meta.get("test_metrics"),
                   gender_temperature=float(meta.get("gender_temperature", 1.0)),
                   gender_thresholds=_bands(meta.get("gender_thresholds"), path) or _bands(
                       None if meta.get("gender_threshold") is None else [[12, meta["gender_threshold"]]], path),
                   test_time_mirror=bool(meta.get("test_time_mirror", False)))


def _bands(value: Any, path: Path | str) -> tuple[tuple[float, float | None], ...] | None:
    if value is None:
        return None
    try:
        bands = tuple((float(start), None if t is None else float(t)) for start, t in value)
    except (TypeError, ValueError):
        raise ModelError(f"{path}: unreadable gender_thresholds {value!r}; export the model again") from None
    if not bands or any(a[0] >= b[0] for a, b in zip(bands, bands[1:])):
        raise ModelError(f"{path}: gender_thresholds must start at rising ages, got {value!r}")
    return bands
