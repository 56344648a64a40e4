"""What adding a training source did to another source's age errors: two model files side by side on one
source's test crops, by age band and group, with the sources' training mix.

    python -m training.source_effect BEFORE.onnx AFTER.onnx [--source utkface] [--json OUT]

For each age band (training.recipe.MAE_BANDS) and each group of the source: faces, MAE before and after,
and the mean signed error (estimate minus truth) before and after, which tells a shifted label scale
(every estimate moved one way) from a loss of precision (errors wider both ways). Then each source's
share of the training faces per band, as training sees them (faces under 20 repeated, training.recipe).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from agegender.vision.buckets import BucketScheme
from agegender.vision.designs import expected_age, load_network, softmax
from training.crops import split_crops
from training.metrics import age_errors
from training.recipe import MAE_BANDS, epoch_order
from training.sources import SOURCES

BANDS = BucketScheme.parse(MAE_BANDS)
UTKFACE_GROUPS = ("White", "Black", "Asian", "Indian", "Other")


def estimates(model: Path, crops_bgr: np.ndarray) -> tuple[np.ndarray, int]:
    network = load_network(model)
    ages = [expected_age(softmax(network.run(crops_bgr[i:i + 256])["age_logits"]))
            for i in range(0, len(crops_bgr), 256)]
    return np.concatenate(ages), network.info.age_classes


def side_by_side(before: np.ndarray, after: np.ndarray, true_ages: np.ndarray, age_classes: int,
                 groups: dict[str, np.ndarray]) -> dict:
    """Per named group of faces: n, MAE and mean signed error before and after."""
    errors = {"before": age_errors(before, true_ages, age_classes), "after": age_errors(after, true_ages, age_classes)}
    rows = {}
    for name, keep in groups.items():
        if keep.any():
            rows[name] = {"faces": int(keep.sum()),
                          **{f"mae_{when}": round(float(np.abs(e[keep]).mean()), 3) for when, e in errors.items()},
                          **{f"bias_{when}": round(float(e[keep].mean()), 3) for when, e in errors.items()}}
    return rows


def training_mix() -> dict:
    """Each source's share of the faces training shows per age band, in one epoch."""
    train = split_crops("train")
    shown = epoch_order(train.ages, np.random.default_rng(0))
    bands = BANDS.index(train.ages[shown])
    mix = {}
    for b, label in enumerate(BANDS.labels):
        in_band = bands == b
        mix[label] = {"faces_shown": int(in_band.sum()),
                      **{source: round(float((train.sources[shown][in_band] == source).mean()), 3) for source in SOURCES}}
    return mix


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--source", default="utkface", choices=SOURCES)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    test = split_crops("test", sources=(args.source,))
    before, age_classes = estimates(args.before, test.bgr())
    after, _ = estimates(args.after, test.bgr())
    groups = {"all": np.ones(len(test), bool)}
    groups.update({f"age {label}": BANDS.index(test.ages) == b for b, label in enumerate(BANDS.labels)})
    if args.source == "utkface":
        groups.update({name: test.races == r for r, name in enumerate(UTKFACE_GROUPS)})
    result = {"source": args.source, "before": str(args.before), "after": str(args.after),
              "test": side_by_side(before, after, test.ages, age_classes, groups), "training_mix": training_mix()}
    print(f"{args.source} test, {len(test)} faces: MAE and mean signed error (estimate - truth), before -> after")
    for name, row in result["test"].items():
        print(f"  {name:<10} n={row['faces']:>5}  MAE {row['mae_before']:.2f} -> {row['mae_after']:.2f}   "
              f"bias {row['bias_before']:+.2f} -> {row['bias_after']:+.2f}")
    print("training faces shown per epoch, share of each source:")
    for label, row in result["training_mix"].items():
        print(f"  {label:<6} {row['faces_shown']:>6}  " + "  ".join(f"{s} {row[s]:.0%}" for s in SOURCES))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
