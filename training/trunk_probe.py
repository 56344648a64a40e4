"""Compare trunks, and choose the sources' sampling weights, on frozen features: a first, cheap answer before
any full training run.

    python -m training.trunk_probe [--trunk mobilefacenet@112 --trunk faceres@160] [--fairface-weight 1 --fairface-weight 2]

Each trunk, with its pretrained weights and frozen, turns every cached crop of the training sources into
features once (cached in cache/features_TRUNK_SIZE_SOURCE_PART.npy). On them the recipe's two heads are trained
with the recipe's losses (exact ages, FairFace's age ranges, gender), for each FairFace sampling weight asked
for, and judged on the validation parts of every source: gender accuracy, age-group accuracy, MAE where ages
are exact, and the score that picks the winner, which counts FairFace's validation as much as the other two
sources together (recipe.VALIDATION_WEIGHTS). The result goes to docs/evaluation/trunk_probe.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from training import recipe
from training.crops import CACHE_DIR, split_crops
from training.networks import NUM_AGES, head
from training.recipe import AGE_GROUPS, age_loss, expected_age, gender_loss, to_tensor
from training.sources import TRAINING_SOURCES
from training.trunks import TRUNKS, build_network
from training.utkface import ROOT
from agegender.vision.buckets import BucketScheme

OUT = ROOT / "docs" / "evaluation" / "trunk_probe.json"


def features(trunk: str, size: int, source: str, part: str, cache_dir: Path = CACHE_DIR) -> np.ndarray:
    path = cache_dir / f"features_{trunk}_{size}_{source}_{part}.npy"
    if path.exists():
        return np.load(path)
    network = build_network("multitask", trunk)
    TRUNKS[trunk].load(network, TRUNKS[trunk].pretrained)
    model = network.trunk.eval()
    crops = split_crops(part, (source,), size=size, cache_dir=cache_dir).crops
    out = []
    with torch.no_grad():
        for start in range(0, len(crops), 128):
            batch = to_tensor(crops[start:start + 128]).contiguous(memory_format=torch.channels_last)
            out.append(model(batch).numpy())
    result = np.concatenate(out).astype(np.float32)
    np.save(path, result)
    return result


class Probe(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = torch.nn.LayerNorm(width)  # features of both trunks on one scale
        self.gender_head, self.age_head = head(1, width), head(NUM_AGES, width)

    def forward(self, x):
        x = self.norm(x)
        return self.age_head(x), self.gender_head(x).squeeze(1)


def _labels(part: str, sources, size: int) -> dict:
    faces = split_crops(part, sources, size=size)
    return {"ages": torch.from_numpy(faces.ages.astype(np.int64)), "genders": torch.from_numpy(faces.genders),
            "ranges": torch.from_numpy(faces.age_ranges.astype(np.int64)), "sources": faces.sources}


def judge(probe: Probe, x: torch.Tensor, labels: dict) -> dict:
    groups = BucketScheme.parse(AGE_GROUPS)
    probe.eval()
    with torch.no_grad():
        age_logits, gender_logit = probe(x)
        loss = (age_loss(age_logits, labels["ages"], "none", labels["ranges"]) +
                gender_loss(gender_logit, labels["genders"], "none")).numpy()
        estimate = expected_age(age_logits).numpy()
    exact = (labels["ranges"][:, 0] == labels["ranges"][:, 1]).numpy()
    right_group = groups.nearest(np.rint(estimate)) == groups.index(labels["ranges"][:, 0].numpy())
    right_gender = (gender_logit.numpy() > 0) == labels["genders"].numpy().astype(bool)
    out = {}
    for source in np.unique(labels["sources"]):
        mine = labels["sources"] == source
        one = {"faces": int(mine.sum()), "loss": float(loss[mine].mean()),
               "gender_acc": float(right_gender[mine].mean()), "age_group_acc": float(right_group[mine].mean())}
        if (mine & exact).any():
            one["mae"] = float(np.abs(estimate - labels["ages"].numpy().clip(max=NUM_AGES - 1))[mine & exact].mean())
        out[str(source)] = one
    weights = {s: recipe.VALIDATION_WEIGHTS[s] for s in out}
    score = {key: sum(w * out[s][key] for s, w in weights.items()) / sum(weights.values())
             for key in ("loss", "gender_acc", "age_group_acc")}
    return {"by_source": out, "weighted": score}


def train_probe(train_x: torch.Tensor, train: dict, val_x: torch.Tensor, val: dict, fairface_weight: float,
                epochs: int = 30, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    probe = Probe(train_x.shape[1])
    optimizer = torch.optim.AdamW(probe.parameters(), lr=1e-3, weight_decay=1e-4)
    weights = dict(recipe.SOURCE_WEIGHTS, fairface=fairface_weight)
    rng = np.random.default_rng(seed)
    best = None
    for epoch in range(epochs):
        probe.train()
        order = torch.from_numpy(recipe.epoch_order(train["ages"].numpy(), rng, train["sources"], weights))
        for rows in order.split(256):
            age_logits, gender_logit = probe(train_x[rows])
            loss = (age_loss(age_logits, train["ages"][rows], age_ranges=train["ranges"][rows]) +
                    gender_loss(gender_logit, train["genders"][rows]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        result = judge(probe, val_x, val)
        if best is None or result["weighted"]["loss"] < best["weighted"]["loss"]:
            best = dict(result, epoch=epoch + 1)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trunk", action="append", help="NAME@SIZE (default: mobilefacenet@112, faceres@160)")
    parser.add_argument("--fairface-weight", type=float, action="append", help="default: 1, 2 and 3")
    parser.add_argument("--source", choices=TRAINING_SOURCES, action="append", help="default: every source")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(2)
    sources = tuple(args.source or TRAINING_SOURCES)
    results = {"sources": list(sources), "validation_weights": recipe.VALIDATION_WEIGHTS, "trunks": {}}
    for spec in args.trunk or ["mobilefacenet@112", "faceres@160"]:
        trunk, size = spec.split("@")
        started = time.monotonic()
        data = {part: torch.from_numpy(np.concatenate([features(trunk, int(size), s, part) for s in sources]))
                for part in ("train", "val")}
        labels = {part: _labels(part, sources, int(size)) for part in ("train", "val")}
        runs = {}
        for weight in args.fairface_weight or [1.0, 2.0, 3.0]:
            runs[f"fairface x{weight:g}"] = train_probe(data["train"], labels["train"], data["val"], labels["val"],
                                                       weight, args.epochs)
            print(spec, f"fairface x{weight:g}", json.dumps(runs[f"fairface x{weight:g}"]["weighted"]), flush=True)
        results["trunks"][spec] = {"features": int(data["train"].shape[1]), "runs": runs,
                                   "minutes": round((time.monotonic() - started) / 60, 1)}
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
