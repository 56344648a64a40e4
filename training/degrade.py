"""Validation faces as a camera delivers them: each validation photo put through one degradation at a time,
at strengths beyond what training's augmentation draws (training.augment), for calibration to judge.

    python -m training.degrade    # writes cache/degraded_val_112.npz (about 2 minutes on 2 cores)

The families, each applied to every validation face with its own seeded strength:

- low_resolution: the face's crop downscaled to 24-40 px and scaled back up (training goes down to 64-24);
- blur: Gaussian (sigma 2-3.5) or motion (9-15 px) blur (training: sigma up to 1.5, motion up to 9);
- jpeg: quality 5-15 (training: 20-90, or video blocking at 8-25 after a mild downscale);
- noise: Gaussian sensor noise, sigma 20-35 (training: 2-12);
- grayscale;
- pose: rotation 15-25 degrees either way, scale 0.8-0.9 or 1.1-1.2, shift 6-10% (training: within
  12 degrees, 0.9-1.1, 5%): a turned head and a detector's loose landmarks;
- detector: the whole photo shrunk until its face is 24-40 px wide and saved as JPEG at quality 50-80,
  then the app's own detector and aligner find and crop the face in that image, as they would in a
  frame. A face the detector misses there is left out (the app shows nothing for it), and counted.

Crops are kept as the cache keeps them (uint8 RGB, 112 x 112), with each one's row in the validation
split, so labels and sources come from training.crops.split_crops("val").
"""
from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from agegender.vision.align import align_face
from agegender.vision.detect import DetectorSettings, MtcnnDetector
from training.augment import jpeg_round_trip, jpeg_round_trip_rgb, motion_blur
from training.crops import CACHE_DIR, CROP_SIZE, SplitCrops, central_face, split_crops
from training.sources import FOLDERS

CROP_FAMILIES = ("low_resolution", "blur", "jpeg", "noise", "grayscale", "pose")
FAMILIES = CROP_FAMILIES + ("detector",)
DETECTOR_FACE_PX = (24, 40)


def degraded_path(cache_dir: Path = CACHE_DIR) -> Path:
    return cache_dir / f"degraded_val_{CROP_SIZE}.npz"


