"""Evaluate the shipped designs on the test split and write the report.

    python -m training.evaluate [--models models] [--variant models/variants/multitask_g2a.onnx] [--out docs/evaluation]

Runs the ONNX files the app runs, through app.designs, on the cached aligned test crops; writes
docs/evaluation/report.md with PNG plots, and metrics.json (which training.export embeds in the models).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from app.buckets import ADIENCE, DECADES, DEFAULT
from app.designs import MultiTaskDesign, Predictions, load_design
from training.crops import load_cache
from training.metrics import age_metrics, bucket_metrics, gender_metrics
from training.utkface import MAX_AGE, RACES, ROOT, parse_name, read_split

DEFAULT_OUT = ROOT / "docs" / "evaluation"
AGE_BANDS = DEFAULT


def test_set(limit: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BGR test crops (as the app makes them), ages, genders, races."""
    crops, index = load_cache()
    names = read_split()["test"][: limit or None]
    position = {name: i for i, name in enumerate(index["names"])}
    rows = np.array([position[n] for n in names])
    samples = [parse_name(n) for n in names]
    return (np.ascontiguousarray(crops[rows][..., ::-1]), np.array([s.age for s in samples]),
            np.array([s.gender for s in samples]), np.array([s.race for s in samples]))


def predict(design, crops: np.ndarray, batch: int = 64) -> Predictions:
    parts = [design.predict(crops[i:i + batch]) for i in range(0, len(crops), batch)]
    return Predictions(np.concatenate([p.age_distribution for p in parts]),
                       np.concatenate([p.p_female for p in parts]), parts[0].scheme, parts[0].gender_labels)


def milliseconds_per_batch(design, crops: np.ndarray, sizes=(1, 8, 32), repeats: int = 20) -> dict:
    out = {}
    for size in sizes:
        batch = crops[:size]
        design.predict(batch)
        started = time.perf_counter()
        for _ in range(repeats):
            design.predict(batch)
        out[str(size)] = round((time.perf_counter() - started) * 1000 / repeats, 2)
    return out


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
            model(torch.zeros(1, 3, 112, 112))
        for handle in handles:
            handle.remove()
        macs += int(sum(counted))
    return {"parameters": int(params), "macs": macs, "flops": 2 * macs}


def peer_predictions(path: Path, names: list[str], ages: np.ndarray) -> tuple[str, Predictions]:
    """The peer's point estimates as Predictions: a narrow Gaussian (sigma 2 years, the width of our own
    training targets) around its predicted age, so that an estimate in a gap of a bucket scheme counts
    for the nearest buckets rather than for none."""
    data = json.loads(Path(path).read_text())
    rows = [data["predictions"][n] for n in names]
    estimates = np.array([min(float(r["age"]), MAX_AGE) for r in rows], np.float32)
    grid = np.arange(MAX_AGE + 1, dtype=np.float32)
    distribution = np.exp(-0.5 * ((grid[None] - estimates[:, None]) / 2.0) ** 2)
    distribution /= distribution.sum(axis=1, keepdims=True)
    p_female = np.array([r["p_female"] for r in rows], np.float32)
    return f"peer: {data['package']}", Predictions(distribution, p_female, DEFAULT, ("male", "female"))


def breakdown(values: np.ndarray, groups: np.ndarray, names) -> dict:
    return {str(name): {"n": int((groups == i).sum()), "value": float(values[groups == i].mean())}
            for i, name in enumerate(names) if (groups == i).any()}


def evaluate_design(predictions: Predictions, ages, genders, races) -> dict:
    gender = gender_metrics(genders, predictions.p_female)
    age = age_metrics(ages, predictions.age_distribution)
    correct = ((predictions.p_female > 0.5).astype(int) == genders).astype(float)
    bands = AGE_BANDS.index(np.minimum(ages, MAX_AGE))
    return {"gender": gender, "mae": age["mae"], "age_errors": age["errors"],
            "adience": bucket_metrics(ages, predictions.age_distribution, ADIENCE),
            "decades": bucket_metrics(ages, predictions.age_distribution, DECADES),
            "default_buckets": bucket_metrics(ages, predictions.age_distribution, DEFAULT),
            "by_race": {"gender_accuracy": breakdown(correct, races, RACES),
                        "mae": breakdown(np.abs(age["errors"]), races, RACES)},
            "by_age_band": {"gender_accuracy": breakdown(correct, bands, AGE_BANDS.labels),
                            "mae": breakdown(np.abs(age["errors"]), bands, AGE_BANDS.labels)}}


def summary(result: dict) -> dict:
    """The headline numbers, as embedded in the exported models."""
    return {"split": "utkface test", "gender_accuracy": round(result["gender"]["accuracy"], 4),
            "gender_auc": round(result["gender"]["auc"], 4), "gender_ece": round(result["gender"]["ece"], 4),
            "mae_years": round(result["mae"], 3), "adience8_accuracy": round(result["adience"]["accuracy"], 4),
            "adience8_distance": round(result["adience"]["distance_mean"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--variant", type=Path, action="append", default=[],
                        help="further multi-task ONNX files to report (e.g. the gender-to-age variant)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--limit", type=int, default=0, help="evaluate only the first N test images")
    parser.add_argument("--peer", type=Path, help="the peer package's predictions (training/peer.py)")
    args = parser.parse_args()
    from training.report import write_report

    crops, ages, genders, races = test_set(args.limit)
    designs = {}
    for name in ("multitask", "single"):
        try:
            designs[name] = load_design(name, args.models)
        except Exception as exc:  # report what exists; say what does not
            print(f"skipping {name}: {exc}")
    for path in args.variant:
        designs[path.stem] = MultiTaskDesign(path)
    results, predictions = {}, {}
    for name, design in designs.items():
        predictions[name] = predict(design, crops)
        results[name] = evaluate_design(predictions[name], ages, genders, races)
        results[name]["ms_per_batch"] = milliseconds_per_batch(design, crops)
        results[name]["size"] = design_size(["age", "gender"] if name == "single" else
                                            [design.network.info.variant or "multitask"])
        print(f"{name}: " + json.dumps(summary(results[name])))
    if args.peer:
        name, peer = peer_predictions(args.peer, read_split()["test"][: args.limit or None], ages)
        results[name] = evaluate_design(peer, ages, genders, races)
        print(f"{name}: " + json.dumps(summary(results[name])))
    if "multitask" in predictions and "single" in predictions:
        a, b = predictions["multitask"], predictions["single"]
        results["agreement"] = {
            "gender": float(((a.p_female > 0.5) == (b.p_female > 0.5)).mean()),
            "default_bucket": float((a.bucket_probs.argmax(1) == b.bucket_probs.argmax(1)).mean())}
    args.out.mkdir(parents=True, exist_ok=True)
    metrics = {name: summary(r) for name, r in results.items() if name != "agreement"}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    write_report(results, args.out, n_test=len(ages))
    print(f"wrote {args.out / 'report.md'}")


if __name__ == "__main__":
    main()
