"""The labelled face sources training reads: UTKFace, All-Age-Faces and FairFace, each with its own fixed split.

Every source answers the same three questions: where its images are, how its images are split into
train/val/test, and what the label of an image is. Training mixes the sources; evaluation reports each.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from training import fairface
from training.aaf import AAF_DIR, load_labels
from training.utkface import UTKFACE_DIR, Sample, parse_name, read_split

# The sources with exact ages, which every stage after training (degrade, calibrate, evaluate) reads
SOURCES = ("utkface", "aaf")
# What a network is trained and validated on: those and FairFace, in the wild, whose ages are ranges
TRAINING_SOURCES = SOURCES + ("fairface",)
FOLDERS = {"utkface": UTKFACE_DIR, "aaf": AAF_DIR, "fairface": fairface.FAIRFACE_DIR}


def split_of(source: str) -> dict[str, list[str]]:
    """{"train": [...], "val": [...], "test": [...]} file names, as stored in training/splits/."""
    return read_split(prefix=source)


@cache
def _aaf_labels() -> dict[str, Sample]:
    return {sample.name: sample for sample in load_labels()[0]}


@cache
def _fairface_labels() -> dict[str, Sample]:
    return {sample.name: sample for sample in fairface.load_labels()[0]}


def label_of(source: str, name: str) -> Sample:
    if source == "utkface":
        sample = parse_name(name)
    elif source == "aaf":
        sample = _aaf_labels().get(name)
    elif source == "fairface":
        sample = _fairface_labels().get(name)
    else:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(TRAINING_SOURCES)}")
    if sample is None:
        raise ValueError(f"{source}: no label for {name}")
    return sample


def available(source: str) -> bool:
    return Path(FOLDERS[source]).is_dir()
