"""All-Age-Faces (AAF): labels from labels.csv and a fixed, seeded split of the shared train release.

    python -m training.aaf        # writes training/splits/aaf_{train,val,test}.txt

The shared folder holds AAF's own train split only (its val split is kept back), so part of it is held out
here: 80/10/10, stratified by age band and gender, like UTKFace. Images are named NNNNNAyy.jpg (yy the age);
the age and gender are read from labels.csv, and a row whose age disagrees with its file name is skipped.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

from training.utkface import ROOT, Sample, make_split, store_split_command

AAF_DIR = ROOT.parent / "shared" / "datasets" / "aaf"
GENDERS = {"male": 0, "female": 1}
AAF_GROUP = 2  # mostly East Asian faces: reported under UTKFace's "Asian" group code, as a source of its own
_NAME = re.compile(r"^images/\d+A(\d+)\.jpg$")


def load_labels(folder: Path = AAF_DIR) -> tuple[list[Sample], list[str]]:
    """(samples, skipped rows); Sample.name is the file path relative to the folder."""
    samples, skipped = [], []
    with open(Path(folder) / "labels.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            match = _NAME.match(row.get("file", ""))
            gender = GENDERS.get(row.get("gender", ""))
            if not match or gender is None or not row.get("age", "").isdigit() or int(match.group(1)) != int(row["age"]):
                skipped.append(row.get("file", "?"))
                continue
            samples.append(Sample(row["file"], int(row["age"]), gender, AAF_GROUP))
    return sorted(samples, key=lambda s: s.name), skipped


def main() -> None:
    store_split_command("aaf", AAF_DIR, load_labels, make_split, __doc__)


if __name__ == "__main__":
    main()
