"""The shipped designs measured as a user gets them: every test image goes through the app's own pipeline.

    python -m training.through_app [--models models] [--limit N] [--out docs/evaluation/through_app.json]
    python -m training.through_app --source fairface --part val --out docs/evaluation/through_app_fairface_val.json

Each image is read by the app's image reader and run by the Pipeline that `agegender process` runs, with the
app's default settings (detector preset, minimum face, precision "auto", so INT8 classifiers where they
shipped). The labelled face is the one nearest the photo's centre, picked as the crop cache picks it
(training/crops.py). Images in which the detector finds no face count as missed; the metrics of
training.evaluate are taken on the faces found. training.evaluate puts the table in the report.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from agegender.frames import Frame
from agegender.config import Settings
from agegender.sources.capture import read_image
from agegender.assemble import build_pipeline
from agegender.vision.designs import Predictions
from training.crops import CROP_SIZE, central_face
from training.scoring import SplitFaces, concatenated, evaluate_design, summary
from training.sources import FOLDERS, SOURCES, TRAINING_SOURCES, label_of, split_of
from training.utkface import ROOT

DEFAULT_OUT = ROOT / "docs" / "evaluation" / "through_app.json"


def one_face(predictions: Predictions, i: int) -> Predictions:
    return Predictions(predictions.age_distribution[i:i + 1], predictions.p_female[i:i + 1], predictions.scheme,
                       predictions.gender_labels, predictions.gender_rule)


def evaluate_source(source: str, pipeline, limit: int = 0, part: str = "test", details: bool = False) -> dict:
    """{"images", "found", "designs": {design: summary of training.evaluate}} for one source's split `part`;
    with `details`, each design's metrics per race and age group too."""
    names = split_of(source)[part][: limit or None]
    settings = Settings()
    found_names: list[str] = []
    answers: dict[str, list[Predictions]] = {name: [] for name in pipeline.designs}
    for name in tqdm(names, desc=f"{source} through the app", unit="img", mininterval=10):
        image = read_image(Path(FOLDERS[source]) / name, settings.max_image_megapixels)
        result = pipeline.process(Frame(image, 0, 0.0, source=name))
        if not len(result.detections):
            continue
        face = central_face(result.detections.landmarks, result.detections.scores, image.shape)
        found_names.append(name)
        for design, predictions in result.predictions.items():
            answers[design].append(one_face(predictions, face))
    labels = [label_of(source, n) for n in found_names]
    groups = np.array([s.race for s in labels]) if source in ("utkface", "fairface") else np.zeros(len(labels), int)
    ranged = any(s.age_range for s in labels)
    faces = SplitFaces(source, found_names, np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8), np.array([s.age for s in labels]),
                       np.array([s.gender for s in labels]), groups,
                       np.array([s.age_range for s in labels]).reshape(-1, 2) if ranged else None)
    designs = {}
    for design, parts in answers.items():
        if parts:
            result = evaluate_design(concatenated(parts), faces)
            designs[design] = summary(result) | ({"by_group": result["by_group"], "by_age_band": result["by_age_band"]}
                                                 if details else {})
    return {"part": part, "images": len(names), "found": len(found_names), "designs": designs}


def evaluate(models: Path | None = None, limit: int = 0, sources=SOURCES, part: str = "test",
             details: bool = False) -> dict:
    settings = Settings()
    pipeline, _, provider = build_pipeline(settings, models, designs=("multitask", "single"), track=False)
    precision = {name: design.precision for name, design in pipeline.designs.items()}
    out = {"settings": {"detector": settings.detector, "min_face": settings.min_face, "precision": precision,
                        "provider": provider},
           "sources": {source: evaluate_source(source, pipeline, limit, part, details) for source in sources}}
    pipeline.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=None, help="default: the app's models folder")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images of each source's split")
    parser.add_argument("--source", choices=TRAINING_SOURCES, action="append",
                        help=f"default: {', '.join(SOURCES)}")
    parser.add_argument("--part", choices=("test", "val"), default="test")
    parser.add_argument("--details", action="store_true", help="metrics per race and age group as well")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    results = evaluate(args.models, args.limit, args.source or SOURCES, args.part, args.details)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    for source, part in results["sources"].items():
        print(f"{source}: {part['found']} of {part['images']} faces found")
        for design, numbers in part["designs"].items():
            print(f"  {design}: " + json.dumps(numbers))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
