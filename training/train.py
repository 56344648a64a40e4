"""Train the networks of both designs on the cached crops of every source, with checkpoints and resume.

    python -m training.train --all --init ../shared/pretrained/mobilefacenet/mobilefacenet.pt
    python -m training.train --design multitask --init ...      # one network

Designs: multitask (one trunk, two heads), and age and gender (the two networks of the single-task
pair). Every network gets the same recipe and the same number of optimizer steps (--max-steps), so
the comparison is fair. Runs go to runs/DESIGN/ (or $AGEGENDER_RUNS/DESIGN/); a checkpoint is written
every few minutes, and running the same command again resumes whatever is unfinished from its
last.pt. Without --init the trunk trains from random weights.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from training.augment import augment
from training.crops import CACHE_DIR, split_crops
from training.onnx_export import training_commit
from agegender.vision.buckets import BucketScheme
from training import recipe
from training.recipe import AGE_GROUPS, MAE_BANDS, age_loss, epoch_order, expected_age, gender_loss, to_tensor
from training.sources import TRAINING_SOURCES
from training.trunks import TRUNKS, build_network
from training.utkface import ROOT

DESIGNS = ("multitask", "age", "gender")
RUNS_DIR = Path(os.environ.get("AGEGENDER_RUNS") or ROOT / "runs")
# The budget every network of both designs is trained with: about 15 epochs of both sources at batch 64
# (with the young faces repeated). The earlier recipe had 3,000, at which validation loss was still
# falling; early stopping ends a run sooner if it stops falling.
DEFAULT_STEPS = 6000


@dataclass
class Config:
    design: str
    init: str | None = None
    epochs: int = 100
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 300
    patience: int = 6
    seed: int = 0
    max_minutes: float = 170.0  # wall-clock minutes after which this run pauses; the same command goes on
    limit: int = 0  # use only this many training and validation images per source (smoke runs)
    max_steps: int = DEFAULT_STEPS  # stop after this many optimizer steps (identical training for every design)
    checkpoint_minutes: float = 4.0
    sources: tuple[str, ...] = TRAINING_SOURCES


def build_model(design: str, trunk: str | None = None) -> torch.nn.Module:
    """A network of `design` on `trunk` (default: the recipe's)."""
    return build_network(design, trunk or recipe.TRUNK)


def outputs(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(age_logits, gender_logit), None for what the model does not predict."""
    out = model(x.contiguous(memory_format=torch.channels_last))  # ~30% faster on CPU than NCHW
    if isinstance(out, tuple):
        return out
    return (out, None) if model.task == "age" else (None, out)


def loss_of(age_logits, gender_logit, ages, genders, age_ranges=None) -> torch.Tensor:
    loss = torch.zeros(())
    if age_logits is not None:
        loss = loss + age_loss(age_logits, ages, age_ranges=age_ranges)
    if gender_logit is not None:
        loss = loss + gender_loss(gender_logit, genders)
    return loss


class Data:
    """Crops and labels of one split of one or more sources, held in memory as uint8."""

    def __init__(self, part: str, sources: tuple[str, ...], limit: int = 0, cache_dir: Path = CACHE_DIR,
                 size: int = TRUNKS[recipe.TRUNK].input_size) -> None:
        faces = split_crops(part, sources, limit, cache_dir, size)
        self.crops = faces.crops  # RGB, as the networks are trained
        self.ages = torch.tensor(faces.ages.tolist())
        self.age_ranges = torch.from_numpy(faces.age_ranges.astype(np.int64))
        self.genders = torch.tensor(faces.genders.tolist())
        self.sources = faces.sources

    def __len__(self) -> int:
        return len(self.ages)


def evaluate(model: torch.nn.Module, data: Data, batch: int = 256) -> dict:
    """Loss, MAE (exact ages), age-group accuracy and gender accuracy for each source in the split, and over
    the whole split, whose loss weighs each source by recipe.VALIDATION_WEIGHTS."""
    model.eval()
    age_groups = BucketScheme.parse(AGE_GROUPS)
    losses, errors, right, groups = [], [], [], []
    with torch.no_grad():
        for start in range(0, len(data), batch):
            sl = slice(start, start + batch)
            age_logits, gender_logit = outputs(model, to_tensor(data.crops[sl]))
            ages, genders, ranges = data.ages[sl], data.genders[sl], data.age_ranges[sl]
            loss = torch.zeros(len(ages))
            if age_logits is not None:
                loss += age_loss(age_logits, ages, reduction="none", age_ranges=ranges)
                # as training/metrics.py age_errors: true ages capped at the last age class
                estimate = expected_age(age_logits)
                errors.append((estimate - ages.float().clamp(max=age_logits.shape[1] - 1)).abs())
                # as the app picks a bucket: the one holding the estimate in whole years
                groups.append(torch.from_numpy(age_groups.nearest(np.rint(estimate.numpy())) == age_groups.index(
                    ranges[:, 0].numpy())).float())
            if gender_logit is not None:
                loss += gender_loss(gender_logit, genders, reduction="none")
                right.append(((gender_logit > 0).long() == genders).float())
            losses.append(loss)

    bands = BucketScheme.parse(MAE_BANDS)
    band_of = bands.index(data.ages.numpy())
    exact = (data.age_ranges[:, 0] == data.age_ranges[:, 1]).numpy()

    def summary(mask: np.ndarray) -> dict:
        keep = torch.from_numpy(mask)
        out = {"loss": float(torch.cat(losses)[keep].mean()), "faces": int(mask.sum())}
        if errors:
            out["age_group_acc"] = float(torch.cat(groups)[keep].mean())
        if errors and (mask & exact).any():
            error, keep = torch.cat(errors), torch.from_numpy(mask & exact)
            out["mae"] = float(error[keep].mean())
            out["mae_by_band"] = {label: float(error[keep & torch.from_numpy(band_of == i)].mean())
                                  for i, label in enumerate(bands.labels) if (mask & exact & (band_of == i)).any()}
        if right:
            out["gender_acc"] = float(torch.cat(right)[keep].mean())
        return out

    by_source = {str(source): summary(data.sources == source) for source in np.unique(data.sources)}
    metrics = summary(np.ones(len(data), bool))
    weights = {source: recipe.VALIDATION_WEIGHTS.get(source, 0.0) for source in by_source}
    if sum(weights.values()) > 0:  # the pooled loss where no source has a weight (a run on one source)
        metrics["loss"] = sum(w * by_source[s]["loss"] for s, w in weights.items()) / sum(weights.values())
    metrics["by_source"] = by_source
    return metrics


def learning_rate(cfg: Config, step: int, total_steps: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train(cfg: Config, run_dir: Path, cache_dir: Path = CACHE_DIR) -> dict:
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    train_data = Data("train", cfg.sources, cfg.limit, cache_dir)
    val_data = Data("val", cfg.sources, cfg.limit, cache_dir)

    model = build_model(cfg.design)
    if cfg.init:
        TRUNKS[recipe.TRUNK].load(model, Path(cfg.init))
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = len(epoch_order(train_data.ages.numpy(), np.random.default_rng(0),
                                      train_data.sources)) // cfg.batch
    total_steps = min(steps_per_epoch * cfg.epochs, cfg.max_steps or math.inf)
    state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "minutes": 0.0, "best_val_loss": float("inf"),
             "epochs_without_improvement": 0, "history": [], "train_curve": [], "config": asdict(cfg),
             "recipe": recipe.describe(), "stopped": None,
             "training_commit": training_commit()}

    last = run_dir / "last.pt"
    if last.exists():
        checkpoint = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        state = checkpoint["state"]
        if state.get("recipe", recipe.describe()) != recipe.describe():  # runs from before recipes were kept pass
            raise SystemExit(f"{last} was trained so far with the recipe {state['recipe']}, and the code's is now "
                             f"{recipe.describe()}: going on would mix the two. Finish it with the code it was "
                             f"started with, or move {run_dir} aside to start afresh.")
        if str(state["stopped"]).startswith("time budget"):  # what older runs called a pause: go on
            state["stopped"] = None
        print(f"resuming {cfg.design} at epoch {state['epoch']} step {state['step_in_epoch']} "
              f"({state['minutes']:.1f} min done)")

    def save(path: Path, content: dict | None = None) -> None:
        # written beside and renamed into place: a kill during the save leaves the previous checkpoint intact
        partial = path.with_suffix(".partial")
        torch.save(content or {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "state": state},
                   partial)
        os.replace(partial, path)

    run_started = last_save = time.monotonic()
    paused = False
    running_loss = None  # the training loss, smoothed, for the learning curve
    while state["stopped"] is None:
        epoch = state["epoch"]
        if epoch >= cfg.epochs:
            state["stopped"] = "all epochs done"
            break
        order = epoch_order(train_data.ages.numpy(), np.random.default_rng(cfg.seed * 1000 + epoch), train_data.sources)
        model.train()
        bar = tqdm(range(state["step_in_epoch"], steps_per_epoch), desc=f"{cfg.design} epoch {epoch + 1}/{cfg.epochs}",
                   unit="batch", dynamic_ncols=True)
        for step in bar:
            started = time.monotonic()
            rows = order[step * cfg.batch:(step + 1) * cfg.batch]
            aug_rng = np.random.default_rng([cfg.seed, epoch, step])  # per step: a resumed run draws the same
            batch = np.stack([augment(train_data.crops[r], aug_rng) for r in rows])
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(cfg, state["global_step"], total_steps)
            age_logits, gender_logit = outputs(model, to_tensor(batch))
            loss = loss_of(age_logits, gender_logit, train_data.ages[rows], train_data.genders[rows],
                           train_data.age_ranges[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            state["global_step"] += 1
            state["step_in_epoch"] = step + 1
            state["minutes"] += (time.monotonic() - started) / 60
            bar.set_postfix(loss=f"{loss.item():.3f}", min=f"{state['minutes']:.1f}")
            running_loss = loss.item() if running_loss is None else 0.98 * running_loss + 0.02 * loss.item()
            if state["global_step"] % 20 == 0 or step == steps_per_epoch - 1:
                state["train_curve"].append([state["global_step"], round(running_loss, 4)])
            if time.monotonic() - last_save > cfg.checkpoint_minutes * 60:
                save(last)
                last_save = time.monotonic()
            if (time.monotonic() - run_started) / 60 >= cfg.max_minutes:
                paused = True  # not stopped: the same command goes on from here
                break
            if cfg.max_steps and state["global_step"] >= cfg.max_steps:
                state["stopped"] = f"step budget of {cfg.max_steps} steps reached"
                break
        bar.close()
        if paused:
            save(last)
            print(f"{cfg.design}: paused after {cfg.max_minutes:g} min at step {state['global_step']}; "
                  "run the same command to go on")
            return state
        metrics = evaluate(model, val_data)
        metrics.update(epoch=epoch + 1, minutes=round(state["minutes"], 2), complete=state["stopped"] is None)
        state["history"].append(metrics)
        print(f"validation after epoch {epoch + 1}: " + json.dumps(metrics))
        if metrics["loss"] < state["best_val_loss"]:
            state["best_val_loss"] = metrics["loss"]
            state["epochs_without_improvement"] = 0
            save(run_dir / "best.pt", {"model": model.state_dict(), "design": cfg.design, "metrics": metrics,
                                       "training_commit": state.get("training_commit", "unknown")})
        else:
            state["epochs_without_improvement"] += 1
            if cfg.patience and state["epochs_without_improvement"] >= cfg.patience:
                state["stopped"] = f"early stop: no validation improvement in {cfg.patience} epochs"
        if state["stopped"] is None:
            state["epoch"] += 1
            state["step_in_epoch"] = 0
        save(last)
        last_save = time.monotonic()
    (run_dir / "history.json").write_text(json.dumps(state, indent=1))
    print(f"{cfg.design}: stopped ({state['stopped']}); best validation loss {state['best_val_loss']:.4f}")
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--design", choices=DESIGNS)
    which.add_argument("--all", action="store_true", help="every design in turn, resuming any that is unfinished")
    parser.add_argument("--init", help="the recipe's trunk's pretrained weights (training.trunks: ../shared/"
                                       "pretrained/...); without it the trunk trains from scratch")
    defaults = Config(design="multitask")
    for name in ("epochs", "batch", "patience", "seed", "limit", "max_steps"):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, default=getattr(defaults, name))
    for name in ("lr", "max_minutes"):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=float, default=getattr(defaults, name))
    parser.add_argument("--source", choices=TRAINING_SOURCES, action="append", help="train on this source only "
                        "(repeatable; default: every source)")
    parser.add_argument("--run-dir", type=Path, help="default: runs/DESIGN (one design only)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: all cores)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for design in DESIGNS if args.all else (args.design,):
        cfg = Config(design=design, init=args.init, epochs=args.epochs, batch=args.batch, lr=args.lr,
                     patience=args.patience, seed=args.seed, max_minutes=args.max_minutes, limit=args.limit,
                     max_steps=args.max_steps, sources=tuple(args.source or TRAINING_SOURCES))
        state = train(cfg, args.run_dir if args.run_dir and not args.all else RUNS_DIR / design)
        if state["stopped"] is None:  # paused by the time limit: the next run goes on with this design
            break


if __name__ == "__main__":
    main()
