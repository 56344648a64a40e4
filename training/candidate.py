"""Are newly exported models better than the ones shipped before? Both sets on the same validation crops,
per design and source, each gap with its paired standard error: what decides whether a retraining ships.
The test split stays out of the choice, as everywhere else; `--split test` shows the same for the record,
once the choice is made.

    cp -r models /tmp/shipped && python -m training   # (or copy the files from git) then:
    python -m training.candidate /tmp/shipped [--models models] [--split val] [--json OUT]

For gender accuracy, MAE and the MAE of each age band (training.recipe.MAE_BANDS) it prints before,
after, the gap ± its paired standard error, and "better" or "worse" where the gap is beyond two of them
(else "level"); then 8-bucket accuracy and the sure answers (adults covered / right), which follow from
the calibration. Last, for each design, whether its new files ship by the rule (`ships`).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from agegender.vision.buckets import BucketScheme
from training.evaluate import SOURCE_TITLES, load_designs, predict, split_faces
from training.recipe import MAE_BANDS
from training.report import paired_gap
from training.scoring import evaluate_design
from training.sources import SOURCES
from training.utkface import MAX_AGE, ROOT

BANDS = BucketScheme.parse(MAE_BANDS)


def compare(before: np.ndarray, after: np.ndarray, higher_is_better: bool) -> dict:
    """Per-face scores of the same faces before and after: both means, the gap and its verdict."""
    gap, se = paired_gap(after, before)
    beyond = abs(gap) > 2 * se
    verdict = "level" if not beyond else "better" if (gap > 0) == higher_is_better else "worse"
    return {"before": float(np.mean(before)), "after": float(np.mean(after)), "gap": gap, "se": se,
            "verdict": verdict}


def compare_source(before: dict, after: dict, ages: np.ndarray) -> dict:
    """One design on one source: evaluate_design's results before and after."""
    rows = {"gender accuracy": compare(before["gender_correct"], after["gender_correct"], higher_is_better=True),
            "MAE": compare(np.abs(before["age_errors"]), np.abs(after["age_errors"]), higher_is_better=False)}
    band_of = BANDS.index(np.minimum(ages, MAX_AGE))
    for b, label in enumerate(BANDS.labels):
        faces = band_of == b
        if faces.sum() > 1:
            rows[f"MAE {label}"] = compare(np.abs(before["age_errors"][faces]), np.abs(after["age_errors"][faces]),
                                           higher_is_better=False)
    others = {"8-bucket accuracy": [r["default_buckets"]["accuracy"] for r in (before, after)],
              "sure: adults covered": [r["confident"]["coverage_adults"] for r in (before, after)],
              "sure: adults right": [r["confident"]["accuracy_adults"] for r in (before, after)]}
    return {"faces": len(ages), "paired": rows, "others": others}


# what may block a retraining from shipping; a band may not (six bands, two sources: one of them beyond two
# standard errors by chance is likely), but every band is reported, and the docs say where one got worse
HEADLINE = ("gender accuracy", "MAE")


def ships(by_source: dict) -> dict:
    """The rule for one design (compare_source's result per source): its new files ship where some figure is
    better beyond two paired standard errors and no headline figure of any source is worse. A headline figure
    better is a gain; bands better are one only where they outnumber the bands worse (a recipe that moves
    error from one age band to three others has gained nothing)."""
    def where(verdict: str, headline: bool | None = None) -> list[str]:
        return [f"{source} {name}" for source, result in by_source.items() for name, row in result["paired"].items()
                if row["verdict"] == verdict and (headline is None or (name in HEADLINE) == headline)]
    blocking = where("worse", headline=True)
    bands_gained = len(where("better", headline=False)) > len(where("worse", headline=False))
    gained = bool(where("better", headline=True)) or bands_gained
    return {"ships": gained and not blocking, "better": where("better"), "worse": where("worse"), "blocking": blocking}


def _percent(share: float | None) -> str:
    return "      –" if share is None else f"{100 * share:7.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shipped", type=Path, help="the folder of the models shipped before")
    parser.add_argument("--models", type=Path, default=ROOT / "models", help="the new models (default: models/)")
    parser.add_argument("--json", type=Path, help="also write the comparison here")
    parser.add_argument("--split", choices=("val", "test"), default="val",
                        help="the faces compared on (default: validation; test only once the choice is made)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N faces of each source")
    args = parser.parse_args(argv)
    if args.shipped.resolve() == args.models.resolve():
        parser.error("the shipped models and the new ones are the same folder")
    old, new = load_designs(args.shipped, []), load_designs(args.models, [])
    out: dict = {}
    for source in SOURCES:
        faces = split_faces(source, args.split, args.limit)
        for design in sorted(set(old) & set(new)):
            before = evaluate_design(predict(old[design], faces.crops), faces)
            after = evaluate_design(predict(new[design], faces.crops), faces)
            result = out.setdefault(design, {})[source] = compare_source(before, after, faces.ages)
            print(f"\n{design}, {SOURCE_TITLES[source]} {args.split} ({result['faces']} faces): before → after, gap ± paired SE")
            for name, row in result["paired"].items():
                scale = 100 if name == "gender accuracy" else 1
                print(f"  {name:20} {scale * row['before']:7.2f} → {scale * row['after']:7.2f}   "
                      f"{scale * row['gap']:+.2f} ± {scale * row['se']:.2f}  {row['verdict']}")
            for name, (b, a) in result["others"].items():
                print(f"  {name:20} {_percent(b)} → {_percent(a)}")
    verdicts = {design: ships(by_source) for design, by_source in out.items()}
    print()
    for design, verdict in verdicts.items():
        print(f"{design}: {'ships' if verdict['ships'] else 'does not ship'} by the rule on {args.split} "
              f"(better: {', '.join(verdict['better']) or 'nothing'}; worse: {', '.join(verdict['worse']) or 'nothing'})")
    if args.json:
        args.json.write_text(json.dumps({"split": args.split, "designs": out, "rule": verdicts}, indent=1) + "\n")


if __name__ == "__main__":
    main()
