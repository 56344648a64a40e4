"""Aligned face crops of every labelled source, made by the app's own detector and aligner, cached as uint8.

    python -m training.crops [--source utkface|aaf|fairface] [--size 112 --size 160]
    # writes cache/SOURCE_faces.json (each photo's detection, made once) and cache/SOURCE_SIZE.npy + .json

Each image goes through agegender.vision.detect.MtcnnDetector and agegender.vision.align, the code path of the
running app; the face nearest the photo's centre is kept, and the photos with no face or more than one are
counted. The cache lives in cache/ beside the project, or in $AGEGENDER_CACHE.
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
from training.sources import FOLDERS, SOURCES, TRAINING_SOURCES, label_of, split_of
from training.utkface import ROOT

CACHE_DIR = Path(os.environ.get("AGEGENDER_CACHE") or ROOT / "cache")
CROP_SIZE = TEMPLATE_SIZE  # the networks' input: aligned face crops of the template's own size, 112 x 112


def cache_paths(source: str = "utkface", size: int = CROP_SIZE, cache_dir: Path = CACHE_DIR) -> tuple[Path, Path]:
    return cache_dir / f"{source}_{size}.npy", cache_dir / f"{source}_{size}.json"


def detections_path(source: str, cache_dir: Path = CACHE_DIR) -> Path:
    return cache_dir / f"{source}_faces.json"


def central_face(landmarks: np.ndarray, scores: np.ndarray, shape: tuple[int, ...]) -> int:
    """The face nearest the photo's centre (every source centres each photo on its subject)."""
    centre = np.array([shape[1] / 2, shape[0] / 2])
    distance = np.linalg.norm(landmarks.mean(axis=1) - centre, axis=1)
    return int(np.argmin(distance - 20 * scores))


def detect_faces(names: list[str], data_dir: Path, source: str, cache_dir: Path = CACHE_DIR) -> dict:
    """{name: {"faces": how many the app's detector finds, "landmarks": the central face's five points or
    None}}, for every name; kept in cache/SOURCE_faces.json, so each photo is detected once whatever crop
    sizes are made from it."""
    path = detections_path(source, cache_dir)
    found = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in names if name not in found]
    if missing:
        detector = MtcnnDetector(DetectorSettings(min_face=40))
        for done, name in enumerate(tqdm(missing, desc=f"{source}: detect", unit="img"), 1):
            bgr = _read(data_dir, name)
            detections = detector.detect(bgr)
            best = central_face(detections.landmarks, detections.scores, bgr.shape) if len(detections) else None
            found[name] = {"faces": len(detections),
                           "landmarks": None if best is None else detections.landmarks[best].round(2).tolist()}
            if done % 1000 == 0 or done == len(missing):  # a stopped run goes on from here
                _write_json(path, found)
    return {name: found[name] for name in names}


def _write_json(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(content))
    os.replace(partial, path)


def _read(data_dir: Path, name: str) -> np.ndarray:
    bgr = cv2.imread(str(Path(data_dir) / name), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {name} in {data_dir}")
    return bgr


def build_cache(names: list[str], data_dir: Path, source: str = "utkface", size: int = CROP_SIZE,
                cache_dir: Path = CACHE_DIR) -> dict:
    """Aligned size x size RGB crops of `names`, in that order, from the cached detections. Where no face was
    found the crop uses fixed landmarks: the mean of those found in the source's other photos (every source
    centres its photos on the face, so the mean is a sound stand-in); the count is reported."""
    detections = detect_faces(names, data_dir, source, cache_dir)
    landmarks = [detections[name]["landmarks"] for name in names]
    known = np.array([points for points in landmarks if points is not None], np.float32)
    fallback = known.mean(axis=0) if len(known) else None
    crops = np.zeros((len(names), size, size, 3), np.uint8)
    for i, name in enumerate(tqdm(names, desc=f"{source}: align at {size}", unit="img")):
        points = fallback if landmarks[i] is None else np.array(landmarks[i], np.float32)
        crops[i] = cv2.cvtColor(align_face(_read(data_dir, name), points, size), cv2.COLOR_BGR2RGB)
    crops_path, index_path = cache_paths(source, size, cache_dir)
    crops_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(crops_path, crops)
    faces = np.array([detections[name]["faces"] for name in names])
    index = {"names": names, "detected": (faces > 0).tolist(), "size": size, "colour_order": "RGB",
             "template_id": TEMPLATE_ID, "fallback_landmarks": None if fallback is None else fallback.tolist(),
             "no_face_found": int((faces == 0).sum()), "more_than_one_face": int((faces > 1).sum())}
    index_path.write_text(json.dumps(index))
    return index


def load_cache(source: str = "utkface", size: int = CROP_SIZE, cache_dir: Path = CACHE_DIR) -> tuple[np.ndarray, dict]:
    crops_path, index_path = cache_paths(source, size, cache_dir)
    if not crops_path.exists():
        raise SystemExit(f"no crop cache at {crops_path}: run python -m training.crops --source {source} "
                         f"--size {size} first")
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
    races: np.ndarray  # the source's own race label (UTKFace 0-4, FairFace 0-6; All-Age-Faces has none)
    sources: np.ndarray  # the source of each crop
    age_ranges: np.ndarray  # (N, 2) youngest and oldest years of each label; both the age for an exact age

    def __len__(self) -> int:
        return len(self.names)

    def bgr(self) -> np.ndarray:
        return np.ascontiguousarray(self.crops[..., ::-1])


def split_crops(part: str, sources=SOURCES, limit: int = 0, cache_dir: Path = CACHE_DIR,
                size: int = CROP_SIZE) -> SplitCrops:
    """The crops and labels of split `part` ("train", "val" or "test") of `sources`, one after the other;
    with `limit`, the first `limit` names of each source's split."""
    crops, names, labels, origin = [], [], [], []
    for source in sources:
        cached, index = load_cache(source, size, cache_dir)
        wanted = split_of(source)[part][: limit or None]
        position = {name: i for i, name in enumerate(index["names"])}
        crops.append(cached[np.array([position[n] for n in wanted], dtype=np.int64)])
        names += wanted
        labels += [label_of(source, n) for n in wanted]
        origin += [source] * len(wanted)
    return SplitCrops(np.ascontiguousarray(np.concatenate(crops)), names, np.array([s.age for s in labels]),
                      np.array([s.gender for s in labels]),
                      np.array([s.race for s in labels]), np.array(origin),
                      np.array([s.age_range or (s.age, s.age) for s in labels]).reshape(-1, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=TRAINING_SOURCES, action="append",
                        help="build this source's cache (repeatable; default: every source)")
    parser.add_argument("--size", type=int, action="append",
                        help=f"crop size in pixels (repeatable; default {CROP_SIZE}): a trunk's input size")
    parser.add_argument("--data", type=Path, help="the source's image folder (default: its folder in ../shared)")
    args = parser.parse_args()
    for source in args.source or TRAINING_SOURCES:
        names = sorted(name for part in split_of(source).values() for name in part)
        for size in args.size or [CROP_SIZE]:
            index = build_cache(names, args.data or FOLDERS[source], source, size)
        print(f"{source}: {len(names)} photos; no face found in {index['no_face_found']} "
              f"({100 * index['no_face_found'] / len(names):.2f}%), a fixed crop used there; more than one face in "
              f"{index['more_than_one_face']} ({100 * index['more_than_one_face'] / len(names):.2f}%), the one "
              "nearest the centre kept")


if __name__ == "__main__":
    main()
