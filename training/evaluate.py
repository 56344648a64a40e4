"""Evaluate the shipped designs on the test split of every source and write the report.

    python -m training.evaluate [--models models] [--peer docs/evaluation/peer_predictions.json]
                                [--runs runs] [--note TEXT] [--out docs/evaluation]

Runs the ONNX files the app runs, through agegender.vision.designs, on the cached aligned test crops of each source
(UTKFace and All-Age-Faces), reported separately, and the same test images through the app's whole pipeline
(training/through_app.py); writes OUT/report.md with PNG plots, and OUT/metrics.json (one summary per design
and source on the cached crops, which training.export embeds in the models).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from agegender.vision.buckets import DEFAULT
from agegender.vision.designs import MultiTaskDesign, Predictions, load_design
from agegender.vision.runtime import read_metadata
from training.crops import CROP_SIZE, split_crops
from training.scoring import SplitFaces, concatenated, evaluate_design, summary
from training.sources import SOURCES
from training.utkface import MAX_AGE, ROOT

DEFAULT_OUT = ROOT / "docs" / "evaluation"
SOURCE_TITLES = {"utkface": "UTKFace", "aaf": "All-Age-Faces"}


def split_faces(source: str, part: str = "test", limit: int = 0) -> SplitFaces:
    faces = split_crops(part, (source,), limit)
    groups = faces.races if source == "utkface" else np.zeros(len(faces), int)
    return SplitFaces(source, faces.names, faces.bgr(), faces.ages, faces.genders, groups)


def predict(design, crops: np.ndarray, batch: int = 64) -> Predictions:
    return concatenated([design.predict(crops[i:i + batch]) for i in range(0, len(crops), batch)])


def fastest_ms(run, batch: np.ndarray, repeats: int = 20) -> float:
    """The fastest of `repeats` calls after a warm-up: the least disturbed by other work on the machine."""
    run(batch)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run(batch)
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def milliseconds_per_batch(design, crops: np.ndarray, sizes=(1, 8, 32), repeats: int = 20) -> dict:
    return {str(size): round(fastest_ms(design.predict, crops[:size], repeats), 2) for size in sizes}


def design_size(training_designs: list[str]) -> dict:
    """Parameters and multiply-accumulates per crop, counted on the PyTorch definition."""
    import torch
    from training.train import build_model
    params = macs = 0
    for name in training_designs:
        model = build_model(name).eval()
        params += sum(p.numel() for p in model.parameters())
        counted = []

        def hook(module, inputs, output):
            if isinstance(module, torch.nn.Conv2d):
                counted.append(output.numel() * module.in_channels // module.groups * np.prod(module.kernel_size))
            else:
                counted.append(module.in_features * module.out_features)
        handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
        with torch.no_grad():
            model(torch.zeros(1, 3, CROP_SIZE, CROP_SIZE))
        for handle in handles:
            handle.remove()
        macs += int(sum(counted))
    return {"parameters": int(params), "macs": macs, "flops": 2 * macs}


def peer_predictions(path: Path, names: list[str]) -> tuple[str, Predictions] | None:
    """The peer's point estimates as Predictions: a narrow Gaussian (sigma 2 years, the width of our own
    training targets) around its predicted age, so that an estimate in a gap of a bucket scheme counts
    for the nearest buckets rather than for none. None where the file lacks some of the names."""
    data = json.loads(Path(path).read_text())
    if not all(n in data["predictions"] for n in names):
        return None
    rows = [data["predictions"][n] for n in names]
    estimates = np.array([min(float(r["age"]), MAX_AGE) for r in rows], np.float32)
    grid = np.arange(MAX_AGE + 1, dtype=np.float32)
    distribution = np.exp(-0.5 * ((grid[None] - estimates[:, None]) / 2.0) ** 2)
    distribution /= distribution.sum(axis=1, keepdims=True)
    p_female = np.array([r["p_female"] for r in rows], np.float32)
    return f"peer: {data['package']}", Predictions(distribution, p_female, DEFAULT, ("male", "female"))


def metrics_by_design(results: dict) -> dict:
    """{design: {source: summary}}: metrics.json, one entry per design with every source it was tested on."""
    out: dict = {}
    for source, part in results["sources"].items():
        for design, result in part["designs"].items():
            out.setdefault(design, {})[f"{source} test"] = summary(result)
    return out


def agreement(a: Predictions, b: Predictions) -> dict:
    return {"gender": float((a.is_female == b.is_female).mean()),
            "default_bucket": float((a.bucket_index == b.bucket_index).mean())}


def load_designs(models: Path, variants: list[Path]) -> dict:
    designs = {}
    for name in ("multitask", "single"):
        try:
            designs[name] = load_design(name, models, precision="fp32")  # INT8 copies: training.quantize
        except Exception as exc:  # report what exists; say what does not
            print(f"skipping {name}: {exc}")
    for path in variants:
        designs[path.stem] = MultiTaskDesign(path)
    return designs


def evaluate_source(faces: SplitFaces, designs: dict, peer: Path | None) -> dict:
    results, predictions = {}, {}
    for name, design in designs.items():
        predictions[name] = predict(design, faces.crops)
        results[name] = evaluate_design(predictions[name], faces)
        print(f"{faces.source} {name}: " + json.dumps(summary(results[name])))
    found = peer_predictions(peer, faces.names) if peer else None
    if found:
        name, peer_prediction = found
        results[name] = evaluate_design(peer_prediction, faces, calibrated=False)
        print(f"{faces.source} {name}: " + json.dumps(summary(results[name])))
    part = {"n": len(faces.ages), "designs": results}
    if {"multitask", "single"} <= set(predictions):
        part["agreement"] = agreement(predictions["multitask"], predictions["single"])
    return part


def costs(designs: dict, crops: np.ndarray) -> dict:
    out = {}
    for name, design in designs.items():
        training_designs = ["age", "gender"] if name == "single" else [design.network.info.variant or "multitask"]
        out[name] = {"ms_per_batch": milliseconds_per_batch(design, crops), "size": design_size(training_designs),
                     "training": [read_metadata(n.session).get("training") for n in networks_of(design)]}
    return out


def networks_of(design) -> list:
    return [design.age, design.gender] if hasattr(design, "gender") else [design.network]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--variant", type=Path, action="append", default=[],
                        help="further multi-task ONNX files to report (none by default)")
    parser.add_argument("--source", choices=SOURCES, action="append", help="default: every source")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--limit", type=int, default=0, help="evaluate only the first N test images of each source")
    parser.add_argument("--peer", type=Path, help="the peer package's predictions (training/peer.py); shown for the "
                                                  "sources whose test names it covers")
    parser.add_argument("--runs", type=Path, default=Path(os.environ.get("AGEGENDER_RUNS") or ROOT / "runs"),
                        help="training runs whose learning curves the report plots")
    parser.add_argument("--note", default="", help="a paragraph about the models evaluated, for the report")
    args = parser.parse_args()
    from training.report import write_report

    designs = load_designs(args.models, args.variant)
    results = {"sources": {}}
    for source in args.source or SOURCES:
        faces = split_faces(source, limit=args.limit)
        results["sources"][source] = evaluate_source(faces, designs, args.peer)
        if "costs" not in results:
            results["costs"] = costs(designs, faces.crops)
    if not args.variant:  # the shipped files: also as a user gets them, from the image file on
        from training import through_app
        results["through_app"] = through_app.evaluate(args.models, args.limit, args.source or SOURCES)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(metrics_by_design(results), indent=1) + "\n")
    write_report(results, args.out, runs=args.runs, note=args.note)
    print(f"wrote {args.out / 'report.md'}")


if __name__ == "__main__":
    main()
