"""Aligned face crops of every labelled source, made by the app's own detector and aligner, cached as uint8.

    python -m training.crops [--source utkface|aaf]   # writes cache/SOURCE_112.npy and cache/SOURCE_112.json

Each image goes through agegender.vision.detect.MtcnnDetector and agegender.vision.align, the code path of the running app.
Where no face is found, the crop uses fixed landmarks: the mean of those found in the other images of
the source (both sources' photos are roughly aligned, so the mean is a sound stand-in); the count is
reported. The cache lives in cache/ beside the project, or in $AGEGENDER_CACHE.
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from agegender.vision.align import TEMPLATE_ID, TEMPLATE_SIZE, align_face
from agegender.vision.detect import DetectorSettings, MtcnnDetector
from training.sources import FOLDERS, SOURCES, label_of, split_of
from training.utkface import ROOT

CACHE_DIR = Path(os.environ.get("AGEGENDER_CACHE") or ROOT / "cache")
CROP_SIZE = TEMPLATE_SIZE  # the networks' input: aligned face crops of the template's own size, 112 x 112


def cache_paths(source: str = "utkface", size: int = CROP_SIZE, cache_dir: Path = CACHE_DIR) -> tuple[Path, Path]:
    return cache_dir / f"{source}_{size}.npy", cache_dir / f"{source}_{size}.json"


def central_face(landmarks: np.ndarray, scores: np.ndarray, shape: tuple[int, ...]) -> int:
    """The face nearest the photo's centre (both sources centre each photo on its subject)."""
    centre = np.array([shape[1] / 2, shape[0] / 2])
    distance = np.linalg.norm(landmarks.mean(axis=1) - centre, axis=1)
    return int(np.argmin(distance - 20 * scores))


def build_cache(names: list[str], data_dir: Path, source: str = "utkface", size: int = CROP_SIZE,
                cache_dir: Path = CACHE_DIR) -> dict:
    detector = MtcnnDetector(DetectorSettings(min_face=40))
    crops = np.zeros((len(names), size, size, 3), np.uint8)
    landmarks = np.zeros((len(names), 5, 2), np.float32)
    found = np.zeros(len(names), bool)
    images = {}
    for i, name in enumerate(tqdm(names, desc=f"{source}: detect + align", unit="img")):
        bgr = cv2.imread(str(Path(data_dir) / name), cv2.IMREAD_COLOR)
        if bgr is None:
            raise SystemExit(f"cannot read {name} in {data_dir}")
        detections = detector.detect(bgr)
        if len(detections):
            best = central_face(detections.landmarks, detections.scores, bgr.shape)
            landmarks[i], found[i] = detections.landmarks[best], True
            crops[i] = cv2.cvtColor(align_face(bgr, landmarks[i], size), cv2.COLOR_BGR2RGB)
        else:
            images[i] = bgr
    fallback = landmarks[found].mean(axis=0) if found.any() else None
    for i, bgr in images.items():
        crops[i] = cv2.cvtColor(align_face(bgr, fallback, size), cv2.COLOR_BGR2RGB)
    crops_path, index_path = cache_paths(source, size, cache_dir)
    crops_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(crops_path, crops)
    index = {"names": names, "detected": found.tolist(), "size": size, "colour_order": "RGB",
             "template_id": TEMPLATE_ID, "fallback_landmarks": None if fallback is None else fallback.tolist(),
             "no_face_found": int((~found).sum())}
    index_path.write_text(json.dumps(index))
    return index


def load_cache(source: str = "utkface", size: int = CROP_SIZE, cache_dir: Path = CACHE_DIR) -> tuple[np.ndarray, dict]:
    crops_path, index_path = cache_paths(source, size, cache_dir)
    if not crops_path.exists():
        raise SystemExit(f"no crop cache at {crops_path}: run python -m training.crops --source {source} first")
    index = json.loads(index_path.read_text())
    if index["template_id"] != TEMPLATE_ID:
        raise SystemExit(f"{crops_path} was made with template {index['template_id']}, not {TEMPLATE_ID}: rebuild it")
    return np.load(crops_path, mmap_mode="r"), index


@dataclass(frozen=True)
class SplitCrops:
    """The cached crops of one split of one or more sources, in the split's order, with their labels."""

    crops: np.ndarray  # uint8 RGB, as cached; bgr() gives the app's colour order
    names: list[str]
    ages: np.ndarray
    genders: np.ndarray  # 1 female, 0 male
    races: np.ndarray  # UTKFace's label (0-4); what All-Age-Faces's loader gives (it has none)
    sources: np.ndarray  # the source of each crop

    def __len__(self) -> int:
        return len(self.names)

    def bgr(self) -> np.ndarray:
        return np.ascontiguousarray(self.crops[..., ::-1])


def split_crops(part: str, sources=SOURCES, limit: int = 0, cache_dir: Path = CACHE_DIR) -> SplitCrops:
    """The crops and labels of split `part` ("train", "val" or "test") of `sources`, one after the other;
    with `limit`, the first `limit` names of each source's split."""
    crops, names, labels, origin = [], [], [], []
    for source in sources:
        cached, index = load_cache(source, cache_dir=cache_dir)
        wanted = split_of(source)[part][: limit or None]
        position = {name: i for i, name in enumerate(index["names"])}
        crops.append(cached[np.array([position[n] for n in wanted], dtype=np.int64)])
        names += wanted
        labels += [label_of(source, n) for n in wanted]
        origin += [source] * len(wanted)
    return SplitCrops(np.ascontiguousarray(np.concatenate(crops)), names, np.array([s.age for s in labels]),
                      np.array([s.gender for s in labels]),
                      np.array([s.race for s in labels]), np.array(origin))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=SOURCES, action="append",
                        help="build this source's cache (repeatable; default: every source)")
    parser.add_argument("--data", type=Path, help="the source's image folder (default: its folder in ../shared)")
    args = parser.parse_args()
    for source in args.source or SOURCES:
        names = sorted(name for part in split_of(source).values() for name in part)
        index = build_cache(names, args.data or FOLDERS[source], source)
        print(f"{source}: {len(names)} crops; no face found in {index['no_face_found']} "
              f"({100 * index['no_face_found'] / len(names):.2f}%), fixed crop used there")


if __name__ == "__main__":
    main()
