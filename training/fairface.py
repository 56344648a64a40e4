"""FairFace: in-the-wild photos labelled with an age group, a gender and a race group, and a fixed split.

    python -m training.fairface      # writes training/splits/fairface_{train,val,test}.txt

The shared folder holds part of FairFace's train split (its val split is kept back), so validation and test
parts are held out here: 70/15/15, stratified by age group and gender, so every group of both genders is in
each part. Age labels are ranges (annotators' apparent age); Sample.age_range holds the range and
Sample.age its middle.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

from sklearn.model_selection import train_test_split

from training.utkface import MAX_AGE, ROOT, SPLIT_SEED, Sample, store_split_command

FAIRFACE_DIR = ROOT.parent / "shared" / "datasets" / "fairface"
GENDERS = {"male": 0, "female": 1}
RACES = ("White", "Black", "East Asian", "Southeast Asian", "Indian", "Middle Eastern", "Latino_Hispanic")
AGE_GROUPS = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+")
_NAME = re.compile(r"^images/\d+\.jpg$")


def age_range(group: str) -> tuple[int, int]:
    """'20-29' -> (20, 29); '70+' -> (70, MAX_AGE), the last age class standing for that age and over."""
    low, _, high = group.rstrip("+").partition("-")
    return int(low), int(high) if high else MAX_AGE


def load_labels(folder: Path = FAIRFACE_DIR) -> tuple[list[Sample], list[str]]:
    """(samples, skipped rows); Sample.name is the file path relative to the folder, race an index of RACES."""
    samples, skipped = [], []
    with open(Path(folder) / "labels.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            gender, group, race = GENDERS.get(row.get("gender", "")), row.get("age_group", ""), row.get("race", "")
            if not _NAME.match(row.get("file", "")) or gender is None or group not in AGE_GROUPS or race not in RACES:
                skipped.append(row.get("file", "?"))
                continue
            low, high = age_range(group)
            samples.append(Sample(row["file"], (low + min(high, 80)) // 2, gender, RACES.index(race), (low, high)))
    return sorted(samples, key=lambda s: s.name), skipped


def make_split(samples: list[Sample], seed: int = SPLIT_SEED) -> dict[str, list[str]]:
    """70/15/15, stratified by age group and gender; the same whatever order the samples come in."""
    samples = sorted(samples, key=lambda s: s.name)
    names = [s.name for s in samples]
    strata = [f"{s.age_range}-{s.gender}" for s in samples]
    train, rest, _, rest_strata = train_test_split(names, strata, test_size=0.3, random_state=seed, stratify=strata)
    val, test = train_test_split(rest, test_size=0.5, random_state=seed, stratify=rest_strata)
    return {"train": sorted(train), "val": sorted(val), "test": sorted(test)}


def main() -> None:
    store_split_command("fairface", FAIRFACE_DIR, load_labels, make_split, __doc__)


if __name__ == "__main__":
    main()
