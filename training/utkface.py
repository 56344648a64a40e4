"""UTKFace: labels from file names, de-duplication by content, and the fixed stratified split.

File names are AGE_GENDER_RACE_DATETIME.jpg.chip.jpg (gender 0 male, 1 female; race 0-4).
The split is stored as lists of file names in training/splits/ so every reported number can be
reproduced; `python -m training.utkface` regenerates it (it only changes if the data does).
"""
from __future__ import annotations

import argparse
import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sklearn.model_selection import train_test_split

from agegender.vision.buckets import DEFAULT

ROOT = Path(__file__).resolve().parent.parent
UTKFACE_DIR = ROOT.parent / "shared" / "datasets" / "utkface"
SPLITS_DIR = Path(__file__).resolve().parent / "splits"
SPLIT_NAMES = ("train", "val", "test")
SPLIT_SEED = 20261122
MAX_AGE = 100  # the age distribution's last class stands for 100 and over
RACES = ("White", "Black", "Asian", "Indian", "Other")

_NAME = re.compile(r"^(\d{1,3})_([01])_([0-4])_(\d+)\.jpg\.chip\.jpg$")


@dataclass(frozen=True)
class Sample:
    name: str
    age: int
    gender: int  # 0 male, 1 female
    race: int
    # (youngest, oldest) years of an age label that is a range (FairFace's age groups), None for an exact
    # age; `age` is then the range's middle, which places the face in bands, strata and repeats
    age_range: tuple[int, int] | None = None


@dataclass
class IndexReport:
    files: int = 0
    malformed: list[str] = field(default_factory=list)
    duplicate_groups: int = 0
    duplicates_removed: int = 0
    conflicting_groups_dropped: int = 0


def parse_name(name: str) -> Sample | None:
    match = _NAME.match(name)
    if not match:
        return None
    age, gender, race = (int(match.group(i)) for i in (1, 2, 3))
    if not 1 <= age <= 116:
        return None
    return Sample(name, age, gender, race)


def deduplicate(samples: list[Sample], digests: dict[str, str], report: IndexReport) -> list[Sample]:
    """Keep one file per identical content; drop whole groups whose labels disagree."""
    groups: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[digests[sample.name]].append(sample)
    kept = []
    for group in groups.values():
        if len(group) > 1:
            report.duplicate_groups += 1
            if len({(s.age, s.gender, s.race) for s in group}) > 1:
                report.conflicting_groups_dropped += 1
                report.duplicates_removed += len(group)
                continue
            report.duplicates_removed += len(group) - 1
        kept.append(min(group, key=lambda s: s.name))
    return sorted(kept, key=lambda s: s.name)


def load_index(folder: Path = UTKFACE_DIR) -> tuple[list[Sample], IndexReport]:
    report = IndexReport()
    samples, digests = [], {}
    for path in sorted(Path(folder).iterdir()):
        if not path.is_file():
            continue
        report.files += 1
        sample = parse_name(path.name)
        if sample is None:
            report.malformed.append(path.name)
            continue
        samples.append(sample)
        digests[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return deduplicate(samples, digests, report), report


def stratum(sample: Sample) -> str:
    return f"{DEFAULT.index([min(sample.age, MAX_AGE)])[0]}-{sample.gender}"


def make_split(samples: list[Sample], seed: int = SPLIT_SEED) -> dict[str, list[str]]:
    """80/10/10, stratified by age band and gender; the same whatever order the samples come in."""
    samples = sorted(samples, key=lambda s: s.name)
    names = [s.name for s in samples]
    strata = [stratum(s) for s in samples]
    train, rest, _, rest_strata = train_test_split(names, strata, test_size=0.2, random_state=seed, stratify=strata)
    val, test = train_test_split(rest, test_size=0.5, random_state=seed, stratify=rest_strata)
    return {"train": sorted(train), "val": sorted(val), "test": sorted(test)}


def write_split(split: dict[str, list[str]], folder: Path = SPLITS_DIR, prefix: str = "utkface") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for part, names in split.items():
        (folder / f"{prefix}_{part}.txt").write_text("\n".join(names) + "\n")


def read_split(folder: Path = SPLITS_DIR, prefix: str = "utkface") -> dict[str, list[str]]:
    return {part: (folder / f"{prefix}_{part}.txt").read_text().split() for part in SPLIT_NAMES}


def store_split_command(prefix: str, folder: Path, load_labels, split_of_samples, description: str) -> None:
    """`python -m training.SOURCE [--data FOLDER]` of a source labelled by a labels.csv: reads its labels,
    reports the rows skipped, and stores its split in training/splits/."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=folder)
    args = parser.parse_args()
    samples, skipped = load_labels(args.data)
    print(f"{len(samples)} labelled images, {len(skipped)} rows skipped: {skipped[:10]}")
    split = split_of_samples(samples)
    write_split(split, SPLITS_DIR, prefix=prefix)
    print(", ".join(f"{part} {len(names)}" for part, names in split.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=UTKFACE_DIR)
    args = parser.parse_args()
    samples, report = load_index(args.data)
    print(f"{report.files} files, {len(report.malformed)} malformed names skipped: {report.malformed}")
    print(f"{report.duplicate_groups} duplicate groups, {report.duplicates_removed} files removed "
          f"({report.conflicting_groups_dropped} groups dropped for conflicting labels); {len(samples)} kept")
    split = make_split(samples)
    write_split(split)
    print(", ".join(f"{part} {len(names)}" for part, names in split.items()))


if __name__ == "__main__":
    main()