def _low_resolution(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    size, small = crop.shape[0], int(rng.integers(24, 41))
    tiny = cv2.resize(crop, (small, small), interpolation=cv2.INTER_AREA)
    return cv2.resize(tiny, (size, size), interpolation=cv2.INTER_LINEAR)


def _blur(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:
        return cv2.GaussianBlur(crop, (0, 0), rng.uniform(2.0, 3.5))
    return motion_blur(crop, int(rng.integers(9, 16)), rng.uniform(0, 180))


def _jpeg(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return jpeg_round_trip_rgb(crop, int(rng.integers(5, 16)))


def _noise(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(crop + rng.normal(0, rng.uniform(20, 35), crop.shape), 0, 255).astype(np.uint8)


def _grayscale(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def _pose(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    size = crop.shape[0]
    angle = rng.choice([-1, 1]) * rng.uniform(15, 25)
    scale = rng.uniform(0.8, 0.9) if rng.random() < 0.5 else rng.uniform(1.1, 1.2)
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    matrix[:, 2] += rng.choice([-1, 1], 2) * rng.uniform(0.06, 0.10, 2) * size
    return cv2.warpAffine(crop, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


CROP_DEGRADATIONS = {"low_resolution": _low_resolution, "blur": _blur, "jpeg": _jpeg, "noise": _noise,
                     "grayscale": _grayscale, "pose": _pose}


def detector_crop(bgr: np.ndarray, detector: MtcnnDetector, rng: np.random.Generator) -> np.ndarray | None:
    """The face of a photo as the app crops it from a small, compressed picture of it (BGR), or None where
    the detector does not find it there."""
    found = detector.detect(bgr, compile_for_size=False)
    if not len(found):
        return None
    face = central_face(found.landmarks, found.scores, bgr.shape)
    width = found.boxes[face, 2] - found.boxes[face, 0]
    scale = rng.uniform(*DETECTOR_FACE_PX) / max(width, 1.0)
    small = cv2.resize(bgr, (max(1, round(bgr.shape[1] * scale)), max(1, round(bgr.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)
    small = jpeg_round_trip(small, int(rng.integers(50, 81)))
    found = detector.detect(small, compile_for_size=False)
    if not len(found):
        return None
    face = central_face(found.landmarks, found.scores, small.shape)
    return align_face(small, found.landmarks[face], CROP_SIZE)


def degraded_faces_detector() -> MtcnnDetector:
    """The app's detector, looking for faces down to half the smallest size the family makes."""
    return MtcnnDetector(DetectorSettings(min_face=DETECTOR_FACE_PX[0] // 2))


# Raised whenever a family changes, so that degraded faces made by an earlier recipe are made again
# rather than calibrated on: 2 encodes JPEG in the encoder's colour order.
RECIPE_VERSION = 2


def split_digest(names: list[str]) -> str:
    """What names the faces a set of degraded copies was made from, in order (rows index them)."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


@dataclass(frozen=True)
class DegradedFaces:
    """Degraded copies of validation faces: crops (uint8 RGB), each one's family and its row in the split
    it was made from (split_digest of its names)."""

    crops: np.ndarray
    family: np.ndarray
    row: np.ndarray
    missed_by_detector: int
    split_digest: str

    def of(self, family: str) -> tuple[np.ndarray, np.ndarray]:
        keep = self.family == family
        return self.crops[keep], self.row[keep]


def build(faces: SplitCrops, seed: int = 0) -> DegradedFaces:
    detector = degraded_faces_detector()
    crops, family, rows = [], [], []
    missed = 0
    for i in tqdm(range(len(faces)), desc="degrading validation faces", unit="face"):
        for name in CROP_FAMILIES:
            rng = np.random.default_rng([seed, i, FAMILIES.index(name)])
            crops.append(CROP_DEGRADATIONS[name](faces.crops[i], rng))
            family.append(name)
            rows.append(i)
        bgr = cv2.imread(str(Path(FOLDERS[faces.sources[i]]) / faces.names[i]), cv2.IMREAD_COLOR)
        crop = None if bgr is None else detector_crop(bgr, detector,
                                                      np.random.default_rng([seed, i, FAMILIES.index("detector")]))
        if crop is None:
            missed += 1
            continue
        crops.append(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
        family.append("detector")
        rows.append(i)
    return DegradedFaces(np.stack(crops), np.array(family), np.array(rows), missed, split_digest(faces.names))


def save(degraded: DegradedFaces, path: Path) -> None:
    partial = path.with_name(path.name + ".partial.npz")
    np.savez(partial, crops=degraded.crops, family=degraded.family, row=degraded.row,
             missed_by_detector=degraded.missed_by_detector, split_digest=degraded.split_digest,
             recipe_version=RECIPE_VERSION)
    partial.replace(path)


def stored_recipe_version(path: Path) -> int:
    """The RECIPE_VERSION of the degraded faces at `path` (0: from before versions were kept)."""
    with np.load(path) as stored:
        return int(stored["recipe_version"]) if "recipe_version" in stored else 0


def load_degraded(cache_dir: Path = CACHE_DIR) -> DegradedFaces:
    path = degraded_path(cache_dir)
    if not path.exists():
        raise SystemExit(f"no degraded validation faces at {path}: run python -m training.degrade first")
    if stored_recipe_version(path) != RECIPE_VERSION:
        raise SystemExit(f"the degraded validation faces at {path} were made by an earlier recipe of "
                         "training.degrade: run python -m training.degrade again")
    with np.load(path) as stored:
        digest = str(stored["split_digest"]) if "split_digest" in stored else ""
        return DegradedFaces(stored["crops"], stored["family"], stored["row"], int(stored["missed_by_detector"]), digest)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0, help="only the first N validation faces of each source "
                        "(a look at the families; calibration refuses such a partial set)")
    args = parser.parse_args(argv)
    faces = split_crops("val", limit=args.limit)
    degraded = build(faces)
    path = degraded_path()
    save(degraded, path)
    counts = {name: int((degraded.family == name).sum()) for name in FAMILIES}
    print(f"wrote {path}: {json.dumps(counts)}; the detector missed {degraded.missed_by_detector} of {len(faces)} "
          "faces in their small, compressed pictures")


if __name__ == "__main__":
    main()
