"""The labelled face sources training reads: UTKFace and All-Age-Faces, each with its own fixed split.

Every source answers the same three questions: where its images are, how its images are split into
train/val/test, and what the label of an image is. Training mixes the sources; evaluation reports each.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from training.aaf import AAF_DIR, load_labels
from training.utkface import UTKFACE_DIR, Sample, parse_name, read_split

SOURCES = ("utkface", "aaf")
FOLDERS = {"utkface": UTKFACE_DIR, "aaf": AAF_DIR}


def split_of(source: str) -> dict[str, list[str]]:
    """{"train": [...], "val": [...], "test": [...]} file names, as stored in training/splits/."""
    return read_split(prefix=source)


@cache
def _aaf_labels() -> dict[str, Sample]:
    return {sample.name: sample for sample in load_labels()[0]}


def label_of(source: str, name: str) -> Sample:
    if source == "utkface":
        sample = parse_name(name)
    elif source == "aaf":
        sample = _aaf_labels().get(name)
    else:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    if sample is None:
        raise ValueError(f"{source}: no label for {name}")
    return sample


def available(source: str) -> bool:
    return Path(FOLDERS[source]).is_dir()
